"""The requester's DMs: the session's (ready with Show token, or the token itself with ``TOKEN_DELIVERY=dm``),
the token modal's words, the DM's redaction when the session ends, and the outcome of their request."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RequestView, State
from bot.domain.audit import SYSTEM
from bot.slack.messages.outcomes import failure_text
from bot.slack.messages.status import approvers_text, how_ended
from bot.slack.mrkdwn import code, target, when


def _approved(request: RequestView) -> str:
    """Who approved which request (an extension says which session it extends)."""
    what = f"extension `{request.id}` of session `{request.extends}`" if request.extends else f"request `{request.id}`"
    return f"{approvers_text(request)} approved {what}"


def _replaces(request: RequestView) -> str:
    return (f" This replaces session `{request.extends}`: its token stops working now that this one is ready."
            if request.extends else "")


def token_coming(request: RequestView) -> str:
    return (f":key: {_approved(request)}: your token for {target(request)}"
            " is on its way.")


def token_fallback(request: RequestView) -> str:
    assert request.ends_at is not None
    return f"Your impersonation of {target(request)} is active until {request.ends_at:%H:%M} UTC."


def token_intro(request: RequestView) -> str:
    assert request.ends_at is not None
    return (f":key: {_approved(request)}. You can act as the user below "
            f"until {when(request.ends_at)}.{_replaces(request)}")


def target_fields(request: RequestView) -> list[str]:
    return [f"User: {request.login_id}", f"Tenant: {request.tenant or '(none)'}"]


TOKEN_LABEL = "Impersonation token (refresh JWT):"


def token_footer(request: RequestView) -> str:
    return (f"Do not share it. It stops working at the end of the window; end it sooner with "
            f"`/impersonate stop {request.id}`. This message will be redacted when the session ends.")


SHOW_TOKEN_LABEL = "Show token"
TOKEN_MODAL_TITLE = "Impersonation token"
CLOSE_LABEL = "Close"


def ready_fallback(request: RequestView) -> str:
    assert request.ends_at is not None
    return f"Your impersonation of {target(request)} is ready until {request.ends_at:%H:%M} UTC."


def ready_intro(request: RequestView) -> str:
    assert request.ends_at is not None
    return (f":key: {_approved(request)}. You can act as the user below until {when(request.ends_at)}: "
            f"*Show token* opens the token in a window only you see.{_replaces(request)}")


def ready_footer(request: RequestView) -> str:
    return (f"The token is never the text of a message. Do not share it. It stops working at the end of the window; "
            f"end it sooner with `/impersonate stop {request.id}`.")


def modal_intro(request: RequestView) -> str:
    assert request.ends_at is not None
    return (f"Acting as {target(request)} (request `{request.id}`) until {when(request.ends_at)}. "
            "Do not share this token.")


def modal_footer(request: RequestView) -> str:
    return (f"Impersonation token (refresh JWT). It is revoked at the end of the window; end it sooner with "
            f"`/impersonate stop {request.id}`.")


#: What each refusal of the approvals channel means, and who can fix it.
_CHANNEL_PROBLEMS = {
    "not_in_channel": "the bot is not a member of it: an admin can invite it there (`/invite @` and the bot's name)",
    "channel_not_found": "the bot cannot find it: an admin should check `SLACK_APPROVAL_CHANNEL` (and, for a "
                         "private channel, invite the bot)",
    "is_archived": "it is archived: an admin can unarchive it, or point `SLACK_APPROVAL_CHANNEL` at another",
}


def not_posted(request: RequestView, channel: str, error: str) -> str:
    problem = _CHANNEL_PROBLEMS.get(error, "it refused the bot's message: an admin should check the channel's "
                                           "settings and the bot's permissions there")
    return (f":warning: No approver can see your request `{request.id}` to impersonate {target(request)}: the "
            f"approvals channel <#{channel}> refused it ({code(error)}), because {problem}. The bot keeps trying and "
            f"posts it as soon as the channel takes it; it expires at {when(request.pending_until)}. Withdraw it with "
            f"`/impersonate stop {request.id}`.")


def not_posted_fallback(request: RequestView) -> str:
    return f"No approver can see your request {request.id}: the approvals channel refused it."


def redacted_fallback(request: RequestView) -> str:
    if request.delivery == "reveal":
        return f"Impersonation session {request.id} ended: its token no longer works."
    return f"Impersonation session {request.id} ended: the token was removed from this message."


def redacted(request: RequestView) -> str:
    if request.delivery == "reveal":
        return f":lock: Session `{request.id}` ({target(request)}) has ended: its token can no longer be shown."
    return (f":lock: Session `{request.id}` ({target(request)}) has ended. "
            "The token was removed from this message and no longer works.")


def outcome(request: RequestView) -> str | None:
    """What the requester is told when their request reaches a final state (None: nothing to say)."""
    t = target(request)
    match request.state:
        case State.STOPPED if request.extended_by:
            return (f":fast_forward: Session `{request.id}` ({t}) has ended: it was {how_ended(request)}, whose token "
                    "you have. Use that one from now on.")
        case State.STOPPED:
            return (f":stop_button: Your impersonation `{request.id}` of {t} has ended: "
                    f"{how_ended(request, told=request.requester_id)}.")
        case State.DENIED if request.withdrawn:
            return None
        case State.DENIED if request.extends and request.decided_by == SYSTEM:
            return (f":leftwards_arrow_with_hook: Your extension `{request.id}` was withdrawn: session "
                    f"`{request.extends}` was stopped.")
        case State.DENIED if request.extends:
            return (f":no_entry: <@{request.decided_by}> denied your extension `{request.id}`: session "
                    f"`{request.extends}` ends at its time.")
        case State.DENIED:
            return f":no_entry: <@{request.decided_by}> denied your request `{request.id}` to impersonate {t}."
        case State.EXPIRED if request.extends:
            return (f":hourglass: Your extension `{request.id}` of session `{request.extends}` was not answered in "
                    "time: the session ends at its time.")
        case State.EXPIRED if request.break_glass:
            return (f":hourglass: Your break-glass `{request.id}` as {t} did not start: no code came in time. Ask "
                    "again if you still need it.")
        case State.EXPIRED:
            return (f":hourglass: Your request `{request.id}` to impersonate {t} expired: "
                    "no approver answered in time. Ask again if you still need it.")
        case State.FAILED if request.decided_by is None:
            return (f":warning: Your request `{request.id}` to impersonate {t} was closed before it could be approved: "
                    f"{code(failure_text(request.failure))}")
        case State.FAILED:
            return (f":warning: Your request `{request.id}` to impersonate {t} was approved but failed: "
                    f"{code(failure_text(request.failure))}")
    return None


# -- the expiry warning ----------------------------------------------------------------------------------------

EXTEND_LABEL = "Extend"
STOP_NOW_LABEL = "Stop now"


def warning(request: RequestView) -> str:
    assert request.ends_at is not None
    return (f":alarm_clock: Your impersonation of {target(request)} (`{request.id}`) ends at {when(request.ends_at)}. "
            "Need more time? *Extend* asks the approvers for more (you keep this token until a new one is ready); "
            "*Stop now* ends the session at once.")


def put_off(request: RequestView, until: datetime) -> str:
    return (f":hourglass_flowing_sand: Your request `{request.id}` to impersonate {target(request)} is approved, but "
            f"Descope's rate limit asked the bot to wait: your session starts at about {when(until)}. Nothing to do: "
            f"you get a DM when it is ready (`/impersonate stop {request.id}` calls it off).")


def put_off_fallback(request: RequestView, until: datetime) -> str:
    return f"Your impersonation of {request.login_id} starts at about {until:%H:%M:%S} UTC (Descope's rate limit)."


def warning_past(request: RequestView) -> str:
    return (f":alarm_clock: Your impersonation of {target(request)} (`{request.id}`) has ended: it can no longer be "
            "extended or stopped from here.")


def warning_past_fallback(request: RequestView) -> str:
    return f"Your impersonation session {request.id} has ended."


def warning_fallback(request: RequestView) -> str:
    assert request.ends_at is not None
    return f"Your impersonation session {request.id} ends at {request.ends_at:%H:%M} UTC."
