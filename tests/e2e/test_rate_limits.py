"""Rate limits (issue 28, parts 1 and 2): many sessions ending together while Descope allows only a few stops and
logouts a second are all stopped and revoked at about the allowed rate, the calls waiting their turn (on average at
most one 429 per session); a 429 that one serving process meets holds the path in the others too (one source IP, one
limit); impersonate calls Descope puts off are made when Descope asked, one at a time, the requesters and the channel
told meanwhile, and a stop then ends one at once, minting nothing; Slack's rate limit, however long, holds back no
stop; many sessions ending together meet Slack's limits about once per hold, not once each; a 429 from Slack on the
approval message delays it, and it is posted once; a 429 on a click's or a command's own call (a modal, which cannot
wait: its trigger lasts 3 s) is answered with when to try again, in one log line; a reply to a click Slack puts off
comes when Slack asked, and one Slack may have taken is not sent again. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from bot.descope.client import IMPERSONATE_PATIENCE
from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, TENANT, Stack
from bot.workflows.sessions import TOLD_AFTER

StackFactory = Callable[..., Stack]
SESSIONS = 16
PER_SECOND = 4
HOLD = 3  # seconds a 429's Retry-After asks for
PUT_OFF = 15  # seconds: longer than the impersonate call waits in its thread, long enough to be told


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


def test_approvals_descope_puts_off_are_made_when_asked_one_at_a_time_and_the_requesters_told(
        make_stack: StackFactory) -> None:
    """Three approvals meet Descope's rate limit one after another: the first call is refused, the two after it are not
    even sent. Each is put off to a turn of its own (booked at the gate, held in no thread), told, and made once, at
    Descope's time and one after another at the pace allowed, not all at the same instant."""
    assert IMPERSONATE_PATIENCE < TOLD_AFTER.total_seconds() <= PUT_OFF
    s = make_stack(RECONCILE_INTERVAL="0", MAX_PENDING_PER_REQUESTER="10")
    waiting = []
    for n in range(3):
        target = s.descope.add_user(f"queued{n}@acme.com", tenants=[TENANT]).login_id
        waiting.append(s.submit(f"{target} 10m --tenant {TENANT} the same incident"))
    s.descope.fail_next(IMPERSONATE, status=429, retry_after=PUT_OFF)
    for request_id, ts in waiting:  # each once the one before it is put off (its call refused, or held unsent)
        assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
        told = s.slack.wait_for(lambda r=request_id: next((t for t in s.dms() if r in t and "rate limit" in t), None),
                                message="the requester told of the wait")
        assert "is approved" in told and "starts at about" in told and f"/impersonate stop {request_id}" in told
    for _, ts in waiting:
        s.slack.wait_for(lambda t=ts: any("asked the bot to wait: the session starts at about" in r
                                          for r in _replies(s, t)), message="the thread told")
    assert not any(s.session_dm(r) for r, _ in waiting) and not s.descope.active_tokens()  # not yet
    for request_id, _ in waiting:
        s.slack.wait_for(lambda r=request_id: s.session_dm(r), timeout=PUT_OFF + 10,
                         message="the session, once Descope let it")
    (refused, *made) = s.descope.calls_to(IMPERSONATE)
    assert refused.status == 429 and [call.status for call in made] == [200] * 3  # each made once
    assert PUT_OFF - 0.5 <= made[0].at - refused.at <= PUT_OFF + 4, made[0].at - refused.at  # not sooner than asked
    apart = [round(later.at - earlier.at, 2) for earlier, later in itertools.pairwise(made)]
    assert all(gap >= 0.5 for gap in apart), apart  # one at a time, at the pace allowed
    request_id = waiting[0][0]
    assert s.show_token(request_id) in s.descope.active_tokens()

    # called off while put off: ended at once (not when the wait is over), nothing minted
    s.descope.fail_next(IMPERSONATE, status=429, retry_after=120)
    other, other_ts = s.submit(f"{s.descope.add_user('kim@acme.com', tenants=[TENANT]).login_id} 10m --tenant "
                               f"{TENANT} another look")
    assert s.click("approval.approve", other, APPROVER, other_ts).status == 200
    s.slack.wait_for(lambda: any(other in t and "rate limit" in t for t in s.dms()), message="told of the wait")
    assert "stop" in s.command(f"stop {other}", user_id=REQUESTER).text.lower()
    s.slack.wait_for(lambda: "called off" in s.approval_text(other_ts), timeout=10, message="called off at once")
    assert len(s.descope.calls_to(IMPERSONATE)) == 5 and s.session_dm(other) is None


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


def test_a_reply_slack_puts_off_comes_when_asked_and_one_it_may_have_taken_is_not_sent_again(
        make_stack: StackFactory) -> None:
    s = make_stack(RECONCILE_INTERVAL="0")
    request_id, ts = s.submit()

    def replies_to(key: str) -> list[tuple[float, str]]:
        return [(c.at, str(c.params.get("text"))) for c in s.slack.calls_of("response_url")
                if c.params.get("key") == key]

    def refused_own(key: str, tries: int, within: float) -> list[tuple[float, str]]:
        return s.slack.wait_for(lambda: len(replies_to(key)) >= tries and replies_to(key), timeout=within,
                                message=f"{tries} tries of the reply")

    own = "You cannot approve or deny your own request"
    s.slack.fail_next("response_url", status=429, retry_after=1)  # waited out in the worker
    assert s.click("approval.approve", request_id, REQUESTER, ts).status == 200
    (first, _), (second, text) = refused_own(s.last_click_key, 2, 10)
    assert second - first >= 1 and own in text

    s.slack.fail_next("response_url", status=429, retry_after=3)  # too long for a worker: a timer of its own
    assert s.click("approval.approve", request_id, REQUESTER, ts).status == 200
    (first, _), (second, text) = refused_own(s.last_click_key, 2, 15)
    assert second - first >= 3 and own in text

    s.slack.fail_next("response_url", status=503, retry_after=None)  # Slack took nothing: tried again
    assert s.click("approval.approve", request_id, REQUESTER, ts).status == 200
    assert own in refused_own(s.last_click_key, 2, 10)[1][1]

    s.slack.fail_next("response_url", status=500, retry_after=None)  # Slack may have posted it: not sent again
    assert s.click("approval.approve", request_id, REQUESTER, ts).status == 200
    s.slack.wait_for(lambda: f"could not reply to {REQUESTER}: Slack answered 500" in s.bot.log(), timeout=10,
                     message="the reply not given, said")
    assert len(replies_to(s.last_click_key)) == 1
    time.sleep(1)  # no second try comes later either
    assert len(replies_to(s.last_click_key)) == 1
    assert "Traceback" not in s.bot.log()
    assert "pending" in s.approval_text(ts)  # and none of the clicks approved anything
