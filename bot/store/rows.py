"""The row-level SQL under ``Store``: each helper runs inside a transaction ``Store`` opened, so ``Store`` stays the
one place that owns transactions. ``rewrite`` reads a row under lock and writes it with its ``next_due_at``;
``update_row`` is the cheap path for writes that only delay work (leases); ``insert_row`` writes a new request
with its first audit row; ``add_audit`` one more audit row.

All of it is plain Core on a ``Connection``: no ORM ``Session`` (its unit of work and identity map cost more than the
SQL, issue 13's profile), and the statements run on every path are built once here (``_ROW``, ``_LOCKED_ROW``,
``_UNPOSTED``, ``_ADD_AUDIT``), so SQLAlchemy finds them in its compiled cache without rebuilding them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.sql import Select

from bot.domain import LIVE_STATES, RequestView, State
from bot.domain.schedule import SCHEDULE_COLUMNS, next_due
from bot.store.models import AUDIT, REQUESTS, AuditEntry, RequestRow, as_entry, as_view, new_request_id, row_of

_SCHEDULED = frozenset(SCHEDULE_COLUMNS)
_LEASES = frozenset({"lease_until", "slack_lease_until"})


#: A running session, as SQL conditions: active, and no stop asked for. What a stop request, a delivery, a warning,
#: an extension's activation and its retirement each require of a row.
RUNNING = (RequestRow.state == State.ACTIVE.value, RequestRow.stop_requested_at.is_(None))


_ROW = select(REQUESTS).where(REQUESTS.c.id == bindparam("request_id"))
_LOCKED_ROW = _ROW.with_for_update()
_UNPOSTED = (select(AUDIT).where(AUDIT.c.request_id == bindparam("request_id"), AUDIT.c.id > bindparam("after"))
             .order_by(AUDIT.c.id))
_ADD_AUDIT = insert(AUDIT)
_EMPTY_ROW = dict.fromkeys(REQUESTS.c.keys())  # a new row's columns that its values leave out


def load(conn: Connection, request_id: str) -> RequestRow | None:
    """The whole row, or ``None``."""
    found = conn.execute(_ROW, {"request_id": request_id}).mappings().first()
    return None if found is None else row_of(found)


def live_query(requester_id: str, login_id: str, tenant: str | None) -> Select[Any]:
    """The pending, approved or active requests by this requester for this target (a few at most: a session and
    its extension)."""
    return select(REQUESTS).where(
        RequestRow.requester_id == requester_id,
        func.lower(RequestRow.login_id) == login_id.lower(),
        RequestRow.tenant.is_(None) if tenant is None else RequestRow.tenant == tenant,
        RequestRow.state.in_([x.value for x in LIVE_STATES]),
    ).order_by(RequestRow.created_at).limit(5)


def slack_work_of(conn: Connection, request_id: str) -> tuple[RequestRow, list[AuditEntry]] | None:
    row = load(conn, request_id)
    if row is None:
        return None
    unposted = conn.execute(_UNPOSTED, {"request_id": request_id, "after": row.thread_posted_id}).mappings()
    return row, [as_entry(a) for a in unposted]


def add_audit(conn: Connection, request_id: str, *, at: datetime, actor: str, action: str, from_state: str | None,
              to_state: str | None, detail: str | None) -> None:
    conn.execute(_ADD_AUDIT, dict(request_id=request_id, at=at, actor=actor, action=action, from_state=from_state,
                                  to_state=to_state, detail=detail))


def lease_free(lease_until: Any, now: datetime) -> Any:
    """The condition that no live lease is held in ``lease_until`` (a column) at ``now``."""
    return or_(lease_until.is_(None), lease_until < now)


def delays_only(values: dict[str, Any]) -> bool:
    """Whether a write leaves ``next_due_at`` right without recomputing it: it changes nothing the schedule
    reads, or it only takes or renews a lease (a claim, the keeper). Those only delay work, so ``next_due_at``
    may stay: it is allowed to be early (a tick then finds nothing due and writes it afresh), never late. A
    lease written with anything else (a retry's backoff, which may be shorter than the lease) is recomputed."""
    scheduled = values.keys() & _SCHEDULED
    if not scheduled:
        return True
    return scheduled == values.keys() <= _LEASES and all(values[key] is not None for key in scheduled)


def holds(conn: Connection, request_id: str, conditions: Sequence[Any]) -> bool:
    """Whether ``request_id`` matches ``conditions``, its row locked for the rest of the transaction."""
    found = conn.execute(select(REQUESTS.c.id).where(REQUESTS.c.id == request_id, *conditions)
                         .with_for_update()).first()
    return found is not None


def rewrite(conn: Connection, request_id: str, where: Sequence[Any],
            values: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any] | None], *,
            bump: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read the row under lock, apply ``values`` (and ``version + 1`` with ``bump``), and write them with the
    ``next_due_at`` of the result, if ``where`` holds: ``(row before, row after)``, or ``None`` when the row
    did not match. ``values`` may be a function of the row as read (``None``: write nothing). The lock
    (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``) makes what was read what the update changes."""
    found = conn.execute(_LOCKED_ROW, {"request_id": request_id}).mappings().first()
    if found is None:
        return None
    before = dict(found)
    wanted = values(before) if callable(values) else values
    if wanted is None:
        return None
    changes = {**wanted, **({"version": before["version"] + 1} if bump else {})}
    after = {**before, **changes}
    after["next_due_at"] = changes["next_due_at"] = next_due(SimpleNamespace(**after))
    result = conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id, *where).values(**changes))
    return (before, after) if result.rowcount == 1 else None


def update_row(conn: Connection, request_id: str, *where: Any, **values: Any) -> bool:
    """``UPDATE requests SET … WHERE id = :id AND …``, keeping ``next_due_at`` in step: true when the row matched."""
    if not delays_only(values):
        return rewrite(conn, request_id, where, values) is not None
    result = conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id, *where).values(**values))
    return bool(result.rowcount == 1)


def new_request(*, requester_id: str, login_id: str, tenant: str | None, duration: timedelta, reason: str,
                 state: State, created_at: datetime, pending_until: datetime, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=new_request_id(), requester_id=requester_id, login_id=login_id, tenant=tenant,
        duration_s=int(duration.total_seconds()), reason=reason, state=state.value, version=1,
        created_at=created_at, pending_until=pending_until, stop_attempts=0, slack_version=0, thread_posted_id=0,
        reminders_sent=0, approvals_needed=1,
    )
    values.update(extra)
    return values


def insert_row(conn: Connection, values: dict[str, Any], *, actor: str, action: str,
               detail: str | None) -> RequestView:
    """The row (with its ``next_due_at``) and its first audit row."""
    row = row_of({**_EMPTY_ROW, **values})
    row.next_due_at = values["next_due_at"] = next_due(row)
    conn.execute(insert(REQUESTS), values)
    add_audit(conn, values["id"], at=values["created_at"], actor=actor, action=action, from_state=None,
              to_state=values["state"], detail=detail)
    return as_view(row)

