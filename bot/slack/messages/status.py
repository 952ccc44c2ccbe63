"""Where a request stands and what happened to it: the approval message's status line, whom Descope says the
target is, late clicks, how a session ended, why a request failed, the thread's event lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import RequestView, State
from bot.domain.durations import format_duration
from bot.domain.outcomes import (
    Activated,
    Call,
    Detail,
    Ending,
    EndReason,
    Failure,
    FailureKind,
    Legacy,
    Linked,
    NotPosted,
    Reminded,
    StopFailing,
    Tally,
    TokenFate,
    decode_detail,
)
from bot.slack.mrkdwn import code, target, when

SYSTEM = "system"  # who decided what the bot decided by itself (``workflows.context.SYSTEM``)


def outcome_so_far(request: RequestView) -> str:
    """One sentence on where a request stands, for someone clicking on it late."""
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    match request.state:
        case State.PENDING:
            return f"Request `{request.id}` is still waiting for approval."
        case State.APPROVED | State.ACTIVE:
            return f"Request `{request.id}` was already approved{who}."
        case State.STOPPED:
            return f"Request `{request.id}` was already approved{who}, and its session has ended."
        case State.DENIED if request.decided_by == SYSTEM:
            return f"Request `{request.id}` was withdrawn: the session it extends was stopped."
        case State.DENIED:
            return f"Request `{request.id}` was already denied{who}."
        case State.EXPIRED:
            return f"Request `{request.id}` already expired: nobody answered it in time."
        case State.FAILED if request.decided_by is None:
            return f"Request `{request.id}` was closed before it could be approved: its approval message says why."
        case State.FAILED:
            return f"Request `{request.id}` was approved{who} but failed: its approval message says why."


def approvers_text(request: RequestView) -> str:
    """Who approved: ``<@a>``, ``<@a> and <@b>``, ``<@a>, <@b> and <@c>`` (or "someone", for rows from before)."""
    who = [f"<@{u}>" for u in request.approved_by] or ([f"<@{request.decided_by}>"] if request.decided_by else [])
    if not who:
        return "someone"
    return who[0] if len(who) == 1 else f"{', '.join(who[:-1])} and {who[-1]}"


def tally(request: RequestView) -> str:
    """A pending request's approvals so far: "1 of 2 approvals: <@a>"."""
    so_far = f": {approvers_text(request)}" if request.approved_by else ""
    return f"{len(request.approved_by)} of {request.approvals_needed} approvals{so_far}"


def called_off(request: RequestView) -> bool:
    """Stopped while it was being activated, before its token could reach the requester."""
    return request.stop_requested_at is not None and (
        request.started_at is None or request.stop_requested_at <= request.started_at)


def how_ended(request: RequestView) -> str:
    if request.extended_by:
        return f"replaced by its extension `{request.extended_by}`"
    if called_off(request):
        by = f"<@{request.stopped_by}>" if request.stopped_by and request.stopped_by != SYSTEM else "the bot"
        return f"called off by {by} before it started: no token was handed over"
    if request.stopped_by and request.stopped_by != "system":
        return f"stopped early by <@{request.stopped_by}>"
    if request.stop_requested_at and request.ends_at and request.stop_requested_at < request.ends_at:
        return "stopped early by the bot"
    return "window ended"


