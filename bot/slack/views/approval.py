"""The approval message in the approvals channel: ``build`` lays it out (buttons only while the request
is pending; ``approve_button``/``deny_button`` serve the App Home too); ``parse`` reads an Approve/Deny click
on it back into a ``Click``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain import RequestView, State
from bot.slack.messages import status
from bot.slack.views import ids
from bot.slack.views.blocks import Block, Message, context, plain, section


def build(request: RequestView) -> Message:
    blocks: list[Block] = [
        section(status.approval_header(request)),
        {"type": "section", "fields": [plain(f) for f in status.approval_fields(request)]},
    ]
    found = status.target_line(request)
    if found is not None:  # what Descope says of the target: its words, so plain text
        blocks.append({"type": "context", "elements": [plain(found)]})
    rule = status.policy_line(request)
    if rule is not None:  # the rule's name is the operator's words: plain text
        blocks.append({"type": "context", "elements": [plain(rule)]})
    blocks += [
        {"type": "section", "text": plain(status.reason_field(request))},
        context(status.status_line(request)),
    ]
    extended = status.extended_line(request)
    if extended is not None:
        blocks.append(context(extended))
    if request.state is State.PENDING:
        blocks.append({
            "type": "actions",
            "block_id": ids.DECISION_BLOCK.format(request_id=request.id),
            "elements": [approve_button(request), deny_button(request)],
        })
    return Message(text=status.approval_fallback(request), blocks=blocks)


def approve_button(request: RequestView, action_id: str = ids.APPROVE) -> Block:
    """Approve, behind its "are you sure" dialog (the App Home's Approve is this one with its own action ID)."""
    return {"type": "button", "action_id": action_id, "style": "primary", "value": request.id,
            "text": plain(status.APPROVE_LABEL),
            "confirm": {
                "title": plain(status.APPROVE_CONFIRM_TITLE),
                "text": plain(status.approve_confirm(request)),
                "confirm": plain(status.APPROVE_LABEL), "deny": plain(status.CANCEL_LABEL)}}


def deny_button(request: RequestView, action_id: str = ids.DENY) -> Block:
    return {"type": "button", "action_id": action_id, "style": "danger", "value": request.id,
            "text": plain(status.DENY_LABEL)}


@dataclass(frozen=True)
class Click:
    """An Approve or Deny click, as far as the payload says: which request, from which message."""

    user_id: str
    request_id: str
    channel_id: str | None
    message_ts: str | None


def parse(body: dict[str, Any]) -> Click:
    """Read a ``block_actions`` payload. Raises ``ValueError`` when it lacks the clicker or the action."""
    user = body.get("user") or {}
    actions = body.get("actions") or []
    if not isinstance(user, dict) or not user.get("id") or not actions or not isinstance(actions[0], dict):
        raise ValueError("a click without a user or an action")
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return Click(user_id=str(user["id"]), request_id=str(actions[0].get("value", "")),
                 channel_id=str(channel) if channel else None, message_ts=str(message_ts) if message_ts else None)

