"""The store's one query layer: plain DB-API statements, straight to the driver on a connection from SQLAlchemy's
pool. Every statement the store runs goes through here, the hot paths (a row read, a lease, a state change with its
audit row) and the rare ones (the App Home's lists, retention, the audit export) alike.

Issue 13's profile: a one-row read cost 150 µs of CPU through SQLAlchemy Core on SQLite and 45 µs through the driver
on a pooled connection; the Core machinery around each statement (execution context, result, events, the
transaction object) was most of the bot's database CPU. SQLAlchemy keeps what it is good at: the engine and its
pool (with the idle ping, ``engine._ping_when_idle``), the schema (``models``) and Alembic.

- ``Db.write()`` / ``Db.read()``: one transaction on one pooled connection, yielding a ``Tx``. SQLite: ``BEGIN
  IMMEDIATE`` for a write (the caller queues in ``engine.Writers`` first), ``BEGIN`` for a read (WAL: a snapshot
  beside the writer). PostgreSQL: a read runs in autocommit (each statement sees the latest commit, as ``READ
  COMMITTED`` does anyway, without a ``BEGIN`` and a ``COMMIT`` round trip).
- Statements are written with ``?`` placeholders (``%s`` on PostgreSQL, rewritten once per statement text).
- Times are bound as naive UTC (SQLite: SQLAlchemy's own text format, so what the driver writes reads the same through
  the schema's types and the migrations) and read back as aware UTC, as ``models.UTCDateTime`` does.
- ``Col`` / ``Cond``: conditions on a ``requests`` row (``Row.state == "active"``,
  ``Row.stop_requested_at.is_(None)``), rendered as SQL with their values; ``select_rows`` a query of rows.
- A driver error is raised as SQLAlchemy's (``sqlalchemy.exc.DBAPIError.instance``: ``OperationalError``,
  ``IntegrityError``, …); a connection the dialect sees as dropped invalidates the pool, as ``Connection`` does (a
  server restart costs one failed transaction, not one per pooled connection).
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.domain.audit import Action, AuditEntry
from bot.store.models import AUDIT, REQUESTS, RequestRow, UTCDateTime, row_of
from bot.store.patience import BUSY_TIMEOUT_MS, time_left
from bot.store.watchdog import Watch, Watchdog

#: Every column of ``requests``, in the table's order: what ``SELECT {COLUMNS}`` returns.
COLUMNS = tuple(REQUESTS.c.keys())
_TIMES = frozenset(c.name for c in REQUESTS.c if isinstance(c.type, UTCDateTime))
_TIME_AT = tuple(i for i, name in enumerate(COLUMNS) if name in _TIMES)
SELECT_ROW = f"SELECT {', '.join(COLUMNS)} FROM requests"
SELECT_AUDIT = f"SELECT {', '.join(AUDIT.c.keys())} FROM audit"


class Cond:
    """One SQL condition on the ``requests`` row, with its values (``?`` placeholders)."""

    __slots__ = ("sql", "values")

    def __init__(self, sql: str, *values: Any) -> None:
        self.sql = sql
        self.values = values

    def __repr__(self) -> str:
        return f"Cond({self.sql!r}, {self.values!r})"


class Col:
    """A column of ``requests`` in a condition: ``==`` (``None``: ``IS NULL``), ``!=``, ``<``, ``<=``, ``>``,
    ``.in_(values)``, ``.is_(None)``, ``.is_not(None)``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if name not in COLUMNS:
            raise KeyError(f"requests has no column {name!r}")
        self.name = name

    def __eq__(self, value: object) -> Cond:  # type: ignore[override]
        return self.is_(None) if value is None else Cond(f"{self.name} = ?", value)

    def __ne__(self, value: object) -> Cond:  # type: ignore[override]
        return self.is_not(None) if value is None else Cond(f"{self.name} <> ?", value)

    def __lt__(self, value: object) -> Cond:
        return Cond(f"{self.name} < ?", value)

    def __le__(self, value: object) -> Cond:
        return Cond(f"{self.name} <= ?", value)

    def __gt__(self, value: object) -> Cond:
        return Cond(f"{self.name} > ?", value)

    def in_(self, values: Sequence[Any]) -> Cond:
        if not values:
            return Cond("1 = 0")
        return Cond(f"{self.name} IN ({', '.join('?' * len(values))})", *values)

    def is_(self, none: None) -> Cond:
        return Cond(f"{self.name} IS NULL")

    def is_not(self, none: None) -> Cond:
        return Cond(f"{self.name} IS NOT NULL")

    __hash__ = None  # type: ignore[assignment]


