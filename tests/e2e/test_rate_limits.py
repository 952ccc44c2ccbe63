"""Rate limits (issue 28, parts 1 and 2): many sessions ending together while Descope allows only a few stops and
logouts a second are all stopped and revoked at about the allowed rate, the calls waiting their turn (on average at
most one 429 per session); a 429 that one serving process meets holds the path in the others too (one source IP, one
limit); an impersonate call Descope puts off is made when Descope asked, the requester and the channel told meanwhile,
and a stop then ends it at once, minting nothing; Slack's rate limit, however long, holds back no stop; many sessions
ending together meet Slack's limits about once per hold, not once each; a 429 from Slack on the approval message
delays it, and it is posted once; a 429 on a click's or a command's own call (a modal,
which cannot wait: its trigger lasts 3 s) is answered with when to try again, in one log line. SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.descope.client import IMPERSONATE_PATIENCE
from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, TENANT, Stack

StackFactory = Callable[..., Stack]
SESSIONS = 16
PER_SECOND = 4
HOLD = 3  # seconds a 429's Retry-After asks for
PUT_OFF = 7  # seconds: longer than the impersonate call waits in its thread


def _approved(s: Stack, plans: list[tuple[str, int]]) -> list[str]:
    """A session for each (login ID prefix, window in seconds), requested and approved one after another, each for a
    user of its own: the ts of each approval message."""
    sessions = []
    for n, (prefix, seconds) in enumerate(plans):
        target = f"{prefix}{n}@acme.com"
        s.descope.add_user(target, tenants=[TENANT])
        request_id, ts = s.submit(f"{target} {seconds}s --tenant {TENANT} the same incident for everyone")
        assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
        sessions.append(ts)
    return sessions


def test_sessions_ending_together_are_all_revoked_at_the_allowed_rate(make_stack: StackFactory) -> None:
    s = make_stack(MAX_PENDING_PER_REQUESTER="100", EXPIRY_WARNING="0", RECONCILE_INTERVAL="0")
    s.descope.rate_limit(STOP_IMPERSONATION, PER_SECOND)
    s.descope.rate_limit(LOGOUT, PER_SECOND)
    sessions = _approved(s, [("user", 8)] * SESSIONS)
    tokens = s.slack.wait_for(lambda: len(s.descope.active_tokens()) >= SESSIONS and s.descope.active_tokens(),
                              timeout=30, message="every session started")
    began = time.monotonic()
    dead = lambda: all(s.descope.is_revoked(t) or s.descope.refresh(t) != 200 for t in tokens)  # noqa: E731
    s.slack.wait_for(lambda: dead() and all("Session ended" in s.approval_text(ts) for ts in sessions),
                     timeout=60, message="every session stopped and its token dead, at Descope's pace")
    took = time.monotonic() - began
    assert len(s.descope.calls_to(STOP_IMPERSONATION)) - s.descope.limited.get(STOP_IMPERSONATION, 0) == SESSIONS
    refused = s.descope.limited.get(STOP_IMPERSONATION, 0) + s.descope.limited.get(LOGOUT, 0)
    assert refused <= SESSIONS, refused  # they waited their turn: on average at most one 429 a session
    assert took < 8 + 2 * SESSIONS / PER_SECOND + 10, took  # the windows, then about the allowed rate


def test_a_429_one_serving_process_meets_holds_the_path_in_every_other(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="2", MAX_PENDING_PER_REQUESTER="100", EXPIRY_WARNING="0", RECONCILE_INTERVAL="0")
    s.descope.fail_next(STOP_IMPERSONATION, status=429, retry_after=HOLD)  # the first stop, whichever process makes it
    sessions = _approved(s, [("held", 6 + n % 3) for n in range(9)])  # ending over three seconds, shared out
    s.slack.wait_for(lambda: all("Session ended" in s.approval_text(ts) for ts in sessions), timeout=60,
                     message="every session stopped")
    stops = s.descope.calls_to(STOP_IMPERSONATION)
    refused = next(call.at for call in stops if call.status == 429)
    during = [round(call.at - refused, 2) for call in stops if refused + 0.5 < call.at < refused + HOLD - 0.2]
    after = [call for call in stops if call.at >= refused + HOLD - 0.2]
    assert during == [], f"stops sent while Descope had asked to wait {HOLD} s: {during}"
    assert len(after) >= 2  # sessions that ended meanwhile waited for the hold's end, and then were stopped
    assert len([call for call in stops if call.status == 200]) == len(sessions)


def test_an_impersonate_call_descope_puts_off_is_made_when_asked_and_the_requester_told(
        make_stack: StackFactory) -> None:
    assert PUT_OFF > IMPERSONATE_PATIENCE
    s = make_stack(RECONCILE_INTERVAL="0")
    s.descope.fail_next(IMPERSONATE, status=429, retry_after=PUT_OFF)
    request_id, ts = s.submit()
    assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
    told = s.slack.wait_for(lambda: next((t for t in s.dms() if request_id in t and "rate limit" in t), None),
                            message="the requester told of the wait")
    assert "is approved" in told and "starts at about" in told and f"/impersonate stop {request_id}" in told
    s.slack.wait_for(lambda: any("asked the bot to wait: the session starts at about" in r
                                 for r in _replies(s, ts)), message="the thread told")
    assert s.session_dm(request_id) is None and not s.descope.active_tokens()  # not yet
    s.slack.wait_for(lambda: s.session_dm(request_id), timeout=PUT_OFF + 10, message="the session, once Descope let it")
    (refused, made) = s.descope.calls_to(IMPERSONATE)
    assert refused.status == 429 and made.status == 200
    assert PUT_OFF - 0.5 <= made.at - refused.at <= PUT_OFF * 1.2 + 4, made.at - refused.at  # not sooner than asked
    assert s.show_token(request_id) in s.descope.active_tokens()

    # called off while put off: ended at once (not when the wait is over), nothing minted
    s.descope.fail_next(IMPERSONATE, status=429, retry_after=120)
    other, other_ts = s.submit(f"{s.descope.add_user('kim@acme.com', tenants=[TENANT]).login_id} 10m --tenant "
                               f"{TENANT} another look")
    assert s.click("approval.approve", other, APPROVER, other_ts).status == 200
    s.slack.wait_for(lambda: any(other in t and "rate limit" in t for t in s.dms()), message="told of the wait")
    assert "stop" in s.command(f"stop {other}", user_id=REQUESTER).text.lower()
    s.slack.wait_for(lambda: "called off" in s.approval_text(other_ts), timeout=10, message="called off at once")
    assert len(s.descope.calls_to(IMPERSONATE)) == 3 and s.session_dm(other) is None


def _replies(s: Stack, ts: str) -> list[str]:
    return [s.slack.message_text(ch, t) for (ch, t), m in list(s.slack.messages.items())
            if ch == APPROVAL_CHANNEL and m.get("thread_ts") == ts and t != ts]


def test_slack_rate_limiting_every_post_and_edit_for_long_holds_back_no_stop(make_stack: StackFactory) -> None:
    """Slack answers every post and edit 429 with a Retry-After of 10 s while more sessions end than the bot has
    workers: each is stopped on time all the same (no worker waits out Slack's limit while a stop waits for it), and
    the channel hears of each end once Slack lets it."""
    s = make_stack(WEB_CONCURRENCY="2", MAX_PENDING_PER_REQUESTER="100", EXPIRY_WARNING="0", RECONCILE_INTERVAL="0")
    sessions = []
    for n in range(24):  # more than the workers of both serving processes (8 each)
        target = f"busy{n}@acme.com"
        s.descope.add_user(target, tenants=[TENANT])
        request_id, ts = s.submit(f"{target} 8s --tenant {TENANT} the same incident for everyone")
        assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
        sessions.append(ts)
    s.slack.wait_for(lambda: len(s.descope.active_tokens()) >= len(sessions), timeout=30, message="all started")
    limited = time.time()
    for method in ("chat.update", "chat.postMessage"):
        s.slack.fail_next(method, status=429, retry_after=10, count=100_000)
    s.slack.wait_for(lambda: len([c for c in s.descope.calls_to(STOP_IMPERSONATION) if c.status == 200])
                     >= len(sessions), timeout=60, message="every session stopped")
    late = [round(c.at - limited, 1) for c in s.descope.calls_to(STOP_IMPERSONATION) if c.at > limited + 8 + 3]
    assert late == [], f"stops held back behind Slack's rate limit: {late}"
    for method in ("chat.update", "chat.postMessage"):
        s.slack.fail_next(method, status=429, retry_after=1)  # the last one
    s.slack.wait_for(lambda: all("Session ended" in s.approval_text(ts) for ts in sessions), timeout=60,
                     message="the channel told of every end, once Slack let it")


def test_sessions_ending_together_meet_slacks_limits_about_once_not_once_each(make_stack: StackFactory) -> None:
    """Slack allows a few edits a second in the workspace (a tier) and a post or two a second per channel: the ends
    of many sessions at once are told at about that pace, the callers waiting their turn after a 429 (held in every
    serving process) instead of each meeting the limit again; every stop on time all the same."""
    s = make_stack(MAX_PENDING_PER_REQUESTER="100", EXPIRY_WARNING="0", RECONCILE_INTERVAL="0")
    sessions = _approved(s, [("told", 8)] * SESSIONS)
    s.slack.wait_for(lambda: all("active until" in s.approval_text(ts) for ts in sessions), timeout=30,
                     message="every session started")
    s.slack.rate_limit("chat.update", 4)
    s.slack.rate_limit("chat.postMessage", 2, per_channel=True)
    s.slack.wait_for(lambda: all("Session ended" in s.approval_text(ts) for ts in sessions), timeout=60,
                     message="the channel told of every end, at Slack's pace")
    assert len(s.descope.calls_to(STOP_IMPERSONATION)) == SESSIONS
    refused = sum(s.slack.limited.values())
    assert refused <= SESSIONS, s.slack.limited  # they waited their turn: about once per hold (41 when each met it)


def test_a_slack_429_delays_the_approval_message_which_is_posted_once(make_stack: StackFactory) -> None:
    s = make_stack(RECONCILE_INTERVAL="0")
    s.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    request_id, _ = s.submit()  # waits for the approval message: posted after Slack's Retry-After
    posted = [m for (ch, _), m in list(s.slack.messages.items()) if ch == APPROVAL_CHANNEL and not m.get("thread_ts")
              and request_id in str(m)]
    assert len(posted) == 1
    tries = [c for c in s.slack.calls_of("chat.postMessage") if c.params.get("channel") == APPROVAL_CHANNEL
             and not c.params.get("thread_ts")]
    assert len(tries) == 2 and tries[1].at - tries[0].at >= 0.9  # refused once, then Slack's wait honoured



def test_a_modal_slack_rate_limits_is_answered_with_when_to_try_again(make_stack: StackFactory) -> None:
    s = make_stack(RECONCILE_INTERVAL="0")
    request_id, ts = s.submit()
    assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    s.slack.fail_next("views.open", status=429, retry_after=2)
    assert s.show_token(request_id) is None  # Slack refused the modal: no token shown anywhere
    assert "try again in 2 s" in s.ephemeral_after_click()
    asked = len(s.slack.calls_of("views.open"))
    assert s.show_token(request_id) is None  # clicked again at once: told to wait, without asking Slack
    assert "try again in" in s.ephemeral_after_click() and len(s.slack.calls_of("views.open")) == asked
    time.sleep(2)  # what Slack asked for
    assert s.show_token(request_id) in s.descope.active_tokens()  # and once Slack lets it, the modal opens
    log = s.bot.log()
    assert "Slack could not take the bot's call while showing" in log  # one line, said as what it is
    assert "Traceback" not in log and "unexpected error" not in log

    s.bot.stop()  # it paces views.open for a while after that 429: a fresh bot for the form
    s = make_stack(RECONCILE_INTERVAL="0")
    s.slack.fail_next("views.open", status=429, retry_after=30)
    s.command("")  # the form
    said = s.slack.wait_for_call("response_url", where=lambda c: c.params.get("key") == f"cmd-{REQUESTER}")
    assert "try again in 30 s" in str(said.params.get("text")), said.params  # not the usage
    assert "Traceback" not in s.bot.log()
