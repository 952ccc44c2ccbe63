"""Reminders: while a request waits, its approvers are mentioned in the approval message's thread after
``REMINDER_INTERVAL``, then after twice that, four times, … until it is decided, withdrawn or expires.

The next reminder's moment is on the row (``remind_at``), so the schedule stays a function of the row. Each
reminder is one conditional write (on that ``remind_at``) with its audit row: across any number of replicas
exactly one sends each. The projection then posts it to the thread, like every audit event.
"""

from __future__ import annotations

import logging

from bot.config import is_group_id
from bot.domain.outcomes import Reminded
from bot.domain.schedule import Work, due_now
from bot.store import RequestRow
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")


class Reminders:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _still_to_approve(self, row: RequestRow) -> tuple[str, ...]:
        """The approvers of the request's rules (``Decision.approvers``; once it escalated, its escalation approvers
        too), less those who approved it already and those whose Slack account is deactivated (groups stay: any
        member who has not approved may)."""
        decision, approved, directory = self.ctx.decision_of(row), row.approvers, self.ctx.directory
        asked = (*decision.approvers(), *(decision.escalate_to() if row.escalated_at is not None else ()))
        return tuple(p for p in dict.fromkeys(asked)
                     if p not in approved and (is_group_id(p) or directory.is_active(p)))

    def remind(self, request_id: str) -> bool:
        """Record the reminder that is due, if this caller wins it. True when it did."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        if row is None or row.remind_at is None or Work.REMIND not in due_now(row, ctx.clock()):
            return False
        interval = ctx.settings.reminder_interval
        sent = row.reminders_sent + 1
        following = row.remind_at + interval * 2 ** sent if interval else None  # REMINDER_INTERVAL=0 since: stop
        if interval:
            won = ctx.store.remind(request_id, row.remind_at, now=ctx.clock(), following=following,
                                   reminded=Reminded(sent, self._still_to_approve(row)))
        else:  # REMINDER_INTERVAL=0 since this one was set: no more
            won = ctx.store.stop_reminding(request_id, row.remind_at)
        if won and interval:
            log.info("request %s: reminder %d sent to the approvers", request_id, sent)
            ctx.timers.kick(request_id)
        return bool(won and interval)
