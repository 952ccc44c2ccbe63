"""The approval message in the approvals channel: ``build`` lays it out (buttons only while the request
is pending; ``approve_button``/``deny_button`` serve the App Home too). A click on it is read by
``bot.slack.payloads.click``."""

from __future__ import annotations

from bot.domain import RequestView, State
from bot.slack.messages import approval as approval_words
from bot.slack.messages import break_glass as bg_words
from bot.slack.messages import proofs as proof_words
from bot.slack.messages import status
from bot.slack.views import ids
from bot.slack.views.blocks import Block, Message, context, plain, section


def build(request: RequestView) -> Message:
    if request.break_glass:
        return alert(request)
    blocks: list[Block] = [
        section(approval_words.approval_header(request)),
        {"type": "section", "fields": [plain(f) for f in approval_words.approval_fields(request)]},
    ]
    found = approval_words.target_line(request)
    if found is not None:  # what Descope says of the target: its words, so plain text
        blocks.append({"type": "context", "elements": [plain(found)]})
    rule = approval_words.policy_line(request)
    if rule is not None:  # the rule's name is the operator's words: plain text
        blocks.append({"type": "context", "elements": [plain(rule)]})
    verified = proof_words.needs_line(request.approval_mfa, request.reveal_mfa)
    if verified is not None:
        blocks.append({"type": "context", "elements": [plain(verified)]})
    blocks += [
        {"type": "section", "text": plain(approval_words.reason_field(request))},
        context(status.status_line(request)),
    ]
    escalated = approval_words.escalated_line(request)
    if escalated is not None:
        blocks.append(context(escalated))
    extended = approval_words.extended_line(request)
    if extended is not None:
        blocks.append(context(extended))
    if request.state is State.PENDING:
        blocks.append({
            "type": "actions",
            "block_id": ids.DECISION_BLOCK.format(request_id=request.id),
            "elements": [approve_button(request), deny_button(request)],
        })
    return Message(text=approval_words.approval_fallback(request), blocks=blocks)


def approve_button(request: RequestView, action_id: str = ids.APPROVE) -> Block:
    """Approve, behind its "are you sure" dialog (the App Home's Approve is this one with its own action ID)."""
    return {"type": "button", "action_id": action_id, "style": "primary", "value": request.id,
            "text": plain(approval_words.APPROVE_LABEL),
            "confirm": {
                "title": plain(approval_words.APPROVE_CONFIRM_TITLE),
                "text": plain(approval_words.approve_confirm(request)),
                "confirm": plain(approval_words.APPROVE_LABEL), "deny": plain(approval_words.CANCEL_LABEL)}}


def deny_button(request: RequestView, action_id: str = ids.DENY) -> Block:
    return {"type": "button", "action_id": action_id, "style": "danger", "value": request.id,
            "text": plain(approval_words.DENY_LABEL)}


def alert(request: RequestView) -> Message:
    """A break-glass request's message: the loud alert, its review, and (while it awaits review, once started)
    **Looks right** and **Stop and flag**: reminded until reviewed, even after the session ended."""
    blocks: list[Block] = [
        section(bg_words.alert_header(request)),
        {"type": "section", "fields": [plain(f) for f in approval_words.approval_fields(request)]},
    ]
    found = approval_words.target_line(request)
    if found is not None:
        blocks.append({"type": "context", "elements": [plain(found)]})
    blocks += [
        {"type": "section", "text": plain(approval_words.reason_field(request))},
        context(status.status_line(request)),
    ]
    review = bg_words.review_line(request)
    if review is not None and request.state is not State.PENDING:
        blocks.append(context(review))
    if request.awaiting_review and request.state is not State.PENDING and request.state is not State.EXPIRED:
        blocks.append({
            "type": "actions",
            "block_id": ids.BREAK_GLASS_BLOCK.format(request_id=request.id),
            "elements": [
                {"type": "button", "action_id": ids.BREAK_GLASS_REVIEW, "style": "primary", "value": request.id,
                 "text": plain(bg_words.REVIEW_LABEL)},
                {"type": "button", "action_id": ids.BREAK_GLASS_FLAG, "style": "danger", "value": request.id,
                 "text": plain(bg_words.FLAG_LABEL),
                 "confirm": {"title": plain(bg_words.FLAG_CONFIRM_TITLE), "text": plain(bg_words.FLAG_CONFIRM),
                             "confirm": plain(bg_words.FLAG_LABEL), "deny": plain(approval_words.CANCEL_LABEL)}},
            ],
        })
    return Message(text=bg_words.alert_fallback(request), blocks=blocks)
