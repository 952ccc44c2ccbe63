"""The database: SQLAlchemy 2.x tables, and the only code that reads or writes them.

Every state change is a conditional ``UPDATE … WHERE id = :id AND state IN (…)`` (``Store.transition``):
whichever caller's update matches wins, the rest see ``None``, whether the race is two clicks, two
threads or two replicas. The transition and its audit row commit together.

Work that calls another system (Descope, Slack) is guarded by a *lease*: ``claim_work`` stamps
``lease_until`` on a row only if no live lease is there, so one worker at a time acts on a request,
and a crashed worker's lease simply runs out for the sweep to pick the work up again.

SQLite allows one writer at a time. Writes (``tx``) queue on a lock in this process and then take
SQLite's lock with ``BEGIN IMMEDIATE``; reads (``read``) open a plain deferred transaction, which WAL
lets run beside a writer. Without the in-process queue, every waiting writer polls in SQLite's busy
handler, which sleeps up to 100 ms between tries: tens of ms added to a slash command's answer.

The schema itself is owned by Alembic (``migrations/``); ``Base.metadata`` here mirrors it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Select

from bot.domain import RequestView, State, check_transition

_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_request_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every backend alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class RequestRow(Base):
    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_requester_state", "requester_id", "state"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    login_id: Mapped[str] = mapped_column(String(256))
    tenant: Mapped[str | None] = mapped_column(String(128))
    duration_s: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pending_until: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    impersonator: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_sealed: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested_by: Mapped[str | None] = mapped_column(String(32))
    stop_attempts: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_by: Mapped[str | None] = mapped_column(String(32))
    failure: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    channel_ts: Mapped[str | None] = mapped_column(String(32))
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    dm_ts: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slack_version: Mapped[int] = mapped_column(Integer, default=0)
    slack_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thread_posted_id: Mapped[int] = mapped_column(Integer, default=0)  # audit rows up to this id are in the thread


class AuditRow(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)


def _live_query(requester_id: str, login_id: str, tenant: str | None) -> Select[RequestRow]:
    """A pending, approved or active request by this requester for this target."""
    return select(RequestRow).where(
        RequestRow.requester_id == requester_id,
        func.lower(RequestRow.login_id) == login_id.lower(),
        RequestRow.tenant.is_(None) if tenant is None else RequestRow.tenant == tenant,
        RequestRow.state.in_([State.PENDING.value, State.APPROVED.value, State.ACTIVE.value]),
    ).limit(1)


# The tables themselves, for the hot paths written in plain Core.
_REQUESTS = cast(Table, RequestRow.__table__)
_AUDIT = cast(Table, AuditRow.__table__)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    request_id: str
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    detail: str | None


def as_view(row: RequestRow) -> RequestView:
    """What the rest of the program may see of a row (never the sealed token)."""
    return RequestView(
        id=row.id,
        requester_id=row.requester_id,
        login_id=row.login_id,
        tenant=row.tenant,
        duration=timedelta(seconds=row.duration_s),
        reason=row.reason,
        state=State(row.state),
        created_at=row.created_at,
        pending_until=row.pending_until,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        started_at=row.started_at,
        ends_at=row.ends_at,
        stopped_at=row.stopped_at,
        stopped_by=row.stopped_by,
        stop_requested_at=row.stop_requested_at,
        failure=row.failure,
        channel_id=row.channel_id,
        channel_ts=row.channel_ts,
    )


def _entry(a: AuditRow) -> AuditEntry:
    return AuditEntry(a.id, a.request_id, a.at, a.actor, a.action, a.from_state, a.to_state, a.detail)


def _slack_work(s: Session, request_id: str) -> tuple[RequestRow, list[AuditEntry]] | None:
    row = s.get(RequestRow, request_id)
    if row is None:
        return None
    unposted = s.execute(select(AuditRow).where(AuditRow.request_id == request_id, AuditRow.id > row.thread_posted_id)
                         .order_by(AuditRow.id)).scalars()
    return row, [_entry(a) for a in unposted]


def _lease_free(lease_until: Any, now: datetime) -> Any:
    """The condition that no live lease is held in ``lease_until`` (a column) at ``now``."""
    return or_(lease_until.is_(None), lease_until < now)


def _update(s: Session, request_id: str, *where: Any, **values: Any) -> bool:
    """``UPDATE requests SET … WHERE id = :id AND …`` in plain Core (none of the ORM's bookkeeping, which
    nothing here needs): true when the row matched."""
    result = s.connection().execute(update(_REQUESTS).where(_REQUESTS.c.id == request_id, *where).values(**values))
    return bool(result.rowcount == 1)


_READ_ONLY = "impersonation_bot_read_only"


def make_engine(url: str) -> Engine:
    """An engine that behaves under concurrency: SQLite gets WAL, a busy timeout and
    ``BEGIN IMMEDIATE`` (writers queue instead of failing); PostgreSQL gets pre-ping."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Store.read marks its connection: a reader needs no write lock (WAL serves it a snapshot).
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite: writers of this process queue here (see the module docstring). Re-entrant, so a
        # write nested in another on the same thread fails as before instead of hanging here.
        self._writers: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext())

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A transaction that may write."""
        with self._writers, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads (SQLite: no write lock taken, no queueing behind writers)."""
        with self._sessions() as session, session.begin():
            session.connection(execution_options={_READ_ONLY: True})
            yield session

    def ping(self) -> None:
        with self.read() as s:
            s.execute(select(1))

    # -- requests ---------------------------------------------------------------------------

    def insert(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
               reason: str, pending_until: datetime, now: datetime,
               guard: Callable[[RequestView | None, int], None] = lambda live, pending: None) -> RequestView:
        """Store a new pending request with its audit row. In the same transaction, and serialised per
        requester, ``guard`` is shown the requester's open request for the same target (if any) and how
        many requests they have pending; it raises to refuse, and then nothing is stored. So two commands
        sent at once cannot both slip under a cap."""
        with self.tx() as s:
            if self.engine.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises
                s.execute(select(func.pg_advisory_xact_lock(func.hashtext("impersonation-requester:" + requester_id))))
            live = s.execute(_live_query(requester_id, login_id, tenant)).scalar_one_or_none()
            pending = s.execute(
                select(func.count()).select_from(RequestRow)
                .where(RequestRow.requester_id == requester_id, RequestRow.state == State.PENDING.value)
            ).scalar_one()
            guard(as_view(live) if live is not None else None, int(pending))
            values = dict(
                id=new_request_id(), requester_id=requester_id, login_id=login_id, tenant=tenant,
                duration_s=int(duration.total_seconds()), reason=reason, state=State.PENDING.value,
                version=1, created_at=now, pending_until=pending_until, stop_attempts=0, slack_version=0,
                thread_posted_id=0,
            )
            # Core inserts: the hot path of every slash command, without the ORM's unit of work.
            conn = s.connection()
            conn.execute(insert(_REQUESTS), values)
            conn.execute(insert(_AUDIT), dict(
                request_id=values["id"], at=now, actor=requester_id, action="requested", from_state=None,
                to_state=State.PENDING.value, detail=None))
            return as_view(RequestRow(**values))

    def get(self, request_id: str) -> RequestView | None:
        with self.read() as s:
            row = s.get(RequestRow, request_id)
            return as_view(row) if row else None

    def get_row(self, request_id: str) -> RequestRow | None:
        """The full row, secrets included: for the service's own use only."""
        with self.read() as s:
            return s.get(RequestRow, request_id)

    def transition(self, request_id: str, sources: Sequence[State], target: State, *, actor: str,
                   action: str, now: datetime, detail: str | None = None,
                   where: Sequence[Any] = (), **values: Any) -> RequestView | None:
        """Move ``request_id`` from one of ``sources`` to ``target`` if, and only if, it is still
        there (and ``where`` holds). Writes the audit row in the same transaction. ``None`` = lost.
        A move the state machine forbids (``domain.TRANSITIONS``) raises ``InvalidTransition``."""
        for source in sources:
            check_transition(source, target)
        with self.tx() as s:
            current = s.execute(  # lock the row (PostgreSQL); SQLite's BEGIN IMMEDIATE already did
                select(RequestRow.state).where(RequestRow.id == request_id).with_for_update()
            ).scalar_one_or_none()
            if not _update(s, request_id, RequestRow.state.in_([x.value for x in sources]), *where,
                           state=target.value, version=RequestRow.version + 1, **values):
                return None
            s.add(AuditRow(request_id=request_id, at=now, actor=actor, action=action,
                           from_state=current, to_state=target.value, detail=detail))
            row = s.get(RequestRow, request_id, populate_existing=True)
            assert row is not None
            return as_view(row)

    def record(self, request_id: str, *, actor: str, action: str, now: datetime, detail: str | None = None,
               where: Sequence[Any] = (), **values: Any) -> bool:
        """Change fields without a state change (e.g. a stop request), with an audit row; conditional."""
        with self.tx() as s:
            if not _update(s, request_id, *where, version=RequestRow.version + 1, **values):
                return False
            state = s.execute(select(RequestRow.state).where(RequestRow.id == request_id)).scalar_one()
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
            where=[RequestRow.state == state.value, _lease_free(RequestRow.lease_until, now)],
            lease_until=now + lease,
        )

    def claim_slack(self, request_id: str, now: datetime,
                    until: datetime) -> tuple[RequestRow, list[AuditEntry]] | None:
        """Take the Slack lease on a request (held ``until``) unless another worker holds it; with the
        lease, the row as it is now and its audit rows not yet in the thread (``slack_work``)."""
        with self.tx() as s:
            taken = _update(s, request_id, _lease_free(RequestRow.slack_lease_until, now), slack_lease_until=until)
            return _slack_work(s, request_id) if taken else None

    def slack_work(self, request_id: str) -> tuple[RequestRow, list[AuditEntry]] | None:
        """The row, and its audit rows not yet in the thread. Progress is kept on the row
        (``thread_posted_id``): the audit table is append-only and never edited."""
        with self.read() as s:
            return _slack_work(s, request_id)

    def slack_caught_up(self, request_id: str, version: int, **progress: Any) -> bool:
        """Record Slack progress (``progress``: message IDs, thread position) and, if the row is still at
        ``version``, mark Slack as caught up with it and give the Slack lease back, in one transaction.
        False: the row changed meanwhile; the lease is kept for another pass."""
        with self.tx() as s:
            if progress:
                _update(s, request_id, **progress)
            return _update(s, request_id, RequestRow.version == version, slack_version=version, slack_lease_until=None)

    def list_requests(self, *, requester_id: str | None = None, states: Sequence[State] | None = None,
                      limit: int = 20) -> list[RequestView]:
        with self.read() as s:
            query = select(RequestRow).order_by(RequestRow.created_at.desc()).limit(limit)
            if requester_id is not None:
                query = query.where(RequestRow.requester_id == requester_id)
            if states is not None:
                query = query.where(RequestRow.state.in_([x.value for x in states]))
            return [as_view(r) for r in s.execute(query).scalars()]

    def due_work(self, now: datetime, limit: int = 500) -> list[str]:
        """Requests the sweep must act on: overdue pendings, approvals not yet activated, sessions
        past their window or asked to stop, and anything Slack does not yet reflect."""
        lease_free = _lease_free(RequestRow.lease_until, now)
        slack_free = _lease_free(RequestRow.slack_lease_until, now)
        with self.read() as s:
            rows = s.execute(
                select(RequestRow.id)
                .where(or_(
                    and_(RequestRow.state == State.PENDING.value, RequestRow.pending_until <= now),
                    and_(RequestRow.state == State.APPROVED.value, lease_free),
                    and_(RequestRow.state == State.ACTIVE.value, lease_free,
                         or_(RequestRow.ends_at <= now, RequestRow.stop_requested_at.is_not(None),
                             RequestRow.delivered_at.is_(None))),
                    and_(RequestRow.slack_version < RequestRow.version, slack_free),
                ))
                .order_by(RequestRow.created_at)
                .limit(limit)
            ).all()
            return [r.id for r in rows]

    def timers(self) -> list[tuple[str, datetime]]:
        """Every future moment something must happen: pending deadlines and session ends."""
        with self.read() as s:
            pend = s.execute(select(RequestRow.id, RequestRow.pending_until)
                             .where(RequestRow.state == State.PENDING.value)).all()
            act = s.execute(select(RequestRow.id, RequestRow.ends_at)
                            .where(RequestRow.state == State.ACTIVE.value)).all()
            return [(r[0], r[1]) for r in pend] + [(r[0], r[1]) for r in act if r[1] is not None]

    def live_leases(self, now: datetime) -> list[tuple[str, datetime]]:
        """``(request ID, lease end)`` of every lease not yet run out, work and Slack leases alike."""
        with self.read() as s:
            work = s.execute(select(RequestRow.id, RequestRow.lease_until).where(RequestRow.lease_until > now)).all()
            slack = s.execute(select(RequestRow.id, RequestRow.slack_lease_until)
                              .where(RequestRow.slack_lease_until > now)).all()
            return [(r[0], r[1]) for r in [*work, *slack] if r[1] is not None]

    # -- audit ------------------------------------------------------------------------------

    def audit(self, *, since: datetime | None = None, request_id: str | None = None) -> list[AuditEntry]:
        with self.read() as s:
            query = select(AuditRow).order_by(AuditRow.id)
            if since is not None:
                query = query.where(AuditRow.at >= since)
            if request_id is not None:
                query = query.where(AuditRow.request_id == request_id)
            return [_entry(a) for a in s.execute(query).scalars()]
