"""``Store``: the only code that reads or writes the tables. One state change = one call = one transaction
with its audit row.

Every state change is a conditional ``UPDATE … WHERE id = :id AND state IN (…)`` (``transition``): whichever
caller's update matches wins, the rest see ``None``, whether the race is two clicks, two threads or two
replicas. Work that calls another system runs under a lease column (``claim_work``, ``claim_slack``): one
worker at a time, and a crashed worker's lease simply runs out.

Every write keeps ``next_due_at`` (``bot.domain.schedule.next_due`` of the row as written) never later than the
truth, in the same transaction: a write that moves the schedule writes it exactly; taking or renewing a lease
(which only delays work) leaves it early, and the tick that finds nothing due writes it afresh. ``due`` finds what
the sweep must do by that one indexed column.

``purge`` is the retention (``RETENTION``): ended requests older than the cut-off go, with their audit rows.

SQLite allows one writer at a time. Writes (``tx``) queue on a lock in this process and then take SQLite's
lock with ``BEGIN IMMEDIATE``; reads (``read``) open a plain deferred transaction, which WAL lets run beside
a writer. Without the in-process queue, every waiting writer polls in SQLite's busy handler, which sleeps up
to 100 ms between tries: tens of ms added to a slash command's answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from bot.domain import LIVE_STATES, RequestView, State, check_transition
from bot.domain.schedule import SCHEDULE_COLUMNS, next_due
from bot.store.engine import READ_ONLY
from bot.store.models import AUDIT, REQUESTS, AuditEntry, AuditRow, RequestRow, as_entry, as_view, new_request_id

_SCHEDULED = frozenset(SCHEDULE_COLUMNS)
_LEASES = frozenset({"lease_until", "slack_lease_until"})


def _live_query(requester_id: str, login_id: str, tenant: str | None) -> Select[RequestRow]:
    """A pending, approved or active request by this requester for this target."""
    return select(RequestRow).where(
        RequestRow.requester_id == requester_id,
        func.lower(RequestRow.login_id) == login_id.lower(),
        RequestRow.tenant.is_(None) if tenant is None else RequestRow.tenant == tenant,
        RequestRow.state.in_([x.value for x in LIVE_STATES]),
    ).limit(1)


def _slack_work(s: Session, request_id: str) -> tuple[RequestRow, list[AuditEntry]] | None:
    row = s.get(RequestRow, request_id)
    if row is None:
        return None
    unposted = s.execute(select(AuditRow).where(AuditRow.request_id == request_id, AuditRow.id > row.thread_posted_id)
                         .order_by(AuditRow.id)).scalars()
    return row, [as_entry(a) for a in unposted]


def lease_free(lease_until: Any, now: datetime) -> Any:
    """The condition that no live lease is held in ``lease_until`` (a column) at ``now``."""
    return or_(lease_until.is_(None), lease_until < now)


def _delays_only(values: dict[str, Any]) -> bool:
    """Whether a write leaves ``next_due_at`` right without recomputing it: it changes nothing the schedule
    reads, or it only takes or renews a lease (a claim, the keeper). Those only delay work, so ``next_due_at``
    may stay: it is allowed to be early (a tick then finds nothing due and writes it afresh), never late. A
    lease written with anything else (a retry's backoff, which may be shorter than the lease) is recomputed."""
    scheduled = values.keys() & _SCHEDULED
    if not scheduled:
        return True
    return scheduled == values.keys() <= _LEASES and all(values[key] is not None for key in scheduled)


def _rewrite(s: Session, request_id: str, where: Sequence[Any], values: dict[str, Any], *,
             bump: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Read the row under lock, apply ``values`` (and ``version + 1`` with ``bump``), and write them with the
    ``next_due_at`` of the result, if ``where`` holds: ``(row before, row after)``, or ``None`` when the row
    did not match. The lock (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``) makes what was read
    what the update changes."""
    conn = s.connection()
    found = conn.execute(select(REQUESTS).where(REQUESTS.c.id == request_id).with_for_update()).mappings().first()
    if found is None:
        return None
    before = dict(found)
    changes = {**values, **({"version": before["version"] + 1} if bump else {})}
    after = {**before, **changes}
    after["next_due_at"] = changes["next_due_at"] = next_due(SimpleNamespace(**after))
    result = conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id, *where).values(**changes))
    return (before, after) if result.rowcount == 1 else None


def _update(s: Session, request_id: str, *where: Any, **values: Any) -> bool:
    """``UPDATE requests SET … WHERE id = :id AND …`` in plain Core (none of the ORM's bookkeeping, which
    nothing here needs), keeping ``next_due_at`` in step: true when the row matched."""
    if not _delays_only(values):
        return _rewrite(s, request_id, where, values) is not None
    result = s.connection().execute(update(REQUESTS).where(REQUESTS.c.id == request_id, *where).values(**values))
    return bool(result.rowcount == 1)


def _new_request(*, requester_id: str, login_id: str, tenant: str | None, duration: timedelta, reason: str,
                 state: State, created_at: datetime, pending_until: datetime, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        id=new_request_id(), requester_id=requester_id, login_id=login_id, tenant=tenant,
        duration_s=int(duration.total_seconds()), reason=reason, state=state.value, version=1,
        created_at=created_at, pending_until=pending_until, stop_attempts=0, slack_version=0, thread_posted_id=0,
        reminders_sent=0,
    )
    values.update(extra)
    return values


def _insert(s: Session, values: dict[str, Any], *, actor: str, action: str, detail: str | None) -> RequestView:
    """The row (with its ``next_due_at``) and its first audit row, in plain Core: the hot path of every
    slash command, without the ORM's unit of work."""
    row = RequestRow(**values)
    row.next_due_at = values["next_due_at"] = next_due(row)
    conn = s.connection()
    conn.execute(insert(REQUESTS), values)
    conn.execute(insert(AUDIT), dict(request_id=values["id"], at=values["created_at"], actor=actor, action=action,
                                     from_state=None, to_state=values["state"], detail=detail))
    return as_view(row)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite: writers of this process queue here (see the module docstring). Re-entrant, so a
        # write nested in another on the same thread fails as before instead of hanging here.
        self._writers: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext())
        #: Told each outcome a request reaches, after its commit: ``submitted``, ``refused``, or the state a
        #: transition entered (``bot.metrics`` counts them). Must not raise.
        self.on_outcome: Callable[[str], None] = lambda outcome: None

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A transaction that may write."""
        with self._writers, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads (SQLite: no write lock taken, no queueing behind writers)."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={READ_ONLY: True})
            yield session

    def ping(self) -> None:
        with self.read() as s:
            s.execute(select(1))

    def database_now(self) -> datetime | None:
        """The database server's own clock (PostgreSQL ``clock_timestamp()``); ``None`` for SQLite, which serves
        one process on this machine: that process's clock is the database's."""
        if self.engine.dialect.name != "postgresql":
            return None
        with self.read() as s:
            moment: datetime = s.execute(select(func.clock_timestamp())).scalar_one()
            return moment.astimezone(UTC)

    # -- writes -----------------------------------------------------------------------------

    def insert(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
               reason: str, pending_until: datetime, now: datetime, target: dict[str, str | None] | None = None,
               remind_at: datetime | None = None,
               guard: Callable[[RequestView | None, int], None] = lambda live, pending: None) -> RequestView:
        """Store a new pending request with its audit row. In the same transaction, and serialised per
        requester, ``guard`` is shown the requester's open request for the same target (if any) and how
        many requests they have pending; it raises to refuse, and then nothing is stored. So two commands
        sent at once cannot both slip under a cap. ``target``: the pre-flight's columns."""
        with self.tx() as s:
            if self.engine.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises
                s.execute(select(func.pg_advisory_xact_lock(func.hashtext("impersonation-requester:" + requester_id))))
            live = s.execute(_live_query(requester_id, login_id, tenant)).scalar_one_or_none()
            pending = s.execute(
                select(func.count()).select_from(RequestRow)
                .where(RequestRow.requester_id == requester_id, RequestRow.state == State.PENDING.value)
            ).scalar_one()
            guard(as_view(live) if live is not None else None, int(pending))
            values = _new_request(requester_id=requester_id, login_id=login_id, tenant=tenant, duration=duration,
                                  reason=reason, state=State.PENDING, created_at=now, pending_until=pending_until,
                                  remind_at=remind_at, **(target or {}))
            view = _insert(s, values, actor=requester_id, action="requested", detail=None)
        self.on_outcome("submitted")
        return view

    def insert_refused(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
                       reason: str, now: datetime, failure: str) -> RequestView:
        """Keep a request the rules refused before anyone saw it: ``failed`` at once, with its audit row
        (``refused``), nothing owed to Slack and nothing due."""
        with self.tx() as s:
            values = _new_request(requester_id=requester_id, login_id=login_id, tenant=tenant, duration=duration,
                                  reason=reason, state=State.FAILED, created_at=now, pending_until=now,
                                  failure=failure, slack_version=1, end_notified_at=now)
            view = _insert(s, values, actor=requester_id, action="refused", detail=failure)
        self.on_outcome("refused")
        return view

    def transition(self, request_id: str, sources: Sequence[State], target: State, *, actor: str,
                   action: str, now: datetime, detail: str | None = None,
                   where: Sequence[Any] = (), **values: Any) -> RequestView | None:
        """Move ``request_id`` from one of ``sources`` to ``target`` if, and only if, it is still
        there (and ``where`` holds). Writes the audit row in the same transaction. ``None`` = lost.
        A move the state machine forbids (``domain.TRANSITIONS``) raises ``InvalidTransition``."""
        for source in sources:
            check_transition(source, target)
        with self.tx() as s:
            written = _rewrite(s, request_id, [RequestRow.state.in_([x.value for x in sources]), *where],
                               {**values, "state": target.value}, bump=True)
            if written is None:
                return None
            before, after = written
            s.add(AuditRow(request_id=request_id, at=now, actor=actor, action=action,
                           from_state=before["state"], to_state=target.value, detail=detail))
            view = as_view(RequestRow(**after))
        self.on_outcome(target.value)
        return view

    def record(self, request_id: str, *, actor: str, action: str, now: datetime, detail: str | None = None,
               where: Sequence[Any] = (), **values: Any) -> bool:
        """Change fields without a state change (e.g. a stop request), with an audit row; conditional."""
        with self.tx() as s:
            written = _rewrite(s, request_id, where, values, bump=True)
            if written is None:
                return False
            state = written[0]["state"]
            s.add(AuditRow(request_id=request_id, at=now, actor=actor, action=action,
                           from_state=state, to_state=state, detail=detail))
            return True

    def set_fields(self, request_id: str, *, where: Sequence[Any] = (), **values: Any) -> bool:
        """Bookkeeping that is not an event (message timestamps, leases). Conditional."""
        with self.tx() as s:
            return _update(s, request_id, *where, **values)

    def claim_work(self, request_id: str, state: State, now: datetime, lease: timedelta) -> bool:
        """Take the work lease on a request in ``state``; false if another worker holds it."""
        return self.set_fields(
            request_id,
            where=[RequestRow.state == state.value, lease_free(RequestRow.lease_until, now)],
            lease_until=now + lease,
        )

    def claim_slack(self, request_id: str, now: datetime,
                    until: datetime) -> tuple[RequestRow, list[AuditEntry]] | None:
        """Take the Slack lease on a request (held ``until``) unless another worker holds it; with the
        lease, the row as it is now and its audit rows not yet in the thread (``slack_work``)."""
        with self.tx() as s:
            taken = _update(s, request_id, lease_free(RequestRow.slack_lease_until, now), slack_lease_until=until)
            return _slack_work(s, request_id) if taken else None

    def slack_caught_up(self, request_id: str, version: int, **progress: Any) -> bool:
        """Record Slack progress (``progress``: message IDs, thread position) and, if the row is still at
        ``version``, mark Slack as caught up with it and give the Slack lease back, in one transaction.
        False: the row changed meanwhile; the lease is kept for another pass."""
        with self.tx() as s:
            if _update(s, request_id, RequestRow.version == version, slack_version=version, slack_lease_until=None,
                       **progress):
                return True
            if progress:
                _update(s, request_id, **progress)
            return False

    def reschedule(self, request_id: str) -> None:
        """Write ``next_due_at`` afresh (rows carried over from before it existed, or a changed schedule)."""
        with self.tx() as s:
            _rewrite(s, request_id, (), {})

    # -- reads ------------------------------------------------------------------------------

    def get(self, request_id: str) -> RequestView | None:
        with self.read() as s:
            row = s.get(RequestRow, request_id)
            return as_view(row) if row else None

    def get_row(self, request_id: str) -> RequestRow | None:
        """The full row, secrets included: for the workflows' own use only."""
        with self.read() as s:
            return s.get(RequestRow, request_id)

    def slack_work(self, request_id: str) -> tuple[RequestRow, list[AuditEntry]] | None:
        """The row, and its audit rows not yet in the thread. Progress is kept on the row
        (``thread_posted_id``): the audit table is append-only and never edited."""
        with self.read() as s:
            return _slack_work(s, request_id)

    def list_requests(self, *, requester_id: str | None = None, states: Sequence[State] | None = None,
                      limit: int = 20) -> list[RequestView]:
        with self.read() as s:
            query = select(RequestRow).order_by(RequestRow.created_at.desc()).limit(limit)
            if requester_id is not None:
                query = query.where(RequestRow.requester_id == requester_id)
            if states is not None:
                query = query.where(RequestRow.state.in_([x.value for x in states]))
            return [as_view(r) for r in s.execute(query).scalars()]

    def due(self, now: datetime, limit: int = 500) -> list[str]:
        """Requests with work due by ``now`` (``next_due_at``), most overdue first."""
        with self.read() as s:
            return list(s.execute(select(RequestRow.id).where(RequestRow.next_due_at <= now)
                                  .order_by(RequestRow.next_due_at).limit(limit)).scalars())

    def next_due_times(self) -> list[tuple[str, datetime]]:
        """``(request ID, next_due_at)`` of every request that will need work again."""
        with self.read() as s:
            rows = s.execute(select(RequestRow.id, RequestRow.next_due_at).where(RequestRow.next_due_at.is_not(None)))
            return [(r[0], r[1]) for r in rows if r[1] is not None]

    def audit(self, *, since: datetime | None = None, request_id: str | None = None) -> list[AuditEntry]:
        with self.read() as s:
            query = select(AuditRow).order_by(AuditRow.id)
            if since is not None:
                query = query.where(AuditRow.at >= since)
            if request_id is not None:
                query = query.where(AuditRow.request_id == request_id)
            return [as_entry(a) for a in s.execute(query).scalars()]
