"""The approval message's thread: one line per audit event (``event_line``), worded by its ``Action``."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.audit import Action
from bot.domain.durations import format_duration
from bot.domain.outcomes import (
    Call,
    Detail,
    Escalated,
    Linked,
    Proved,
    PutOff,
    Reminded,
    StopFailing,
    Tally,
    Verification,
    decode_detail,
)
from bot.domain.proof import MAX_WRONG_CODES, Purpose
from bot.slack.messages.outcomes import detail_text, mention
from bot.slack.messages.proofs import METHOD_NAMES, proved_by
from bot.slack.mrkdwn import code, when

_EVENTS: dict[str, str] = {
    Action.APPROVED: "approved by <@{actor}>{proved}",
    Action.APPROVAL: "approved by <@{actor}>{proved} ({count} of {needed}): waiting for more approvers",
    Action.EXTENDED: "replaced by extension `{by}`, whose token was delivered first: stopping this session",
    Action.DENIED: "denied by <@{actor}>",
    Action.WITHDRAWN: "withdrawn by <@{actor}>",
    Action.EXPIRED: "expired: nobody answered in time",
    Action.ACTIVATED: "session started: the requester gets the token through their DM",
    Action.PUT_OFF: "Descope's rate limit asked the bot to wait: the session starts at about {until}",
    Action.STOP_REQUESTED: "stop requested by <@{actor}>",
    Action.STOPPED: "session stopped",
    Action.FAILED: "failed",
    Action.DELIVERY_FAILED: "the token could not be delivered by DM: session stopped",
    Action.STOP_FAILING: "Descope's {call} call keeps failing: still retrying",
    Action.TOKEN_SHOWN: "token shown to <@{actor}>{proved}",
    Action.REFUSED: "refused before approval",
    Action.NOT_POSTED: "this channel refused this message at first, so no approver could see it; the requester was "
                       "told",
    Action.REMINDED: "reminder: {mentions} this request is still waiting for a second admin",
    Action.PROOF_FAILED: "a wrong code from <@{actor}> for {for_what} ({method}, {failures} of {most})",
    Action.PROOF_LOCKED: ":no_entry: <@{actor}> typed {failures} wrong codes for {for_what} ({method}): refused on "
                         "this request",
    Action.BREAK_GLASS: ":rotating_light: break-glass: <@{actor}> started the session with no approver",
    Action.REVIEWED: "reviewed by <@{actor}>: looks right",
    Action.FLAGGED: ":triangular_flag_on_post: stopped and flagged by <@{actor}>",
    Action.REVIEW_REMINDED: "reminder: {mentions} this break-glass session has not been reviewed yet",
    Action.ESCALATED: ":rotating_light: escalated: {mentions} may now approve or deny this request ({why})",
    Action.PROOF_FORGED: ":rotating_light: Descope's answer to <@{actor}>'s code for {for_what} failed the bot's "
                         "checks ({why}): refused; someone may be inside the network path to Descope",
}
_WITH_DETAIL = frozenset({Action.STOPPED, Action.FAILED, Action.STOP_FAILING, Action.NOT_POSTED})
#: Events that need someone's attention now: their reply is also shown in the channel, not only in the thread.
ALARMS = frozenset({Action.DELIVERY_FAILED, Action.STOP_FAILING, Action.PROOF_LOCKED, Action.PROOF_FORGED,
                    Action.FLAGGED})


def event_line(at_text: str, action: str, actor: str, detail: str | None) -> str:
    """One line of the thread: when, what (and, for endings and failures, the detail in a code span)."""
    decoded = decode_detail(detail) if detail else None
    call = decoded.call if isinstance(decoded, StopFailing) else Call.STOP
    mentions = " ".join(mention(p) for p in decoded.approvers) if isinstance(decoded, Reminded) else \
        " ".join(mention(p) for p in decoded.to) if isinstance(decoded, Escalated) else ""
    count, needed = (decoded.count, decoded.needed) if isinstance(decoded, Tally) else (0, 0)
    by = decoded.by if isinstance(decoded, Linked) else ""
    until = when(datetime.fromisoformat(decoded.until)) if isinstance(decoded, PutOff) else ""
    proved = proved_by(decoded.mfa) if isinstance(decoded, Tally | Proved) else ""
    failed = decoded if isinstance(decoded, Verification) else None
    line = _EVENTS.get(action, action).format(
        actor=actor, call=call, until=until, mentions=mentions, count=count, needed=needed, by=by, proved=proved,
        for_what="showing the token" if failed and failed.purpose is Purpose.REVEAL else "an approval",
        method=METHOD_NAMES.get(failed.mfa, "") if failed else "", failures=failed.failures if failed else 0,
        most=MAX_WRONG_CODES, why=failed.why if failed else escalation_why(decoded))
    if decoded is not None and action in _WITH_DETAIL:
        line += f" ({code(detail_text(decoded))})"
    return f"{at_text}: {line}"


def escalation_why(detail: Detail | None) -> str:
    """Why a request escalated, after the mentions."""
    if not isinstance(detail, Escalated):
        return ""
    if detail.no_active_approver:
        return "none of its approvers is active in Slack any more"
    return f"nobody answered within {format_duration(timedelta(seconds=detail.after_s or 0))}"
