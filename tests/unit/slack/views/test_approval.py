"""``bot.slack.views.approval``: the approvals-channel message (``build``) and the clicks on it (``parse``);
and, across every surface, that what a person typed never reaches mrkdwn unescaped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import State
from bot.slack.messages import replies, status
from bot.slack.views import approval, dm, ids
from tests.unit.factories import FORBIDDEN, HOSTILE_LOGIN, HOSTILE_REASON, TOKEN, hostile, view
from tests.unit.slack.views.walk import all_texts, buttons, mrkdwn_texts, walk


def test_pending_request_has_approve_and_deny_buttons_carrying_only_the_id() -> None:
    message = approval.build(view())
    found = buttons(message)
    assert [b["action_id"] for b in found] == [ids.APPROVE, ids.DENY]
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
    message = approval.build(view())
    text = "\n".join(all_texts(message))
    for needle in ("K7M2QX9A", "<@UREQ>", "jane@acme.com", "acme-eu", "30m", "checking invoice SUP-123"):
        assert needle in text
    assert "<@UREQ>" in message.text
    assert "jane@acme.com" in message.text


def test_request_without_tenant() -> None:
    message = approval.build(view(tenant=None))
    assert "(none)" in "\n".join(all_texts(message))
    assert "tenant" not in message.text


@pytest.mark.parametrize("state", [s for s in State if s is not State.PENDING])
def test_no_buttons_once_decided(state: State) -> None:
    message = approval.build(view(state))
    assert buttons(message) == []
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert status.status_line(view(state)) in mrkdwn_texts(message)


def test_confirm_text_stays_within_slacks_limit_for_the_longest_login_id() -> None:
    approve = buttons(approval.build(view(login_id="a" * 256, duration=timedelta(hours=3, minutes=59))))[0]
    assert len(approve["confirm"]["text"]["text"]) <= 300
    assert len(approve["confirm"]["title"]["text"]) <= 100


@pytest.mark.parametrize("state", list(State))
def test_user_text_never_reaches_mrkdwn_unescaped(state: State) -> None:
    request = hostile(state)
    messages = [approval.build(request), dm.redacted(request), dm.token_coming(request)]
    if request.ends_at is not None:
        messages.append(dm.token(request, TOKEN))
    outcome = dm.outcome(request)
    if outcome is not None:
        messages.append(outcome)
    texts = [status.status_line(request), replies.listing([request], [request]), replies.submitted(request),
             replies.stopping(request, "UBO")]
    for message in messages:
        assert mrkdwn_texts(message), "every message has some mrkdwn"
        texts += mrkdwn_texts(message)
        texts.append(message.text)  # the fallback is shown as mrkdwn in notifications
    for text in texts:
        for bad in FORBIDDEN:
            assert bad not in text, (bad, text)


def test_hostile_text_is_kept_verbatim_in_plain_text() -> None:
    message = approval.build(hostile(State.PENDING))
    plains = [el["text"] for el in walk(message.blocks) if el.get("type") == "plain_text"]
    assert any(HOSTILE_REASON in t for t in plains)
    assert any(HOSTILE_LOGIN in t for t in plains)
    assert "&lt;!channel&gt;jane@acme.com" in message.text


# --- clicks --------------------------------------------------------------------------------------------