class Row:
    """The columns of ``requests`` that conditions name (``Col(name)`` for any other)."""

    id = Col("id")
    requester_id = Col("requester_id")
    state = Col("state")
    created_at = Col("created_at")
    next_due_at = Col("next_due_at")
    extends_id = Col("extends_id")
    version = Col("version")
    pending_until = Col("pending_until")
    ends_at = Col("ends_at")
    token_sealed = Col("token_sealed")
    stop_requested_at = Col("stop_requested_at")
    delivered_at = Col("delivered_at")
    lease_until = Col("lease_until")
    slack_lease_until = Col("slack_lease_until")
    remind_at = Col("remind_at")
    warn_at = Col("warn_at")
    escalate_at = Col("escalate_at")
    break_glass = Col("break_glass")
    reviewed_at = Col("reviewed_at")
    flagged_at = Col("flagged_at")
    review_remind_at = Col("review_remind_at")
    post_failures = Col("post_failures")


class Lease(enum.StrEnum):
    """A request's leases (the columns that hold them)."""

    WORK = "lease_until"  # its own work (Descope): activation, stop
    SLACK = "slack_lease_until"  # the Slack projection


def lease_free(lease: Lease, now: datetime) -> Cond:
    """No live ``lease`` is held at ``now``."""
    return Cond(f"({lease.value} IS NULL OR {lease.value} < ?)", now)


def where(conds: Sequence[Cond]) -> tuple[str, list[Any]]:
    """``conds`` joined with ``AND`` (``""`` for none), and their values in order."""
    sql = " AND ".join(c.sql for c in conds)
    return sql, [v for c in conds for v in c.values]


def select_rows(conds: Sequence[Cond], *, order: str, limit: int) -> tuple[str, list[Any]]:
    """``SELECT`` whole rows of ``requests`` matching ``conds`` in ``order`` (SQL from code: ``"created_at DESC"``),
    at most ``limit``; and the parameters."""
    sql, params = where(conds)
    return f"{SELECT_ROW}{' WHERE ' + sql if sql else ''} ORDER BY {order} LIMIT ?", [*params, limit]


