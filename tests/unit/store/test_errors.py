"""What counts as the database out of reach (answered "try again", logged in a line) and what is a bug (logged with
its traceback): real failures of each driver, not made-up exceptions."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from bot.store.errors import unreachable


def _failure(run: object) -> BaseException:
    try:
        run()  # type: ignore[operator]
    except Exception as exc:
        return exc
    raise AssertionError("it did not fail")


def test_a_locked_sqlite_file_is_out_of_reach_a_missing_table_is_a_bug(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            assert unreachable(_failure(lambda: conn.execute(text("INSERT INTO t VALUES (1)"))))
            assert not unreachable(_failure(lambda: conn.execute(text("SELECT * FROM missing"))))
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_a_sqlite_file_that_cannot_be_opened_is_out_of_reach(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    assert unreachable(_failure(engine.connect))


def test_a_postgresql_server_that_does_not_answer_is_out_of_reach() -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://bot@127.0.0.1:{port}/bot", connect_args={"connect_timeout": 2})
    assert unreachable(_failure(engine.connect))


def test_a_pool_with_no_connection_to_give_is_out_of_reach(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", poolclass=QueuePool, pool_size=1, max_overflow=0,
                           pool_timeout=0.1)
    with engine.connect():
        assert unreachable(_failure(engine.connect))
    engine.dispose()


@pytest.mark.parametrize("failure", [ValueError("a bug"), SQLAlchemyError("a mistake in the query")])
def test_anything_else_is_not(failure: Exception) -> None:
    assert not unreachable(failure)
