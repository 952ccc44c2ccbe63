"""Escalations: a pending request nobody answers, or whose approvers are gone, is opened to more people.

A request whose rules escalate (``escalate_after`` and ``escalate_to``; ``ESCALATE_AFTER`` and
``ESCALATION_APPROVERS`` for the environment's) is looked at twice. Just after it is made (``CHECK_AFTER``): if fewer
of its approvers are active in Slack than the approvals it needs (deactivated accounts; the requester does not
count), it escalates at once, saying so; else the look is put off until ``escalate_after`` has passed since it was
made, when, still pending, it escalates. Escalating mentions the ``escalate_to`` users and groups in the request's
thread (the projection posts the audit row's line, and the approval message shows "Escalated to … at …"), and from
then on they may approve or deny it like its approvers (``Context.may_approve``), counting toward N of M.

Each look is one conditional write on the row's ``escalate_at`` (with the escalation's audit row): across replicas
and restarts exactly one escalates, and a look that fell due while the bot was down runs at the next sweep.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain.outcomes import Escalated
from bot.domain.schedule import Work, due_now
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")

#: The first look, just after a request is made: are any of its approvers still active in Slack?
CHECK_AFTER = timedelta(seconds=1)


class Escalations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def look(self, request_id: str) -> bool:
        """Escalate the request if it is due to (or put the look off until it is). True when it escalated."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        now = ctx.clock()
        if row is None or row.escalate_at is None or Work.ESCALATE not in due_now(row, now):
            return False
        decision = ctx.decision_of(row)
        after = decision.escalate_after
        if after is None or not decision.escalate_to():  # the rules no longer escalate it
            ctx.store.put_off_escalation(request_id, row.escalate_at, None)
            return False
        gone = not ctx.directory.enough_active(decision.approvers(), besides=row.requester_id,
                                               needed=decision.approvals)
        if not gone and now < row.created_at + after:
            ctx.store.put_off_escalation(request_id, row.escalate_at, row.created_at + after)
            ctx.arm(request_id)
            return False
        escalated = Escalated(decision.escalate_to(), int(after.total_seconds()), no_active_approver=gone)
        if not ctx.store.escalate(request_id, row.escalate_at, escalated=escalated, now=now):
            return False
        log.info("request %s escalated to %s (%s)", request_id, ", ".join(escalated.to),
                 "no approver active in Slack" if gone else f"waited {after}")
        ctx.timers.kick(request_id)
        return True
