"""Rate limits (issue 28, parts 1 and 2): many sessions ending together while Descope allows only a few stops and
logouts a second are all stopped and revoked at about the allowed rate, the calls waiting their turn (on average at
most one 429 per session); a 429 that one serving process meets holds the path in the others too (one source IP, one
limit); Slack's rate limit, however long, holds back no stop; a 429 from Slack on the approval message delays it, and
it is posted once. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.devtools.descope_api import LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, TENANT, Stack

StackFactory = Callable[..., Stack]
SESSIONS = 16
PER_SECOND = 4
HOLD = 3  # seconds a 429's Retry-After asks for


def test_sessions_ending_together_are_all_revoked_at_the_allowed_rate(make_stack: StackFactory) -> None:
    s = make_stack(MAX_PENDING_PER_REQUESTER="100", EXPIRY_WARNING="0", RECONCILE_INTERVAL="0")
    s.descope.rate_limit(STOP_IMPERSONATION, PER_SECOND)
    s.descope.rate_limit(LOGOUT, PER_SECOND)
    sessions = []  # the ts of each approval message
    for n in range(SESSIONS):
        target = f"user{n}@acme.com"
        s.descope.add_user(target, tenants=[TENANT])
        request_id, ts = s.submit(f"{target} 8s --tenant {TENANT} the same incident for everyone")
        assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
        sessions.append(ts)
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
    sessions = []
    for n in range(9):  # ending over three seconds, shared out between the two processes
        target = f"held{n}@acme.com"
        s.descope.add_user(target, tenants=[TENANT])
        request_id, ts = s.submit(f"{target} {6 + n % 3}s --tenant {TENANT} the same incident for everyone")
        assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
        sessions.append(ts)
    s.slack.wait_for(lambda: all("Session ended" in s.approval_text(ts) for ts in sessions), timeout=60,
                     message="every session stopped")
    stops = s.descope.calls_to(STOP_IMPERSONATION)
    refused = next(call.at for call in stops if call.status == 429)
    during = [round(call.at - refused, 2) for call in stops if refused + 0.5 < call.at < refused + HOLD - 0.2]
    after = [call for call in stops if call.at >= refused + HOLD - 0.2]
    assert during == [], f"stops sent while Descope had asked to wait {HOLD} s: {during}"
    assert len(after) >= 2  # sessions that ended meanwhile waited for the hold's end, and then were stopped
    assert len([call for call in stops if call.status == 200]) == len(sessions)


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

