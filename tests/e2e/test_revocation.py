"""Revocation that revokes: every path that ends a session stops it *and* revokes its token at Descope
(``POST /v1/auth/logout`` with the token), so a refresh with the token afterwards is refused.

The fake Descope behaves as documented: stop-impersonation revokes nothing (the token still refreshes after
it); only logout or the token's own expiry ends it. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.devtools.descope_api import LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, TARGET, TENANT, Stack
from bot.store import Store, make_engine

StackFactory = Callable[..., Stack]
CLIENT_TRIES = 4  # DescopeClient's attempts per call


def _active(s: Stack, text: str) -> tuple[str, str, str]:
    request_id, ts = s.submit(text)
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    token = s.descope.minted[-1]
    assert s.descope.refresh(token) == 200
    return request_id, ts, token


def _thread(s: Stack, ts: str) -> list[str]:
    return [s.slack.message_text(ch, t) for (ch, t), m in list(s.slack.messages.items())
            if ch == APPROVAL_CHANNEL and m.get("thread_ts") == ts and t != ts]


def _sealed(database_url: str, request_id: str) -> str | None:
    engine = make_engine(database_url)
    try:
        row = Store(engine).get_row(request_id)
        assert row is not None
        return row.token_sealed
    finally:
        engine.dispose()


def test_stop_does_not_revoke_but_the_bot_does(stack: Stack) -> None:
    """The fake is honest: a stop call alone leaves the token refreshable; the bot's logout ends it."""
    request_id, ts, token = _active(stack, f"{TARGET} 30m --tenant {TENANT} early stop")
    assert "Stopping session" in stack.command(f"stop {request_id}").text
    stack.slack.wait_for(lambda: "stopped early" in stack.approval_text(ts), message="stopped")
    stop, logout = stack.descope.calls_to(STOP_IMPERSONATION), stack.descope.calls_to(LOGOUT)
    assert len(stop) == 1 and len(logout) == 1 and stop[0].at <= logout[0].at
    assert logout[0].headers["authorization"] == f"Bearer {stack.descope.project_id}:{token}"
    assert logout[0].body == {}
    assert stack.descope.is_stopped(token) and stack.descope.is_revoked(token)
    assert stack.descope.refresh(token) == 401


def test_window_end_revokes(make_stack: StackFactory) -> None:
    """At the window's end the token also reaches its own ``exp`` (``refreshDuration`` is the window), so the
    refresh fails either way; what this proves is that the bot still revokes it (a clock skew between the bot
    and Descope must not leave it alive)."""
    s = make_stack()
    _, ts, token = _active(s, f"{TARGET} 3s --tenant {TENANT} short window")
    s.slack.wait_for(lambda: "window ended" in s.approval_text(ts), timeout=15, message="ended")
    [logout] = s.descope.calls_to(LOGOUT)
    assert logout.headers["authorization"] == f"Bearer {s.descope.project_id}:{token}"
    assert s.descope.refresh(token) == 401


def test_an_undeliverable_session_dm_stops_and_revokes(make_stack: StackFactory) -> None:
    s = make_stack()
    request_id, ts = s.submit(f"{TARGET} 30m --tenant {TENANT} DM refused")
    s.slack.fail_next("conversations.open", status=200, error="user_disabled")  # Slack refuses the session DM
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "stopped early by the bot" in s.approval_text(ts), timeout=15, message="stopped")
    token = s.descope.minted[0]
    assert s.descope.is_revoked(token) and s.descope.refresh(token) == 401


def test_a_failing_logout_is_retried_announced_and_keeps_the_token_until_done(
        make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    request_id, ts, token = _active(s, f"{TARGET} 30m --tenant {TENANT} logout fails")
    s.descope.fail_next(LOGOUT, status=503, count=3 * CLIENT_TRIES)
    s.command(f"stop {request_id}")
    s.slack.wait_for(lambda: any("logout call keeps failing" in t for t in _thread(s, ts)), timeout=20,
                     message="the approvals channel is told")
    alert = next(t for t in _thread(s, ts) if "logout call keeps failing" in t)
    assert "after 3 attempts" in alert and "503" in alert and "may still work" in alert
    if not s.descope.is_revoked(token):  # still failing: the sealed token is kept, the session not closed
        assert _sealed(database_url, request_id) is not None
    s.slack.wait_for(lambda: "stopped early" in s.approval_text(ts), timeout=20, message="stopped")
    assert len(s.descope.calls_to(STOP_IMPERSONATION)) == 1  # done once; only the logout was retried
    assert [c.status for c in s.descope.calls_to(LOGOUT)] == [503] * 3 * CLIENT_TRIES + [200]
    assert s.descope.refresh(token) == 401
    assert _sealed(database_url, request_id) is None


def test_a_token_already_revoked_counts_as_done(stack: Stack) -> None:
    request_id, ts, token = _active(stack, f"{TARGET} 30m --tenant {TENANT} revoked elsewhere")
    stack.descope.revoke(token)  # e.g. the customer's own security team logged it out
    stack.command(f"stop {request_id}")
    stack.slack.wait_for(lambda: "stopped early" in stack.approval_text(ts), message="stopped")
    assert [c.status for c in stack.descope.calls_to(LOGOUT)] == [401]
    stack.slack.wait_for(lambda: any("already expired or been revoked" in t for t in _thread(stack, ts)),
                         message="the thread says so")
