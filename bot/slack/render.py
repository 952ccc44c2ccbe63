"""Block Kit for every message the bot sends. Pure: a request in, a ``Message`` out.

Anything a user typed (login ID, tenant, reason) goes into ``plain_text`` elements, or through
``escape`` where it must sit inside mrkdwn, so it can never ping ``@channel``, fake a mention, or add
links or formatting. Every message carries a fallback ``text`` that holds no secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import RequestView, State
from bot.durations import format_duration
from bot.store import AuditEntry

APPROVE = "approve"
DENY = "deny"

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[Block] = field(default_factory=list)
    broadcast: bool = False  # a thread reply that is also shown in the channel itself


def escape(text: str) -> str:
    """Escape text for mrkdwn (Slack's three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def when(moment: datetime) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{time}}|{fallback}>"


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text[:2000] or " ", "emoji": False}


def _md(text: str) -> Block:
    return {"type": "mrkdwn", "text": text[:3000]}


def _target(request: RequestView) -> str:
    return request.login_id + (f" (tenant {request.tenant})" if request.tenant else "")


def code(text: str) -> str:
    """User text inside mrkdwn: a code span shows it literally (no formatting, mentions or links)."""
    return "`" + escape(text.replace("`", "'").replace("\n", " ")) + "`"


def _target_md(request: RequestView) -> str:
    return code(request.login_id) + (f" (tenant {code(request.tenant)})" if request.tenant else "")


def status_line(request: RequestView) -> str:
    by = f"<@{request.decided_by}>" if request.decided_by else "someone"
    match request.state:
        case State.PENDING:
            return f":hourglass_flowing_sand: Waiting for a second admin (expires {when(request.pending_until)})"
        case State.APPROVED:
            return f":white_check_mark: Approved by {by}: starting the session…"
        case State.ACTIVE if request.stopping:
            return f":white_check_mark: Approved by {by}: stopping the session…"
        case State.ACTIVE:
            assert request.ends_at is not None
            return f":white_check_mark: Approved by {by}: active until {when(request.ends_at)}"
        case State.STOPPED:
            end = when(request.stopped_at) if request.stopped_at else "now"
            return f":stop_button: Approved by {by}. Session ended {end} ({how_ended(request)})"
        case State.DENIED if request.decided_by == request.requester_id:
            return ":leftwards_arrow_with_hook: Withdrawn by the requester"
        case State.DENIED:
            return f":no_entry: Denied by {by}"
        case State.EXPIRED:
            return ":hourglass: Expired: nobody answered in time"
        case State.FAILED:
            return f":warning: Approved by {by}, but it failed: {code(request.failure or 'unknown error')}"


def how_ended(request: RequestView) -> str:
    if request.stopped_by and request.stopped_by != "system":
        return f"stopped early by <@{request.stopped_by}>"
    if request.stop_requested_at and request.ends_at and request.stop_requested_at < request.ends_at:
        return "stopped early by the bot"
    return "window ended"


def approval_request(request: RequestView) -> Message:
    """The approvals-channel message; buttons only while the request is pending."""
    text = (f"<@{request.requester_id}> asks to impersonate {_target_md(request)} for "
            f"{format_duration(request.duration)} ({request.state})")
    blocks: list[Block] = [
        {"type": "section", "text": _md(
            f"*Impersonation request* `{request.id}`\n<@{request.requester_id}> asks to act as another user.")},
        {"type": "section", "fields": [
            _plain(f"User: {request.login_id}"),
            _plain(f"Tenant: {request.tenant or '(none)'}"),
            _plain(f"Window: {format_duration(request.duration)}"),
            _plain(f"Request: {request.id}"),
        ]},
        {"type": "section", "text": _plain(f"Reason: {request.reason}")},
        {"type": "context", "elements": [_md(status_line(request))]},
    ]
    if request.state is State.PENDING:
        blocks.append({
            "type": "actions",
            "block_id": f"decision:{request.id}",
            "elements": [
                {"type": "button", "action_id": APPROVE, "style": "primary", "value": request.id,
                 "text": _plain("Approve"),
                 "confirm": {
                     "title": _plain("Approve impersonation?"),
                     "text": _plain(f"{request.login_id[:200]} for {format_duration(request.duration)}. "
                                    "The requester gets a token that acts as this user."),
                     "confirm": _plain("Approve"), "deny": _plain("Cancel")}},
                {"type": "button", "action_id": DENY, "style": "danger", "value": request.id,
                 "text": _plain("Deny")},
            ],
        })
    return Message(text=text, blocks=blocks)


def token_coming(request: RequestView) -> Message:
    """The DM the token is then edited into (its notification shows this text: no secret)."""
    text = (f":key: <@{request.decided_by}> approved request `{request.id}`: your token for {_target_md(request)}"
            " is on its way.")
    return Message(text=text, blocks=[{"type": "section", "text": _md(text)}])