def status_line(request: RequestView) -> str:
    by = approvers_text(request)
    match request.state:
        case State.PENDING if request.approvals_needed > 1:
            return (f":hourglass_flowing_sand: {tally(request)}. Waiting for {request.approvals_missing} more "
                    f"(expires {when(request.pending_until)})")
        case State.PENDING:
            return f":hourglass_flowing_sand: Waiting for a second admin (expires {when(request.pending_until)})"
        case State.APPROVED if request.stop_requested_at:
            return f":stop_button: Approved by {by}: called off while the session was starting: stopping it…"
        case State.APPROVED:
            return f":white_check_mark: Approved by {by}: starting the session…"
        case State.ACTIVE if request.stopping:
            return f":white_check_mark: Approved by {by}: stopping the session…"
        case State.ACTIVE:
            assert request.ends_at is not None
            return f":white_check_mark: Approved by {by}: active until {when(request.ends_at)}"
        case State.STOPPED if called_off(request):
            return f":stop_button: Approved by {by}, then {how_ended(request)}"
        case State.STOPPED:
            end = when(request.stopped_at) if request.stopped_at else "now"
            return f":stop_button: Approved by {by}. Session ended {end} ({how_ended(request)})"
        case State.DENIED if request.withdrawn:
            return ":leftwards_arrow_with_hook: Withdrawn by the requester"
        case State.DENIED if request.decided_by == SYSTEM:
            return ":leftwards_arrow_with_hook: Withdrawn: the session it extends was stopped"
        case State.DENIED:
            return f":no_entry: Denied by <@{request.decided_by}>"
        case State.EXPIRED:
            return ":hourglass: Expired: nobody answered in time"
        case State.FAILED if request.decided_by is None:
            return f":warning: Closed before approval: {code(failure_text(request.failure))}"
        case State.FAILED:
            return f":warning: Approved by {by}, but it failed: {code(failure_text(request.failure))}"




# -- why it failed, how it ended -----------------------------------------------------------------------


