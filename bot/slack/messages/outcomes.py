"""Why a request failed and how a session ended, in words the requester can act on: every ``bot.domain.outcomes``
detail as a sentence (``failure_text``, ``ending_text``, ``detail_text``); ``mention`` notifies a user or a group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.durations import format_duration
from bot.domain.outcomes import (
    Activated,
    Call,
    Detail,
    Ending,
    EndReason,
    Escalated,
    Failure,
    FailureKind,
    Legacy,
    Linked,
    NotPosted,
    Outside,
    Proved,
    PutOff,
    Reminded,
    StopFailing,
    Tally,
    TokenFate,
    Verification,
)
from bot.transport.retry_after import whole_seconds


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
        case FailureKind.BREAK_GLASS_REFUSED:
            why = {"not_allowed": "the rules do not allow it", "no_reason": "its reason was too short",
                   "too_long": "its window was over the cap", "too_often": "the day's allowance was used up"}
            return f"a break-glass the rules refused ({why.get(f.description or '', f.description or '')})"
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
        case PutOff():
            return (f"Descope's rate limit asked to wait {whole_seconds(detail.retry_after_s)}s: the impersonate call "
                    f"again at {detail.until}")
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
        case Verification():
            return f"{detail.purpose.value} by {detail.mfa.value}: {detail.why}"
        case Proved():
            return f"proved by {detail.mfa.value}"
        case Escalated():
            return f"escalated to {', '.join(detail.to)}"
        case Outside():
            return f"{detail.login_id or detail.user_id} impersonated at {detail.occurred} outside the bot"




def mention(principal: str) -> str:
    """A user (``<@U…>``) or a user group (``<!subteam^S…>``), as a mention that notifies."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"
