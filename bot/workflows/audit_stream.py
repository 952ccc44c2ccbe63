"""The audit stream: every audit row, as it is committed, delivered to the security team's intake
(``AUDIT_WEBHOOK_URL``, ``Intake``), at least once and in the order of the audit rows.

The row to deliver is written with the audit row, in its transaction (``audit_outbox``: ``rows.add_audit``). One
replica at a time delivers (the ``audit_stream`` duty's lease, ``Store.claim_duty``): up to ``BATCH`` events per POST,
oldest first, each with its ``seq`` given when it is first sent (a retry sends the same ``id``s with the same
``seq``s first). The lease is renewed before each batch and fenced by the claim's token: a turn that overran it stops,
and never gives back another's. Events go in the order they were committed: a request's own in the order they
happened. Taken (2xx): out of the outbox, the next batch. Not taken (an answer other than 2xx, or none): tried again
after a delay doubling from ``FIRST_RETRY`` up to ``LONGEST_RETRY``, whatever the answer (an intake refusing for
ever is logged with its status and counted, and gets everything once fixed). A crash or a restart loses nothing: the
outbox is in the database, and the retention keeps an audit row until it is delivered.

An event (never a token: the audit holds none)::

    {"id": "412", "seq": 17, "time": "2026-12-07T14:02:11.250000Z", "action": "approved", "request_id": "K7M2QX9A",
     "actor": "U0ADA", "target": "jane@acme.com", "tenant": "acme-eu", "details": {...}}
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from bot.store.stream import AUDIT_STREAM, StreamEvent, decoded
from bot.workflows.context import Context
from bot.workflows.ports import Intake, IntakeFailed

log = logging.getLogger("bot.workflows")

BATCH = 100
BATCHES_PER_TURN = 20  # then the duty is given back (another replica, or the next turn, goes on)
FIRST_RETRY = timedelta(seconds=1)
LONGEST_RETRY = timedelta(minutes=5)
TURN = timedelta(minutes=1)  # the duty's lease, renewed before each batch (a POST gives up well within it)


def event(row: StreamEvent) -> dict[str, Any]:
    """What the intake receives of an audit row (and ``audit export`` writes; without ``seq`` there)."""
    details = decoded(row.detail)
    if row.from_state is not None or row.to_state is not None:
        details = {**details, "from_state": row.from_state, "to_state": row.to_state}
    target = row.target if row.target is not None else details.get("login_id")
    return {"id": str(row.audit_id), "seq": row.seq,
            "time": row.at.astimezone(UTC).isoformat().replace("+00:00", "Z"), "action": row.action,
            "request_id": row.request_id, "actor": row.actor, "target": target, "tenant": row.tenant,
            "details": details}


class AuditStream:
    def __init__(self, ctx: Context, intake: Intake) -> None:
        self.ctx = ctx
        self.intake = intake

    def deliver(self) -> int:
        """Deliver what waits, if this replica holds the duty and it is not waiting to try again; how many events
        the intake took."""
        ctx = self.ctx
        if not ctx.store.outbox_waiting():  # a read: no write at all while nothing waits
            return 0
        now = ctx.clock()
        duty = ctx.store.claim_duty(AUDIT_STREAM, now, now + TURN)
        if duty is None:
            return 0
        taken = 0
        try:
            for _ in range(BATCHES_PER_TURN):
                if not ctx.store.renew_duty(duty, ctx.clock() + TURN):
                    log.warning("the audit stream's turn was lost (it overran its lease): another replica goes on")
                    return taken
                batch = ctx.store.outbox_batch(duty, BATCH)
                if not batch:
                    break
                try:
                    self.intake.send([event(row) for row in batch])
                except IntakeFailed as exc:
                    failures = duty.failures + 1
                    wait = min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(failures - 1, 20))
                    ctx.store.put_off(AUDIT_STREAM, ctx.clock() + wait, failures=failures)
                    outcome = "unreachable" if exc.status is None else "refused" if 400 <= exc.status < 500 \
                        else "failed"
                    ctx.observer.audit_delivery(outcome)
                    log.warning("the audit intake did not take %d events (%s, %d failures in a row); trying again "
                                "in %s", len(batch), exc.what, failures, wait)
                    break
                ctx.store.delivered([row.audit_id for row in batch])
                ctx.observer.audit_delivery("delivered", len(batch))
                taken += len(batch)
                duty = replace(duty, failures=0)
        finally:
            ctx.store.release_duty(duty)
        return taken