def _text_of(moment: datetime) -> str:
    """SQLAlchemy's SQLite storage format for a naive UTC datetime (``DATETIME``'s default)."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond:06d}")


class Db:
    """The pooled connections of ``engine``, used through the driver."""

    def __init__(self, engine: Engine, watchdog: Watchdog | None = None) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        #: PostgreSQL: cuts the connection of a transaction the server leaves unanswered too long (``watchdog``).
        self.watchdog = watchdog if self.postgres else None
        #: ``UPDATE … RETURNING`` (SQLite 3.35 and newer; every supported PostgreSQL).
        self.returning = self.postgres or sqlite3.sqlite_version_info >= (3, 35)
        self._error: type[Exception] = engine.dialect.loaded_dbapi.Error
        #: The audit stream is on: each audit row is written with its row in ``audit_outbox`` (``rows.add_audit``).
        self.outbox = False
        #: Told of each failure of the database (the metrics count them). Must not raise.
        self.on_error: Callable[[], None] = lambda: None
        self._texts: dict[str, str] = {}

    def text(self, sql: str) -> str:
        """``sql`` in the driver's placeholder style."""
        if not self.postgres:
            return sql
        found = self._texts.get(sql)
        if found is None:
            found = self._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        return found

    def bind(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store")
            value = value.astimezone(UTC).replace(tzinfo=None)
            return value if self.postgres else _text_of(value)
        return value

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._transaction(write=True) as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._transaction(write=False) as tx:
            yield tx

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        try:
            pooled = self.engine.raw_connection()
        except SQLAlchemyError:  # no connection at all: the server stopped, the network
            self.on_error()
            raise
        driver: Any = pooled.driver_connection
        autocommit = self.postgres and not write
        watchdog = self.watchdog
        watched: Watch | None = None
        try:
            if autocommit:
                driver.autocommit = True
            cursor = pooled.cursor()
            tx = Tx(self, cursor)
            hurried = None if self.postgres else time_left()  # someone waits for the answer (bot.store.patience)
            with watchdog.watching(driver) if watchdog is not None else nullcontext(None) as watched:
                try:
                    if hurried is not None:
                        cursor.execute(f"PRAGMA busy_timeout={int(hurried * 1000)}")
                    if not self.postgres:
                        tx.run("BEGIN IMMEDIATE" if write else "BEGIN")
                    yield tx
                    if not autocommit:
                        if watchdog is not None and watched is not None:
                            watchdog.committing(watched)  # a commit is never cut at someone's deadline
                        pooled.commit()
                except BaseException:
                    if not autocommit:
                        with suppress(self._error):  # the connection is gone; the error that says so comes next
                            pooled.rollback()
                    raise
                finally:
                    if hurried is not None:
                        try:
                            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                        except self._error:  # not given back to the pool with the short wait
                            pooled.invalidate()
                    cursor.close()
            if watched is not None and watched.cut:  # cut once its work was done: not given back to the pool
                pooled.invalidate()
        except self._error as exc:
            self.on_error()
            dropped = self.engine.dialect.is_disconnect(exc, driver, None)  # type: ignore[arg-type]
            if watched is not None and watched.cut:  # cut here (a server too slow, or hung): only this one is suspect
                pooled.invalidate(exc)
            elif dropped:  # as SQLAlchemy's own Connection does: every connection pooled before now is suspect
                self.engine.pool._invalidate(pooled, exc)
            raise DBAPIError.instance(getattr(exc, "statement", None), None, exc, self._error,
                                      connection_invalidated=dropped, dialect=self.engine.dialect) from exc
        finally:
            if autocommit and pooled.dbapi_connection is not None:
                try:
                    driver.autocommit = False
                except self._error:
                    pooled.invalidate()
            pooled.close()


class Tx:
    """One transaction's cursor: statements with ``?`` placeholders, rows read as ``RequestRow`` / ``AuditEntry``."""

    __slots__ = ("cursor", "db")

    def __init__(self, db: Db, cursor: Any) -> None:
        self.db = db
        self.cursor = cursor

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; the number of rows it changed."""
        bind = self.db.bind
        try:
            self.cursor.execute(self.db.text(sql), [bind(v) for v in params])
        except Exception as exc:
            exc.statement = sql  # type: ignore[attr-defined]  # named by the DBAPIError raised for it
            raise
        return int(self.cursor.rowcount)

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per row of parameters (a bulk insert)."""
        bind = self.db.bind
        self.cursor.executemany(self.db.text(sql), [[bind(v) for v in row] for row in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.run(sql, params)
        found: tuple[Any, ...] | None = self.cursor.fetchone()
        return found

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.run(sql, params)
        return list(self.cursor.fetchall())

    def values(self, found: Sequence[Any]) -> dict[str, Any]:
        """A row of ``SELECT_ROW`` (or ``RETURNING`` of ``COLUMNS``) as column → value, times aware UTC."""
        values = list(found)
        for i in _TIME_AT:
            values[i] = self.moment(values[i])
        return dict(zip(COLUMNS, values, strict=True))

    def row(self, sql: str, params: Sequence[Any] = ()) -> RequestRow | None:
        found = self.one(sql, params)
        return None if found is None else row_of(self.values(found))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[RequestRow]:
        """Every row it answers, read to the end (so an ``UPDATE … RETURNING`` is finished before the commit)."""
        return [row_of(self.values(found)) for found in self.all(sql, params)]

    def entries(self, sql: str, params: Sequence[Any] = ()) -> list[AuditEntry]:
        time = self.moment
        return [AuditEntry(a[0], a[1], time(a[2]), a[3], Action(a[4]), a[5], a[6], a[7])  # type: ignore[arg-type]
                for a in self.all(sql, params)]

    def moment(self, value: Any) -> datetime | None:
        """A time column as read (naive UTC; SQLite: text) as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