def token_dm(request: RequestView, token: str) -> Message:
    """The only message that ever holds the token. Its fallback text does not."""
    assert request.ends_at is not None
    text = f"Your impersonation of {_target_md(request)} is active until {request.ends_at:%H:%M} UTC."
    return Message(text=text, blocks=[
        {"type": "section", "text": _md(
            f":key: <@{request.decided_by}> approved request `{request.id}`. You can act as the user below "
            f"until {when(request.ends_at)}.")},
        {"type": "section", "fields": [_plain(f"User: {request.login_id}"),
                                       _plain(f"Tenant: {request.tenant or '(none)'}")]},
        {"type": "section", "text": _md(f"Impersonation token (refresh JWT):\n```{token}```")},
        {"type": "context", "elements": [_md(
            f"Do not share it. It stops working at the end of the window; end it sooner with "
            f"`/impersonate stop {request.id}`. This message will be redacted when the session ends.")]},
    ])


def redacted_dm(request: RequestView) -> Message:
    text = f"Impersonation session {request.id} ended: the token was removed from this message."
    return Message(text=text, blocks=[
        {"type": "section", "text": _md(
            f":lock: Session `{request.id}` ({_target_md(request)}) has ended. "
            "The token was removed from this message and no longer works.")},
    ])


def outcome_dm(request: RequestView) -> Message | None:
    """What the requester is told when their request reaches a final state (None: nothing to say)."""
    target = _target_md(request)
    match request.state:
        case State.STOPPED:
            text = f":stop_button: Your impersonation of {target} (`{request.id}`) has ended: {how_ended(request)}."
        case State.DENIED if request.decided_by == request.requester_id:
            return None
        case State.DENIED:
            text = f":no_entry: <@{request.decided_by}> denied your request `{request.id}` to impersonate {target}."
        case State.EXPIRED:
            text = (f":hourglass: Your request `{request.id}` to impersonate {target} expired: "
                    "no approver answered in time. Ask again if you still need it.")
        case State.FAILED:
            text = (f":warning: Your request `{request.id}` to impersonate {target} was approved but failed: "
                    f"{code(request.failure or 'unknown error')}")
        case _:
            return None
    return Message(text=text, blocks=[{"type": "section", "text": _md(text)}])


_EVENTS = {
    "approved": "approved by <@{actor}>",
    "denied": "denied by <@{actor}>",
    "withdrawn": "withdrawn by <@{actor}>",
    "expired": "expired: nobody answered in time",
    "activated": "session started: token sent to the requester by DM",
    "stop_requested": "stop requested by <@{actor}>",
    "stopped": "session stopped",
    "failed": "failed",
    "delivery_failed": "the token could not be delivered by DM: session stopped",
    "stop_failing": "Descope's stop call keeps failing: still retrying",
}


# Thread events that need someone's attention now: also shown in the channel, not only in the thread.
ALARMS = frozenset({"delivery_failed", "stop_failing"})


def thread_line(entry: AuditEntry) -> Message:
    """One line in the approval message's thread for each event."""
    line = _EVENTS.get(entry.action, entry.action).format(actor=entry.actor)
    if entry.detail and entry.action in {"stopped", "failed", "stop_failing"}:
        line += f" ({code(entry.detail)})"
    text = f"{when(entry.at)}: {line}"
    return Message(text=text, broadcast=entry.action in ALARMS)


def listing(mine: Sequence[RequestView], active: Sequence[RequestView] | None) -> str:
    def row(r: RequestView) -> str:
        extra = f", until {when(r.ends_at)}" if r.state is State.ACTIVE and r.ends_at else ""
        return (f"• `{r.id}` {_target_md(r)}, {format_duration(r.duration)}: *{r.state}*{extra}"
                f" (<@{r.requester_id}>)")

    parts = ["*Your requests*"] + ([row(r) for r in mine] or ["You have no requests."])
    if active is not None:
        parts += ["", "*Active sessions (all requesters)*"] + ([row(r) for r in active] or ["None."])
    return "\n".join(parts)


def submitted(request: RequestView) -> str:
    return (f":inbox_tray: Request `{request.id}` to impersonate {_target_md(request)} for "
            f"{format_duration(request.duration)} is waiting for a second admin. "
            f"You will get the token by DM once it is approved. Withdraw it with `/impersonate stop {request.id}`.")


def stopping(request: RequestView) -> str:
    if request.state is State.DENIED and request.decided_by == request.requester_id:
        return f":leftwards_arrow_with_hook: Request `{request.id}` is withdrawn."
    if request.state is State.DENIED:
        return f":no_entry: Request `{request.id}` is denied; the requester is told."
    return (f":stop_button: Stopping session `{request.id}` ({_target_md(request)}). "
            "The requester gets a DM when it has ended.")
