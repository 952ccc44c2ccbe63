"""Every sentence of break-glass: the alert (its header, its review line, its buttons), the command's answer, and
the refusals (``domain.break_glass``)."""

from __future__ import annotations

from datetime import UTC

from bot.domain import RequestView, State
from bot.domain.break_glass import (
    MIN_REASON,
    AlreadyReviewed,
    BreakGlassNoReason,
    BreakGlassNotAllowed,
    BreakGlassTooLong,
    BreakGlassTooOften,
    MayNotReview,
)
from bot.domain.durations import format_duration
from bot.domain.errors import DomainError
from bot.slack.mrkdwn import code, when

REVIEW_LABEL, FLAG_LABEL = "Looks right", "Stop and flag"
FLAG_CONFIRM_TITLE = "Stop and flag?"
FLAG_CONFIRM = "The session ends at once (stopped and revoked at Descope) and is marked flagged for follow-up."


def alert_header(request: RequestView) -> str:
    """The alert's first lines (mrkdwn): ``<!here>`` (once, when posted: Slack does not notify again on an edit). An
    attempt is alerted too: while its requester proves themselves, and when it never started."""
    head = f"<!here> :rotating_light: *Break-glass* `{request.id}`\n<@{request.requester_id}>"
    if request.state is State.PENDING:
        return f"{head} is breaking the glass: once they prove it is them, the session starts without an approver."
    if request.state in (State.EXPIRED, State.DENIED):
        return f"{head} tried to break the glass; the session never started."
    return f"{head} started impersonating without an approver. Review it: does it look right?"


def alert_fallback(request: RequestView) -> str:
    return (f"Break-glass: <@{request.requester_id}> is impersonating {request.login_id} without approval "
            f"({request.state})")


def review_line(request: RequestView) -> str | None:
    """How the review ended, or that it is still awaited (mrkdwn)."""
    if request.reviewed_by and request.reviewed_at:
        return f":white_check_mark: Reviewed by <@{request.reviewed_by}> at {when(request.reviewed_at)}: looks right"
    if request.flagged_by and request.flagged_at:
        return (f":triangular_flag_on_post: Stopped and flagged by <@{request.flagged_by}> at "
                f"{when(request.flagged_at)}")
    return ":eyes: Awaiting review by an approver of its rule"


def started(request: RequestView) -> str:
    """The command's answer (mrkdwn, ephemeral)."""
    return (f":rotating_light: Break-glass `{request.id}`: your session as `{request.login_id}` for "
            f"{format_duration(request.duration)} is starting now, with no approver. The approvers are alerted and "
            "will review it; your token comes by DM. Stop it with `/impersonate stop " + request.id + "`.")


def waiting_for_code(request: RequestView) -> str:
    return (f":rotating_light: Break-glass `{request.id}`: prove it is you first, in the window that opened (within "
            f"{format_duration(request.pending_until - request.created_at)}); then the session starts.")


def refusal(exc: DomainError) -> str | None:
    """A break-glass refusal, for whoever it refuses (``None``: not one of them)."""
    match exc:
        case BreakGlassNotAllowed():
            rule = f"the policy rule “{exc.rule}”" if exc.rule else "the bot's settings (BREAK_GLASS)"
            return (f"Break-glass is not allowed for {code(exc.login_id)} under {rule}: nothing was started. Ask "
                    "for approval as usual (leave out `--break-glass`).")
        case BreakGlassNoReason():
            return (f"A break-glass needs a reason of at least {MIN_REASON} characters (yours has {exc.length}): say "
                    "what the emergency is, e.g. `--break-glass checkout down for all EU customers, INC-2231`.")
        case BreakGlassTooLong():
            return (f"A break-glass window is at most {format_duration(exc.cap)}"
                    f"{' under the policy rule “' + exc.rule + '”' if exc.rule else ''} (you asked for "
                    f"{format_duration(exc.asked)}): nothing was started. Ask for {format_duration(exc.cap)} or less.")
        case BreakGlassTooOften():
            next_at = exc.next_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            return (f"You have started {exc.limit} break-glass sessions in the past 24 hours, as many as allowed: the "
                    f"next is allowed at {next_at}. Ask for approval as usual meanwhile.")
        case MayNotReview() if exc.own:
            return "You cannot review your own break-glass session: one of its rule's approvers has to."
        case MayNotReview():
            return "Only the approvers of its policy rule can review a break-glass session."
        case AlreadyReviewed():
            line = review_line(exc.request) or ""
            return f"Break-glass `{exc.request.id}` is already reviewed: {line.split(' ', 1)[-1]}"
    return None
