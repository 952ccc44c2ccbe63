"""Every message and modal the bot sends is Block Kit that slack_sdk's models accept as they are: each block
parses, validates, and turns back into exactly what the bot built (a field the model does not know, or a
value out of its limits, would not survive the round trip)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.devtools.signing import view_state
from bot.domain import RequestView, State
from bot.domain.target import UNVERIFIED, Target
from bot.slack import payloads
from bot.slack.commands import Windows
from bot.slack.views import approval, dm, extend, ids, token_modal
from bot.slack.views.blocks import Message
from bot.slack.views.form import Invalid
from tests.unit.factories import HOSTILE_LOGIN, HOSTILE_REASON, T0, TOKEN, view


def _sessions() -> list[RequestView]:
    active = view(State.ACTIVE, delivery="reveal", target=Target(True, "Jane Doe", (("acme-eu", "Acme EU"),)))
    return [view(State.PENDING, target=UNVERIFIED), view(State.PENDING, target=Target(True, "Jane", tuple(
        (f"t{i}", f"Tenant {i}") for i in range(8)))), active, view(State.STOPPED, delivery="reveal"),
        view(State.STOPPED, delivery="dm"), view(State.DENIED), view(State.EXPIRED), view(State.FAILED),
        view(State.PENDING, login_id=HOSTILE_LOGIN, reason=HOSTILE_REASON * 20),
        view(State.PENDING, extends="OLD00001", approvals_needed=2, approved_by=("UA",), rule_name="bank tenants"),
        view(State.STOPPED, extended_by="NEW00001", delivery="reveal")]


def _messages() -> list[tuple[str, Message]]:
    out: list[tuple[str, Message]] = []
    for request in _sessions():
        out.append((f"approval {request.state}", approval.build(request)))
        if request.state is State.ACTIVE:
            out += [("token coming", dm.token_coming(request)), ("token dm", dm.token(request, TOKEN)),
                    ("ready", dm.ready(request)), ("warning", dm.warning(request))]
        if request.state.is_final:
            out.append((f"redacted {request.delivery}", dm.redacted(request)))
            outcome = dm.outcome(request)
            if outcome is not None:
                out.append((f"outcome {request.state}", outcome))
    return out


@pytest.mark.parametrize(("name", "message"), _messages(), ids=[name for name, _ in _messages()])
def test_every_message_is_valid_block_kit(name: str, message: Message) -> None:
    assert message.text and len(message.blocks) <= 50
    parsed = Block.parse_all(message.blocks)
    for block in parsed:
        assert block is not None
        block.validate_json()
    built: list[dict[str, Any]] = message.blocks
    assert [b.to_dict() for b in parsed] == built, name


def test_the_token_modal_is_valid_block_kit() -> None:
    request = view(State.ACTIVE, ends_at=T0 + timedelta(minutes=30), delivery="reveal")
    built = token_modal.build(request, TOKEN)
    model = View(**built)
    model.validate_json()
    assert model.to_dict() == built


def test_the_extension_form_is_valid_block_kit_and_reads_back() -> None:
    session = view(State.ACTIVE, ends_at=T0 + timedelta(minutes=30))
    allowed = Windows(timedelta(minutes=30), timedelta(minutes=1), timedelta(hours=1))
    built = extend.build(session, allowed)
    model = View(**built)
    model.validate_json()
    assert model.to_dict() == built
    answers = {ids.EXTEND_WINDOW: "15m", ids.EXTEND_REASON: "  still on SUP-123 "}

    def submitted(view: dict[str, Any], answers: dict[str, str | None]) -> payloads.Submission:
        return payloads.submission({"user": {"id": "UREQ"}, "view": {**view, "state": view_state(view, answers)}})

    assert extend.parse(submitted(built, answers), allowed) == extend.ExtensionAsked(
        session.id, timedelta(minutes=15), "still on SUP-123")
    problems = extend.parse(submitted(built, {ids.EXTEND_REASON: ""}), allowed)
    assert isinstance(problems, Invalid) and set(problems.problems) == {ids.EXTEND_REASON_BLOCK}
    with pytest.raises(payloads.Malformed):
        extend.parse(submitted({**built, "private_metadata": "not an id!"}, answers), allowed)
