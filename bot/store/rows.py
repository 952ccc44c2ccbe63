"""The row-level SQL under ``Store``: each helper runs inside a transaction ``Store`` opened (a ``sql.Tx``), so
``Store`` stays the one place that owns transactions. ``rewrite`` reads a row under lock and writes it with its
``next_due_at``; ``update_row`` is the cheap path for writes that only delay work (leases); ``claim`` takes a lease and
answers the row as written; ``insert_row`` writes a new request with its first audit row; ``add_audit`` one more
audit row.

The statements are plain SQL through the driver (``bot.store.sql``: issue 13's profile found SQLAlchemy's machinery
around each statement costing more than the statement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.domain import LIVE_STATES, State
from bot.domain.audit import Action, AuditEntry
from bot.domain.schedule import SCHEDULE_COLUMNS, next_due
from bot.store.models import RequestRow, new_request_id, row_of
from bot.store.sql import COLUMNS, SELECT_AUDIT, SELECT_ROW, Cond, Lease, Row, Tx, where

_SCHEDULED = frozenset(SCHEDULE_COLUMNS)
_LEASES = frozenset(lease.value for lease in Lease)

#: A running session, as SQL conditions: active, and no stop asked for. What a stop request, a delivery, a warning,
#: an extension's activation and its retirement each require of a row.
RUNNING = (Row.state == State.ACTIVE.value, Row.stop_requested_at.is_(None))

_ROW = SELECT_ROW + " WHERE id = ?"
_UNPOSTED = SELECT_AUDIT + " WHERE request_id = ? AND id > ? ORDER BY id"
_ADD_AUDIT = ("INSERT INTO audit (request_id, at, actor, action, from_state, to_state, detail) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)")
_ADD_OUTBOX = "INSERT INTO audit_outbox (audit_id) VALUES (?)"
_RETURNING = " RETURNING " + ", ".join(COLUMNS)
_LIVE = tuple(x.value for x in LIVE_STATES)
EMPTY_ROW = dict.fromkeys(COLUMNS)  # a new row's columns that its values leave out


def _known(values: dict[str, Any]) -> dict[str, Any]:
    """``values``, whose keys become SQL text: each must be a column of ``requests`` (names come from code, never
    from a person; this keeps it so)."""
    unknown = values.keys() - EMPTY_ROW.keys()
    if unknown:
        raise KeyError(f"requests has no column {', '.join(sorted(unknown))}")
    return values


def load(tx: Tx, request_id: str) -> RequestRow | None:
    """The whole row, or ``None``."""
    return tx.row(_ROW, (request_id,))


def live_rows(tx: Tx, requester_id: str, login_id: str, tenant: str | None) -> list[RequestRow]:
    """The pending, approved or active requests by this requester for this target (a few at most: a session and
    its extension), oldest first."""
    sql = (f"{SELECT_ROW} WHERE requester_id = ? AND lower(login_id) = ? AND "
           f"{'tenant IS NULL' if tenant is None else 'tenant = ?'} AND state IN ({', '.join('?' * len(_LIVE))}) "
           "ORDER BY created_at LIMIT 5")
    params = [requester_id, login_id.lower(), *([] if tenant is None else [tenant]), *_LIVE]
    return tx.rows(sql, params)


def pending_count(tx: Tx, requester_id: str) -> int:
    found = tx.one("SELECT count(*) FROM requests WHERE requester_id = ? AND state = ?",
                   (requester_id, State.PENDING.value))
    return int(found[0]) if found else 0


def unposted(tx: Tx, row: RequestRow) -> list[AuditEntry]:
    """The request's audit rows not yet in its thread (after ``thread_posted_id``), oldest first."""
    return tx.entries(_UNPOSTED, (row.id, row.thread_posted_id))


def viewers_of(tx: Tx, since: datetime) -> list[str]:
    """Everyone who opened the App Home at ``since`` or later."""
    return [str(found[0]) for found in
            tx.all("SELECT user_id FROM home_viewers WHERE opened_at >= ? ORDER BY user_id", (since,))]


def add_audit(tx: Tx, request_id: str | None, *, at: datetime, actor: str, action: Action, from_state: str | None,
              to_state: str | None, detail: str | None) -> None:
    """An audit row; with the audit stream on (``Db.outbox``), in the same transaction the row that says it is still
    to be delivered (the transactional outbox: a row is streamed if, and only if, it was committed)."""
    params = (request_id, at, actor, action, from_state, to_state, detail)
    if not tx.db.outbox:
        tx.run(_ADD_AUDIT, params)
        return
    if tx.db.returning:
        found = tx.one(_ADD_AUDIT + " RETURNING id", params)
    else:  # an SQLite before 3.35: the row just inserted on this connection
        tx.run(_ADD_AUDIT, params)
        found = tx.one("SELECT last_insert_rowid()")
    assert found is not None
    tx.run(_ADD_OUTBOX, (int(found[0]),))


