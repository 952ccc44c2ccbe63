"""``bot.slack.views.dm``: the requester's DMs (the token's, first without it, then with it, then redacted;
and the outcome)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain import State
from bot.slack.views import dm
from tests.unit.factories import T0, TOKEN, view
from tests.unit.slack.views.walk import mrkdwn_texts


def test_token_dm_fallback_text_has_no_token_but_blocks_do() -> None:
    message = dm.token(view(State.ACTIVE), TOKEN)
    assert TOKEN not in message.text
    assert "14:32 UTC" in message.text
    assert any(TOKEN in t for t in mrkdwn_texts(message))
    assert "/impersonate stop K7M2QX9A" in "\n".join(mrkdwn_texts(message))


def test_redacted_dm_has_no_token() -> None:
    message = dm.redacted(view(State.STOPPED))
    assert TOKEN not in repr(message)
    assert "eyJ" not in repr(message)
    assert "K7M2QX9A" in message.text


def test_the_dm_the_token_goes_into_holds_no_token_yet() -> None:
    coming = dm.token_coming(view(State.ACTIVE))
    assert TOKEN not in coming.text and TOKEN not in json.dumps(coming.blocks)
    assert "`K7M2QX9A`" in coming.text and "on its way" in coming.text


def test_outcome_dm_stopped_by_window() -> None:
    message = dm.outcome(view(State.STOPPED))
    assert message is not None
    assert "window ended" in message.text
    assert mrkdwn_texts(message) == [message.text]


def test_outcome_dm_stopped_early_by_someone() -> None:
    message = dm.outcome(view(State.STOPPED, stopped_by="UBO"))
    assert message is not None
    assert "stopped early by <@UBO>" in message.text


def test_outcome_dm_stopped_early_by_the_bot() -> None:
    request = view(State.STOPPED, stop_requested_at=T0 + timedelta(minutes=10))
    message = dm.outcome(request)
    assert message is not None
    assert "stopped early by the bot" in message.text


def test_outcome_dm_denied() -> None:
    message = dm.outcome(view(State.DENIED))
    assert message is not None
    assert "<@UBO> denied" in message.text


def test_outcome_dm_withdrawn_says_nothing() -> None:
    assert dm.outcome(view(State.DENIED, decided_by="UREQ")) is None


def test_outcome_dm_expired() -> None:
    message = dm.outcome(view(State.EXPIRED))
    assert message is not None
    assert "expired" in message.text


def test_outcome_dm_failed() -> None:
    message = dm.outcome(view(State.FAILED))
    assert message is not None
    assert "Descope refused: user not found" in message.text


@pytest.mark.parametrize("state", [State.PENDING, State.APPROVED, State.ACTIVE])
def test_no_outcome_dm_before_a_final_state(state: State) -> None:
    assert dm.outcome(view(state)) is None
