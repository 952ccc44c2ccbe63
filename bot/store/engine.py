"""Engines that behave under concurrency.

SQLite allows one writer at a time. ``make_engine`` gives it WAL (readers run beside a writer), a busy
timeout, and ``BEGIN IMMEDIATE`` for every transaction except those ``Store.read`` marks read-only
(``READ_ONLY``), so writers queue instead of failing on a lock upgrade. PostgreSQL gets pre-ping and a pool.
``postgres://`` and ``postgresql://`` URLs use psycopg 3.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

READ_ONLY = "impersonation_bot_read_only"


def make_engine(url: str) -> Engine:
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
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