def delays_only(values: dict[str, Any]) -> bool:
    """Whether a write leaves ``next_due_at`` right without recomputing it: it changes nothing the schedule
    reads, or it only takes or renews a lease (a claim, the keeper). Those only delay work, so ``next_due_at``
    may stay: it is allowed to be early (a tick then finds nothing due and writes it afresh), never late. A
    lease written with anything else (a retry's backoff, which may be shorter than the lease) is recomputed."""
    scheduled = values.keys() & _SCHEDULED
    if not scheduled:
        return True
    return scheduled == values.keys() <= _LEASES and all(values[key] is not None for key in scheduled)


def _locked(tx: Tx, sql: str) -> str:
    """``sql`` taking the row lock on PostgreSQL (SQLite: ``BEGIN IMMEDIATE`` already holds the database's)."""
    return sql + " FOR UPDATE" if tx.db.postgres else sql


def holds(tx: Tx, request_id: str, conditions: Sequence[Cond]) -> bool:
    """Whether ``request_id`` matches ``conditions``, its row locked for the rest of the transaction."""
    sql, params = where([Row.id == request_id, *conditions])
    return tx.one(_locked(tx, f"SELECT id FROM requests WHERE {sql}"), params) is not None


def _update(request_id: str, conditions: Sequence[Cond], values: dict[str, Any],
            returning: bool = False) -> tuple[str, list[Any]]:
    """``UPDATE requests SET … WHERE id = ? AND …`` and its parameters, in order."""
    sets = ", ".join(f"{name} = ?" for name in _known(values))
    sql, params = where([Row.id == request_id, *conditions])
    return f"UPDATE requests SET {sets} WHERE {sql}{_RETURNING if returning else ''}", [*values.values(), *params]


def rewrite(tx: Tx, request_id: str, conditions: Sequence[Cond],
            values: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any] | None], *,
            bump: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read the row under lock, apply ``values`` (and ``version + 1`` with ``bump``), and write them with the
    ``next_due_at`` of the result, if ``conditions`` hold: ``(row before, row after)``, or ``None`` when the row
    did not match. ``values`` may be a function of the row as read (``None``: write nothing). The lock
    (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``) makes what was read what the update changes."""
    found = tx.one(_locked(tx, _ROW), (request_id,))
    if found is None:
        return None
    before = tx.values(found)
    wanted = values(before) if callable(values) else values
    if wanted is None:
        return None
    changes = {**wanted, **({"version": before["version"] + 1} if bump else {})}
    after = {**before, **changes}
    after["next_due_at"] = changes["next_due_at"] = next_due(SimpleNamespace(**after))
    written = tx.run(*_update(request_id, conditions, changes))
    return (before, after) if written == 1 else None


def update_row(tx: Tx, request_id: str, *conditions: Cond, **values: Any) -> bool:
    """``UPDATE requests SET … WHERE id = ? AND …``, keeping ``next_due_at`` in step: true when the row matched."""
    if not delays_only(values):
        return rewrite(tx, request_id, conditions, values) is not None
    return tx.run(*_update(request_id, conditions, values)) == 1


def claim(tx: Tx, request_id: str, conditions: Sequence[Cond], **lease: datetime) -> RequestRow | None:
    """Take a lease (``lease_until=…`` or ``slack_lease_until=…``) if ``conditions`` hold: the row as written, or
    ``None``. One statement where the database has ``UPDATE … RETURNING``."""
    assert delays_only(lease)
    if not tx.db.returning:
        return load(tx, request_id) if tx.run(*_update(request_id, conditions, lease)) == 1 else None
    found = tx.rows(*_update(request_id, conditions, lease, returning=True))
    return found[0] if found else None


def new_request(*, requester_id: str, login_id: str, tenant: str | None, duration: timedelta, reason: str,
                 state: State, created_at: datetime, pending_until: datetime, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=new_request_id(), requester_id=requester_id, login_id=login_id, tenant=tenant,
        duration_s=int(duration.total_seconds()), reason=reason, state=state.value, version=1,
        created_at=created_at, pending_until=pending_until, stop_attempts=0, slack_version=0, thread_posted_id=0,
        reminders_sent=0, approvals_needed=1, post_failures=0, break_glass=False, review_reminders_sent=0,
    )
    values.update(extra)
    return values


def insert_row(tx: Tx, values: dict[str, Any], *, actor: str, action: Action, detail: str | None) -> RequestRow:
    """The row (with its ``next_due_at``) and its first audit row; the row as written."""
    row = row_of({**EMPTY_ROW, **values})
    row.next_due_at = values["next_due_at"] = next_due(row)
    tx.run(f"INSERT INTO requests ({', '.join(_known(values))}) VALUES ({', '.join('?' * len(values))})",
           list(values.values()))
    add_audit(tx, values["id"], at=values["created_at"], actor=actor, action=action, from_state=None,
              to_state=values["state"], detail=detail)
    return row
