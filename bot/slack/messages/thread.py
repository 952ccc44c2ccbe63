"""The approval message's thread: one line per audit event (``event_line``), worded by its ``Action``."""

from __future__ import annotations

from bot.domain.audit import Action
from bot.domain.outcomes import Call, Linked, Reminded, StopFailing, Tally, decode_detail
from bot.slack.messages.outcomes import detail_text, mention
from bot.slack.mrkdwn import code

_EVENTS: dict[str, str] = {
    Action.APPROVED: "approved by <@{actor}>",
    Action.APPROVAL: "approved by <@{actor}> ({count} of {needed}): waiting for more approvers",
    Action.EXTENDED: "replaced by extension `{by}`, whose token was delivered first: stopping this session",
    Action.DENIED: "denied by <@{actor}>",
    Action.WITHDRAWN: "withdrawn by <@{actor}>",
    Action.EXPIRED: "expired: nobody answered in time",
    Action.ACTIVATED: "session started: the requester gets the token through their DM",
    Action.STOP_REQUESTED: "stop requested by <@{actor}>",
    Action.STOPPED: "session stopped",
    Action.FAILED: "failed",
    Action.DELIVERY_FAILED: "the token could not be delivered by DM: session stopped",
    Action.STOP_FAILING: "Descope's {call} call keeps failing: still retrying",
    Action.TOKEN_SHOWN: "token shown to <@{actor}>",
    Action.REFUSED: "refused before approval",
    Action.NOT_POSTED: "this channel refused this message at first, so no approver could see it; the requester was "
                       "told",
    Action.REMINDED: "reminder: {mentions} this request is still waiting for a second admin",
}
_WITH_DETAIL = frozenset({Action.STOPPED, Action.FAILED, Action.STOP_FAILING, Action.NOT_POSTED})
#: Events that need someone's attention now: their reply is also shown in the channel, not only in the thread.
ALARMS = frozenset({Action.DELIVERY_FAILED, Action.STOP_FAILING})


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