def _utc(iso: str) -> str:
    """An ISO 8601 moment as people read it in plain text, to the next whole minute: ``2026-12-06 14:33 UTC``."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return iso
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def failure_text(failure: Failure | Legacy | None) -> str:
    """Why a request failed, in words the requester can act on (with Descope's own words and code)."""
    if failure is None:
        return "unknown error"
    if isinstance(failure, Legacy):
        return failure.text
    f = failure
    match f.kind:
        case FailureKind.FORBIDDEN:
            return f"the policy rule \u201c{f.rule}\u201d says nobody may impersonate {f.login_id}"
        case FailureKind.ORIGINAL_ENDED:
            return f"session {f.original} had ended before its extension could start, so nothing was granted"
        case FailureKind.NO_EMAIL:
            return "the requester's Slack profile has no email address to impersonate as"
        case FailureKind.GAVE_UP:
            return f"the session could not be started ({f.error}); nothing was granted: ask again"
        case FailureKind.MAYBE_MINTED:
            until = f" by {_utc(f.expires)} at the latest" if f.expires else " at the end of the approved window"
            return (f"Descope did not answer the impersonate call ({f.error}), so no session was started. Descope "
                    f"may have minted a token anyway: nobody received it and the bot cannot revoke it, and it expires"
                    f"{until}. Ask again in a few minutes.")
        case FailureKind.NOT_A_REQUESTER:
            rule = f" under the policy rule \u201c{f.rule}\u201d" if f.rule else " (REQUESTERS)"
            return (f"the requester may no longer ask to impersonate {f.login_id}{rule}, so it was closed when it "
                    "was about to be approved")
        case FailureKind.TENANTS_UNKNOWN:
            return (f"it names no tenant, and which tenants {f.login_id} belongs to is not known, so which policy "
                    "rules apply cannot be decided: ask again naming the tenant")
        case FailureKind.WINDOW_OUT_OF_POLICY:
            rule = f"the policy rule \u201c{f.rule}\u201d now allows" if f.rule else "the bot's settings now allow"
            low, high = (format_duration(timedelta(seconds=s or 0)) for s in (f.low_s, f.high_s))
            return (f"{rule} windows of {low} to {high} only, and it asks "
                    f"{format_duration(timedelta(seconds=f.asked_s or 0))}: ask again within them")
        case FailureKind.UNAVAILABLE:
            return f"Descope could not be reached, so no session was started: {f.error}. Ask again in a few minutes."
        case FailureKind.MANAGEMENT_KEY:
            plain = ("it did not accept the bot's management key (check DESCOPE_PROJECT_ID and "
                     "DESCOPE_MANAGEMENT_KEY)")
        case FailureKind.NO_PERMISSION:
            where = f" in tenant {f.tenant}" if f.tenant else ""
            plain = (f"your Descope user ({f.impersonator}) is not allowed to impersonate{where}: "
                     "it needs the Impersonate permission")
        case FailureKind.NO_CONSENT:
            plain = f"{f.login_id} has not consented to being impersonated"
        case FailureKind.UNKNOWN_USER:
            plain = f"there is no Descope user with login ID {f.login_id}"
        case FailureKind.NOT_IN_TENANT:
            plain = f"{f.login_id} is not a member of tenant {f.tenant}"
        case FailureKind.BAD_TENANT:
            plain = "the tenant is not valid for this user"
        case FailureKind.USER_DISABLED:
            plain = f"the Descope user {f.login_id} is disabled"
        case FailureKind.REFUSED:
            plain = (f.description or "").rstrip(".")
    if f.description is None and f.status is None:  # refused by the pre-flight look-up, not by a Descope call
        return f"Descope refused: {plain}"
    said = " ".join(part for part in (f.code, f"HTTP {f.status}" if f.status else None) if part)
    return f"Descope refused: {plain} (Descope said: {f.description}; {said or 'no error code'})"


_REASONS = {EndReason.STOPPED_EARLY: "stopped early", EndReason.WINDOW_ENDED: "window ended",
            EndReason.EXTENDED: "replaced by its extension"}


def ending_text(ending: Ending) -> str:
    reason = _REASONS[ending.reason]
    match ending.token:
        case TokenFate.UNSEALABLE:
            return f"{reason}; the stored token could not be unsealed, so it expires on its own"
        case TokenFate.UNKNOWN_TO_DESCOPE:
            return f"{reason}; Descope no longer knew the session ({ending.code})"
        case TokenFate.EXPIRED_AFTER_FAILING:
            return f"{reason}; the stop call failed but the token has expired on its own"
        case TokenFate.ALREADY_REVOKED:
            return f"{reason}; the token had already expired or been revoked"
        case TokenFate.NEVER_MINTED:
            return f"{reason}, before the token was minted: no token exists"
    return reason


def detail_text(detail: Detail) -> str:
    """An audit row's detail, in words."""
    match detail:
        case Failure() | Legacy():
            return failure_text(detail)
        case Ending():
            return ending_text(detail)
        case StopFailing() if detail.call is Call.LOGOUT:
            return (f"Descope did not confirm the token's revocation after {detail.attempts} attempts "
                    f"({detail.error}): the token may still work; still retrying until it is revoked or expires")
        case StopFailing():
            return f"Descope stop call failed {detail.attempts} times ({detail.error}); still retrying"
        case Activated():
            return f"impersonating as {detail.impersonator}"
        case Reminded():
            return f"reminder {detail.count} to {', '.join(mention(p) for p in detail.approvers)}"
        case Tally():
            return f"approval {detail.count} of {detail.needed}"
        case Linked() if detail.by:
            return f"replaced by extension {detail.by}"
        case Linked():
            return f"extension of {detail.extends}"
        case NotPosted():
            return f"Slack said {detail.error}"


# -- the approval message's thread ---------------------------------------------------------------------

_EVENTS = {
    "approved": "approved by <@{actor}>",
    "approval": "approved by <@{actor}> ({count} of {needed}): waiting for more approvers",
    "extended": "replaced by extension `{by}`, whose token was delivered first: stopping this session",
    "denied": "denied by <@{actor}>",
    "withdrawn": "withdrawn by <@{actor}>",
    "expired": "expired: nobody answered in time",
    "activated": "session started: the requester gets the token through their DM",
    "stop_requested": "stop requested by <@{actor}>",
    "stopped": "session stopped",
    "failed": "failed",
    "delivery_failed": "the token could not be delivered by DM: session stopped",
    "stop_failing": "Descope's {call} call keeps failing: still retrying",
    "token_shown": "token shown to <@{actor}>",
    "refused": "refused before approval",
    "not_posted": "this channel refused this message at first, so no approver could see it; the requester was told",
    "reminded": "reminder: {mentions} this request is still waiting for a second admin",
}
_WITH_DETAIL = frozenset({"stopped", "failed", "stop_failing", "not_posted"})


def mention(principal: str) -> str:
    """A user (``<@U…>``) or a user group (``<!subteam^S…>``), as a mention that notifies."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"


def event_line(at_text: str, action: str, actor: str, detail: str | None) -> str:
    """One line of the thread: when, what (and, for endings and failures, the detail in a code span)."""
    decoded = decode_detail(detail) if detail else None
    call = decoded.call if isinstance(decoded, StopFailing) else Call.STOP
    mentions = " ".join(mention(p) for p in decoded.approvers) if isinstance(decoded, Reminded) else ""
    count, needed = (decoded.count, decoded.needed) if isinstance(decoded, Tally) else (0, 0)
    by = decoded.by if isinstance(decoded, Linked) else ""
    line = _EVENTS.get(action, action).format(actor=actor, call=call, mentions=mentions, count=count, needed=needed,
                                               by=by)
    if decoded is not None and action in _WITH_DETAIL:
        line += f" ({code(detail_text(decoded))})"
    return f"{at_text}: {line}"


# -- the approval message --------------------------------------------------------------------------------


def approval_fallback(request: RequestView) -> str:
    if request.extends:
        return (f"<@{request.requester_id}> asks for {format_duration(request.duration)} more on session "
                f"{request.extends} ({request.state})")
    return (f"<@{request.requester_id}> asks to impersonate {target(request)} for "
            f"{format_duration(request.duration)} ({request.state})")


def approval_header(request: RequestView) -> str:
    if request.extends:
        return (f"*Extension request* `{request.id}` \u00b7 Extension of `{request.extends}`\n"
                f"<@{request.requester_id}> asks for {format_duration(request.duration)} more on that session.")
    return f"*Impersonation request* `{request.id}`\n<@{request.requester_id}> asks to act as another user."


def policy_line(request: RequestView) -> str | None:
    """Plain text: the POLICY_FILE rule that decided the request and the approvals it needs (``None``: the
    environment's settings, one approval)."""
    if request.rule_name is None and request.approvals_needed <= 1:
        return None
    rule = f"Policy: {request.rule_name}" if request.rule_name else "Policy: default"
    return f"{rule} \u00b7 {request.approvals_needed} approval{'s' if request.approvals_needed != 1 else ''} needed"


def extended_line(request: RequestView) -> str | None:
    """The session's link to the extension that replaced it (mrkdwn)."""
    return f":fast_forward: Extended by `{request.extended_by}`" if request.extended_by else None


def approval_fields(request: RequestView) -> list[str]:
    """Plain text (never mrkdwn): what was typed is shown as typed."""
    return [f"User: {request.login_id}", f"Tenant: {request.tenant or '(none)'}",
            f"Window: {format_duration(request.duration)}", f"Request: {request.id}"]


MAX_TENANTS_SHOWN = 3


def target_line(request: RequestView) -> str | None:
    """Plain text: what Descope says of the target (name, tenants), or that it could not be asked."""
    target = request.target
    if target is None:
        return None
    if not target.verified:
        return "⚠ Not verified in Descope: it could not be reached to look this user up. Check the login ID."
    names = [name or tenant_id for tenant_id, name in target.tenants]
    shown = ", ".join(names[:MAX_TENANTS_SHOWN]) + (f" +{len(names) - MAX_TENANTS_SHOWN} more"
                                                   if len(names) > MAX_TENANTS_SHOWN else "")
    return f"In Descope: {target.name or '(no name)'} · tenants: {shown or '(none)'}"


def reason_field(request: RequestView) -> str:
    return f"Reason: {request.reason}"


APPROVE_LABEL, DENY_LABEL, CANCEL_LABEL = "Approve", "Deny", "Cancel"
APPROVE_CONFIRM_TITLE = "Approve impersonation?"


def approve_confirm(request: RequestView) -> str:
    return (f"{request.login_id[:200]} for {format_duration(request.duration)}. "
            "The requester gets a token that acts as this user.")
