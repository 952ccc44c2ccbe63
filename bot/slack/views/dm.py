"""The requester's DMs: the session's (``reveal``: ready, with a Show token button; ``dm``: first without the
token, then with it), the expiry warning (Extend, Stop now), its redaction when the session ends, and the outcome."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RequestView
from bot.slack.messages import dms
from bot.slack.views import ids
from bot.slack.views.blocks import Block, Message, context, plain, section


def token_coming(request: RequestView) -> Message:
    """The DM the token is then edited into (its notification shows this text: no secret)."""
    text = dms.token_coming(request)
    return Message(text=text, blocks=[section(text)])


def token(request: RequestView, token: str) -> Message:
    """The only message that ever holds the token. Its fallback text does not."""
    return Message(text=dms.token_fallback(request), blocks=[
        section(dms.token_intro(request)),
        {"type": "section", "fields": [plain(f) for f in dms.target_fields(request)]},
        section(f"{dms.TOKEN_LABEL}\n```{token}```"),
        context(dms.token_footer(request)),
    ])


def ready(request: RequestView) -> Message:
    """``reveal``: the session is ready; the token is shown only in a modal, to the requester's click."""
    return Message(text=dms.ready_fallback(request), blocks=[
        section(dms.ready_intro(request)),
        {"type": "section", "fields": [plain(f) for f in dms.target_fields(request)]},
        {"type": "actions", "block_id": ids.TOKEN_BLOCK.format(request_id=request.id), "elements": [
            {"type": "button", "action_id": ids.SHOW_TOKEN, "style": "primary", "value": request.id,
             "text": plain(dms.SHOW_TOKEN_LABEL)}]},
        context(dms.ready_footer(request)),
    ])


def warning(request: RequestView) -> Message:
    """The session ends soon: Extend (opens the extension form) and Stop now."""
    return Message(text=dms.warning_fallback(request), blocks=[
        section(dms.warning(request)),
        {"type": "actions", "block_id": ids.WARNING_BLOCK.format(request_id=request.id), "elements": [
            extend_button(request, ids.EXTEND),
            {"type": "button", "action_id": ids.STOP_NOW, "style": "danger", "value": request.id,
             "text": plain(dms.STOP_NOW_LABEL)}]},
    ])


def extend_button(request: RequestView, action_id: str) -> Block:
    """Extend (the warning DM's, or the App Home's with its own action ID)."""
    return {"type": "button", "action_id": action_id, "style": "primary", "value": request.id,
            "text": plain(dms.EXTEND_LABEL)}


def not_posted(request: RequestView, channel: str, error: str) -> Message:
    """The approvals channel refused the request's approval message: no approver can see it."""
    text = dms.not_posted(request, channel, error)
    return Message(text=dms.not_posted_fallback(request), blocks=[section(text)])


def put_off(request: RequestView, until: datetime) -> Message:
    """Descope's rate limit put the approved session off until ``until``."""
    return Message(text=dms.put_off_fallback(request, until), blocks=[section(dms.put_off(request, until))])


def warning_past(request: RequestView) -> Message:
    """The expiry warning once the session has ended: what it said, without Extend and Stop now."""
    return Message(text=dms.warning_past_fallback(request), blocks=[section(dms.warning_past(request))])


def redacted(request: RequestView) -> Message:
    return Message(text=dms.redacted_fallback(request), blocks=[section(dms.redacted(request))])


def outcome(request: RequestView) -> Message | None:
    """What the requester is told when their request reaches a final state (None: nothing to say)."""
    text = dms.outcome(request)
    return None if text is None else Message(text=text, blocks=[section(text)])
