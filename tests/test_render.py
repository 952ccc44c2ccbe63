"""``bot.slack.render``: Block Kit for every message. Built from ``RequestView`` objects directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain import RequestView, State
from bot.slack import render
from bot.slack.render import (
    APPROVE,
    DENY,
    Message,
    approval_request,
    escape,
    listing,
    outcome_dm,
    redacted_dm,
    status_line,
    token_dm,
    when,
)
from bot.store import AuditEntry

T0 = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2lnbmF0dXJlLXNlY3JldA"

HOSTILE_REASON = "<!channel> *bold* <https://evil|click>"
HOSTILE_LOGIN = "<!channel>jane@acme.com"
HOSTILE_TENANT = "<https://evil|acme-eu>"
HOSTILE_FAILURE = "<!here> Descope said <https://evil|no>"
FORBIDDEN = ["<!channel>", "<!here>", "<https://evil"]


def view(state: State = State.PENDING, **changes: Any) -> RequestView:
    fields: dict[str, Any] = {
        "id": "K7M2QX9A",
        "requester_id": "UREQ",
        "login_id": "jane@acme.com",
        "tenant": "acme-eu",
        "duration": timedelta(minutes=30),
        "reason": "checking invoice SUP-123",
        "state": state,
        "created_at": T0,
        "pending_until": T0 + timedelta(minutes=30),
    }
    if state is not State.PENDING and state is not State.EXPIRED:
        fields["decided_by"] = "UBO"
        fields["decided_at"] = T0 + timedelta(minutes=1)
    if state in (State.ACTIVE, State.STOPPED):
        fields["started_at"] = T0 + timedelta(minutes=2)
        fields["ends_at"] = T0 + timedelta(minutes=32)
    if state is State.STOPPED:
        fields["stopped_at"] = T0 + timedelta(minutes=32)
        fields["stopped_by"] = "system"
    if state is State.FAILED:
        fields["failure"] = "Descope refused: user not found"
    fields.update(changes)
    return RequestView(**fields)


def hostile(state: State) -> RequestView:
    return view(state, login_id=HOSTILE_LOGIN, tenant=HOSTILE_TENANT, reason=HOSTILE_REASON,
                failure=HOSTILE_FAILURE if state is State.FAILED else None)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def mrkdwn_texts(message: Message) -> list[str]:
    return [el["text"] for el in walk(message.blocks) if el.get("type") == "mrkdwn"]


def all_texts(message: Message) -> list[str]:
    return [el["text"] for el in walk(message.blocks) if isinstance(el.get("text"), str)] + [message.text]


def buttons(message: Message) -> list[dict[str, Any]]:
    return [el for el in walk(message.blocks) if el.get("type") == "button"]


# --- approval request ----------------------------------------------------------------------------------


def test_pending_request_has_approve_and_deny_buttons_carrying_only_the_id() -> None:
    message = approval_request(view())
    found = buttons(message)
    assert [b["action_id"] for b in found] == [APPROVE, DENY]
    assert all(b["value"] == "K7M2QX9A" for b in found)
    approve, deny = found
    assert approve["style"] == "primary" and deny["style"] == "danger"
    assert "confirm" not in deny
    confirm = approve["confirm"]
    assert {"title", "text", "confirm", "deny"} <= set(confirm)
    assert all(confirm[k]["type"] == "plain_text" for k in ("title", "text", "confirm", "deny"))
    assert "jane@acme.com" in confirm["text"]["text"]
    assert "30m" in confirm["text"]["text"]
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert len(actions) == 1
    assert "K7M2QX9A" in actions[0]["block_id"]


def test_pending_request_shows_the_request() -> None:
    message = approval_request(view())
    text = "\n".join(all_texts(message))
    for needle in ("K7M2QX9A", "<@UREQ>", "jane@acme.com", "acme-eu", "30m", "checking invoice SUP-123"):
        assert needle in text
    assert "<@UREQ>" in message.text
    assert "jane@acme.com" in message.text


def test_request_without_tenant() -> None:
    message = approval_request(view(tenant=None))
    assert "(none)" in "\n".join(all_texts(message))
    assert "tenant" not in message.text


@pytest.mark.parametrize("state", [s for s in State if s is not State.PENDING])
def test_no_buttons_once_decided(state: State) -> None:
    message = approval_request(view(state))
    assert buttons(message) == []
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert status_line(view(state)) in mrkdwn_texts(message)


def test_confirm_text_stays_within_slacks_limit_for_the_longest_login_id() -> None:
    approve = buttons(approval_request(view(login_id="a" * 256, duration=timedelta(hours=3, minutes=59))))[0]
    assert len(approve["confirm"]["text"]["text"]) <= 300
    assert len(approve["confirm"]["title"]["text"]) <= 100


@pytest.mark.parametrize("state", list(State))
def test_user_text_never_reaches_mrkdwn_unescaped(state: State) -> None:
    request = hostile(state)
    messages = [approval_request(request), redacted_dm(request), render.token_coming(request)]
    if request.ends_at is not None:
        messages.append(token_dm(request, TOKEN))
    outcome = outcome_dm(request)
    if outcome is not None:
        messages.append(outcome)
    texts = [status_line(request), listing([request], [request]), render.submitted(request),
             render.stopping(request)]
    for message in messages:
        assert mrkdwn_texts(message), "every message has some mrkdwn"
        texts += mrkdwn_texts(message)
        texts.append(message.text)  # the fallback is shown as mrkdwn in notifications
    for text in texts:
        for bad in FORBIDDEN:
            assert bad not in text, (bad, text)


def test_hostile_text_is_kept_verbatim_in_plain_text() -> None:
    message = approval_request(hostile(State.PENDING))
    plains = [el["text"] for el in walk(message.blocks) if el.get("type") == "plain_text"]
    assert any(HOSTILE_REASON in t for t in plains)
    assert any(HOSTILE_LOGIN in t for t in plains)
    assert "&lt;!channel&gt;jane@acme.com" in message.text


def test_escape() -> None:
    assert escape("a & <b> <!channel>") == "a &amp; &lt;b&gt; &lt;!channel&gt;"
    assert escape("plain") == "plain"


def test_when_renders_a_localised_date_with_utc_fallback() -> None:
    moment = datetime(2024, 5, 1, 14, 32, tzinfo=UTC)
    assert when(moment) == f"<!date^{int(moment.timestamp())}^{{time}}|14:32 UTC>"


# --- DMs ----------------------------------------------------------------------------------------------


def test_token_dm_fallback_text_has_no_token_but_blocks_do() -> None:
    message = token_dm(view(State.ACTIVE), TOKEN)
    assert TOKEN not in message.text
    assert "14:32 UTC" in message.text
    assert any(TOKEN in t for t in mrkdwn_texts(message))
    assert "/impersonate stop K7M2QX9A" in "\n".join(mrkdwn_texts(message))


def test_redacted_dm_has_no_token() -> None:
    message = redacted_dm(view(State.STOPPED))
    assert TOKEN not in repr(message)
    assert "eyJ" not in repr(message)
    assert "K7M2QX9A" in message.text


def test_outcome_dm_stopped_by_window() -> None:
    message = outcome_dm(view(State.STOPPED))
    assert message is not None
    assert "window ended" in message.text
    assert mrkdwn_texts(message) == [message.text]


def test_outcome_dm_stopped_early_by_someone() -> None:
    message = outcome_dm(view(State.STOPPED, stopped_by="UBO"))
    assert message is not None
    assert "stopped early by <@UBO>" in message.text


def test_outcome_dm_stopped_early_by_the_bot() -> None:
    request = view(State.STOPPED, stop_requested_at=T0 + timedelta(minutes=10))
    message = outcome_dm(request)
    assert message is not None
    assert "stopped early by the bot" in message.text


def test_outcome_dm_denied() -> None:
    message = outcome_dm(view(State.DENIED))
    assert message is not None
    assert "<@UBO> denied" in message.text


def test_outcome_dm_withdrawn_says_nothing() -> None:
    assert outcome_dm(view(State.DENIED, decided_by="UREQ")) is None


def test_outcome_dm_expired() -> None:
    message = outcome_dm(view(State.EXPIRED))
    assert message is not None
    assert "expired" in message.text


def test_outcome_dm_failed() -> None:
    message = outcome_dm(view(State.FAILED))
    assert message is not None
    assert "Descope refused: user not found" in message.text


@pytest.mark.parametrize("state", [State.PENDING, State.APPROVED, State.ACTIVE])
def test_no_outcome_dm_before_a_final_state(state: State) -> None:
    assert outcome_dm(view(state)) is None


# --- status line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "changes", "needles"),
    [
        (State.PENDING, {}, ["Waiting for a second admin", "14:30 UTC"]),
        (State.APPROVED, {}, ["Approved by <@UBO>", "starting the session"]),
        (State.ACTIVE, {}, ["Approved by <@UBO>", "active until", "14:32 UTC"]),
        (State.ACTIVE, {"stop_requested_at": T0 + timedelta(minutes=5)}, ["stopping the session"]),
        (State.STOPPED, {}, ["Approved by <@UBO>", "Session ended", "window ended"]),
        (State.STOPPED, {"stopped_by": "UREQ"}, ["stopped early by <@UREQ>"]),
        (State.STOPPED, {"stopped_at": None}, ["Session ended now"]),
        (State.DENIED, {}, ["Denied by <@UBO>"]),
        (State.DENIED, {"decided_by": "UREQ"}, ["Withdrawn by the requester"]),
        (State.EXPIRED, {}, ["Expired", "nobody answered"]),
        (State.FAILED, {}, ["Approved by <@UBO>", "failed", "Descope refused: user not found"]),
        (State.FAILED, {"failure": None}, ["unknown error"]),
        (State.APPROVED, {"decided_by": None}, ["Approved by someone"]),
    ],
)
def test_status_line(state: State, changes: dict[str, Any], needles: list[str]) -> None:
    line = status_line(view(state, **changes))
    for needle in needles:
        assert needle in line


def test_status_line_for_every_state_is_distinct() -> None:
    lines = {status_line(view(s)) for s in State}
    assert len(lines) == len(State)


# --- listing, thread lines -----------------------------------------------------------------------------


def test_listing_empty_for_a_requester() -> None:
    text = listing([], None)
    assert "You have no requests." in text
    assert "Active sessions" not in text


def test_listing_empty_for_an_approver() -> None:
    text = listing([], [])
    assert "You have no requests." in text
    assert "Active sessions" in text
    assert text.endswith("None.")


def test_listing_rows() -> None:
    mine = [view(State.PENDING, id="AAAA1111"), view(State.ACTIVE, id="BBBB2222")]
    active = [view(State.ACTIVE, id="BBBB2222"), view(State.ACTIVE, id="CCCC3333", requester_id="UOTHER")]
    text = listing(mine, active)
    mine_part, active_part = text.split("*Active sessions (all requesters)*")
    assert "`AAAA1111`" in mine_part and "*pending*" in mine_part
    assert "`BBBB2222`" in mine_part and "until" in mine_part
    assert "`CCCC3333`" in active_part and "<@UOTHER>" in active_part
    assert "`AAAA1111`" not in active_part
    assert "`jane@acme.com` (tenant `acme-eu`), 30m" in text


def test_thread_line_escapes_detail() -> None:
    entry = AuditEntry(id=1, request_id="K7M2QX9A", at=T0, actor="UBO", action="failed", from_state="approved",
                       to_state="failed", detail="<!channel> boom")
    message = render.thread_line(entry)
    assert "<!channel>" not in message.text
    assert "&lt;!channel&gt; boom" in message.text
    assert render.thread_line(
        AuditEntry(id=2, request_id="K7M2QX9A", at=T0, actor="UBO", action="approved", from_state="pending",
                   to_state="approved", detail=None)
    ).text.endswith("approved by <@UBO>")


def test_failure_and_detail_text_cannot_format_or_link() -> None:
    """Failure text quotes what the requester typed: shown literally (a code span), never as formatting."""
    typed = "*bold* _it_ ~gone~ <https://evil|click>"
    failed = view(State.FAILED, failure=f"Descope refused: no user {typed}")
    status = render.status_line(failed)
    assert "`Descope refused: no user *bold* _it_ ~gone~ &lt;https://evil|click&gt;`" in status
    outcome = render.outcome_dm(failed)
    assert outcome is not None and "&lt;https://evil|click&gt;`" in outcome.text
    entry = AuditEntry(id=3, request_id="K7M2QX9A", at=T0, actor="system", action="failed", from_state="approved",
                       to_state="failed", detail=typed)
    assert "(`*bold* _it_ ~gone~ &lt;https://evil|click&gt;`)" in render.thread_line(entry).text


@pytest.mark.parametrize(("action", "broadcast"), [("stop_failing", True), ("delivery_failed", True),
                                                    ("approved", False), ("stopped", False)])
def test_alarms_are_also_shown_in_the_channel(action: str, broadcast: bool) -> None:
    entry = AuditEntry(id=4, request_id="K7M2QX9A", at=T0, actor="system", action=action, from_state="active",
                       to_state="active", detail="Descope stop call failed 3 times")
    assert render.thread_line(entry).broadcast is broadcast


def test_the_dm_the_token_goes_into_holds_no_token_yet() -> None:
    coming = render.token_coming(view(State.ACTIVE))
    assert TOKEN not in coming.text and TOKEN not in json.dumps(coming.blocks)
    assert "`K7M2QX9A`" in coming.text and "on its way" in coming.text
