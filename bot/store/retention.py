"""Retention: ``RETENTION`` after a request ended, it is deleted with its audit rows (``purge``, called by the
ticker at most once a minute). The one DELETE of audit rows there is: on PostgreSQL the audit table's trigger
(migration 0007) refuses any other UPDATE or DELETE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select

from bot.domain import FINAL_STATES
from bot.store.models import AUDIT, REQUESTS
from bot.store.store import Store


def _lease_free(lease_until: Any, now: datetime) -> Any:
    return or_(lease_until.is_(None), lease_until < now)


def purge(store: Store, before: datetime, now: datetime, limit: int = 500) -> int:
    """Retention: delete up to ``limit`` requests that ended before ``before``, with their audit rows, in one
    transaction; returns how many. Ended = in a final state, nothing more due, Slack caught up and no lease
    held, and every audit row (its last event) older than ``before``. Live requests are never touched.
    PostgreSQL: the audit table's trigger (migration 0007) refuses a DELETE unless the transaction set
    ``impersonation_bot.purging``, which only this method does."""
    recent = exists().where(AUDIT.c.request_id == REQUESTS.c.id, AUDIT.c.at >= before)
    ended = select(REQUESTS.c.id).where(
        REQUESTS.c.state.in_([x.value for x in FINAL_STATES]), REQUESTS.c.next_due_at.is_(None),
        REQUESTS.c.slack_version == REQUESTS.c.version, _lease_free(REQUESTS.c.lease_until, now),
        _lease_free(REQUESTS.c.slack_lease_until, now), REQUESTS.c.created_at < before, ~recent,
    ).order_by(REQUESTS.c.created_at).limit(limit).with_for_update()
    with store.tx() as conn:
        ids = list(conn.execute(ended).scalars())
        if not ids:
            return 0
        if store.engine.dialect.name == "postgresql":
            conn.execute(select(func.set_config("impersonation_bot.purging", "on", True)))
        conn.execute(delete(AUDIT).where(AUDIT.c.request_id.in_(ids)))
        conn.execute(delete(REQUESTS).where(REQUESTS.c.id.in_(ids)))
        return len(ids)
