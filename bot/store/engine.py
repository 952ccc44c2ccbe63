"""Engines that behave under concurrency.

SQLite allows one writer at a time. ``make_engine`` gives it WAL (readers run beside a writer) with
``synchronous=NORMAL`` (durable across a crash of the process; a power loss may lose the last commits), a busy
timeout, and ``BEGIN IMMEDIATE`` for a transaction SQLAlchemy opens (the migrations'; the store opens its own:
``sql.Db``), so writers queue instead of failing on a lock upgrade. ``Writers`` is that queue, ahead of SQLite's
own lock: threads of one process on a lock, the serving processes of one machine (``WEB_CONCURRENCY``) on an
``flock`` of a file beside the database. PostgreSQL gets a pool whose connections
are pinged before use only after being idle (``_ping_when_idle``); a server that hangs is given up on in time
(``watchdog``).
``postgres://`` and ``postgresql://`` URLs use psycopg 3.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from bot.store.patience import BUSY_TIMEOUT_MS, locked, time_left
from bot.store.watchdog import PING_WITHIN, Watchdog


def make_engine(url: str, *, watchdog: Watchdog | None = None) -> Engine:
    """The engine for ``url``; on PostgreSQL, ``watchdog`` cuts a pooled connection whose ping goes unanswered."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                # NORMAL under WAL: a commit survives the process (and every crash the tests make); only a power
                # loss may take back the last commits, never leaving the database inconsistent. FULL syncs the WAL
                # on every commit, a disk flush per transaction that bought nothing the tests could show.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A server that does not answer is given 2 s: a command or a click must be answered within Slack's 3.
    engine = create_engine(url, pool_size=10, max_overflow=20, connect_args={"connect_timeout": 2})
    _ping_when_idle(engine, watchdog)
    return engine


@contextmanager
def undone_if_failed(url: str) -> Iterator[None]:
    """A SQLite database file this block makes is removed again if the block fails (with its WAL, shared-memory and
    writers' lock files): a command that fails leaves no empty database behind. Other databases: nothing to undo."""
    parsed = make_url(url)
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    new = bool(path) and path != ":memory:" and not os.path.exists(path or "")
    try:
        yield
    except BaseException:
        if new and path:
            for suffix in ("", "-wal", "-shm", "-journal", "-writer"):
                with suppress(FileNotFoundError):
                    os.unlink(path + suffix)
        raise


#: A pooled PostgreSQL connection idle longer than this is pinged before use (see ``_ping_when_idle``).
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine, watchdog: Watchdog | None) -> None:
    """Check a pooled connection before use only when it has been idle a while.

    SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout: one more round trip per transaction, about a fifth of
    the bot's CPU per session on PostgreSQL (issue 13's profile). A connection in steady use cannot have gone stale
    unnoticed (a failure on it invalidates the whole pool), so only one idle for ``IDLE_PING_SECONDS`` is pinged
    (the dialect's own ``do_ping``); a dead one is replaced by the pool (``DisconnectionError``: it retries with a
    new connection) and the transaction never sees it, as with ``pool_pre_ping``. A ping left unanswered is cut after
    ``PING_WITHIN`` (``watchdog``), as a dead one."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            with watchdog.watching(dbapi_conn, within=PING_WITHIN) if watchdog is not None else nullcontext():
                engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection idle for {time.monotonic() - since:.0f} s is gone") from exc


class Writers:
    """The queue of this machine's writers to one SQLite database: one at a time, each woken the moment the previous
    one is done. Without it, every waiting writer polls in SQLite's busy handler, which sleeps up to 100 ms between
    tries: tens of ms added to a slash command's answer. Threads queue on a lock; processes (``WEB_CONCURRENCY``) on
    an exclusive ``flock`` of ``<database>-writer``, taken by the first thread in. Re-entrant: a write nested in
    another on the same thread fails on SQLite's lock as before instead of hanging here."""

    def __init__(self, database: str | None) -> None:
        self._path = f"{database}-writer" if database and database != ":memory:" else None
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> None:
        left = time_left()  # someone waits for the answer: not longer than that (bot.store.patience)
        if not self._lock.acquire(timeout=-1 if left is None else left):
            raise locked("this process's writers queue")
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None:  # opened by the process that writes (a Store is never carried across a fork)
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                if left is None:
                    fcntl.flock(self._fd, fcntl.LOCK_EX)
                else:
                    self._flock_within(self._fd, left)
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1

    @staticmethod
    def _flock_within(fd: int, seconds: float) -> None:
        """The machine's writer lock, if had within ``seconds`` (polled: ``flock`` has no timeout)."""
        give_up = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = give_up - time.monotonic()
                if left <= 0:
                    raise locked("another process is writing") from None
                time.sleep(min(left, 0.002))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()
