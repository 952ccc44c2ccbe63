"""Retention: ``RETENTION`` after a request ended, it is deleted with its audit rows (``purge``, called by the
ticker at most once a minute). The one DELETE of audit rows there is: on PostgreSQL the audit table's trigger
(migration 0007) refuses any other UPDATE or DELETE."""

from __future__ import annotations

from datetime import datetime

from bot.domain import FINAL_STATES
from bot.store.break_glass import STARTED
from bot.store.sql import Cond, Lease, Row, lease_free, where
from bot.store.store import Store


def purge(store: Store, before: datetime, now: datetime, limit: int = 500) -> int:
    """Retention: delete up to ``limit`` requests that ended before ``before``, with their audit rows, in one
    transaction; returns how many. Ended = in a final state, nothing more due, Slack caught up and no lease
    held, no break-glass review awaited, every audit row (its last event) older than ``before``, and none still to
    deliver to ``AUDIT_WEBHOOK_URL``. Live requests
    are never touched. PostgreSQL: the audit table's trigger (migration 0007) refuses a DELETE unless the
    transaction set ``impersonation_bot.purging``, which only this method does."""
    sql, params = where([
        Row.state.in_([x.value for x in FINAL_STATES]), Row.next_due_at.is_(None),
        Cond("slack_version = version"), lease_free(Lease.WORK, now), lease_free(Lease.SLACK, now),
        Row.created_at < before,
        Cond(f"NOT (break_glass = ? AND reviewed_at IS NULL AND flagged_at IS NULL AND state IN "  # awaiting review
             f"({', '.join('?' * len(STARTED))}))", True, *STARTED),
        Cond("NOT EXISTS (SELECT 1 FROM audit WHERE audit.request_id = requests.id AND audit.at >= ?)", before),
        Cond("NOT EXISTS (SELECT 1 FROM audit_outbox o JOIN audit a ON a.id = o.audit_id "  # streamed first
             "WHERE a.request_id = requests.id)"),
    ])
    ended = f"SELECT id FROM requests WHERE {sql} ORDER BY created_at LIMIT ?"
    with store.write() as s:
        ids = [str(found[0]) for found in s.all(ended + (" FOR UPDATE" if s.db.postgres else ""), [*params, limit])]
        if not ids:
            return 0
        if s.db.postgres:
            s.one("SELECT set_config('impersonation_bot.purging', 'on', true)")
        marks = ", ".join("?" * len(ids))
        s.run(f"DELETE FROM audit WHERE request_id IN ({marks})", ids)
        s.run(f"DELETE FROM requests WHERE id IN ({marks})", ids)
        return len(ids)
