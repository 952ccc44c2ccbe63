"""Where a person waits for the answer (``bot.store.patience``), a SQLite database someone else holds locked is
given up on in time, as out of reach, with nothing written; the bot's own work still waits for the lock as before."""

from __future__ import annotations

import contextvars
import fcntl
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.store import Store
from bot.store.engine import Writers
from bot.store.errors import unreachable
from bot.store.patience import LEAST_WAIT, time_left, waiting_at_most

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LOCKED = (OperationalError, sqlite3.OperationalError)  # as SQLAlchemy wraps the driver's, or our queue's own


def _insert(store: Store, login_id: str) -> str:
    return store.insert(requester_id="UREQ1", login_id=login_id, tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=T0 + timedelta(minutes=30), now=T0).row.id


def _holder(tmp_path: Path) -> sqlite3.Connection:
    """Another program holding the database's write lock (a ``sqlite3`` shell in a transaction, a backup)."""
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_write_someone_waits_for_gives_up_in_time_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    began = time.monotonic()
    with pytest.raises(LOCKED) as failed, waiting_at_most(0.3):
        _insert(store, "a@acme.com")
    assert unreachable(failed.value) and time.monotonic() - began < 1.5
    holder.rollback()
    holder.close()
    with waiting_at_most(0.3):
        written = _insert(store, "b@acme.com")
    assert [r.id for r in store.list_requests()] == [written]  # the first one was never written


def test_the_bots_own_work_still_waits_for_the_lock(store: Store, tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    with pytest.raises(LOCKED), waiting_at_most(0.1):  # a hurried write first, on the same pooled connection
        _insert(store, "a@acme.com")
    written: list[str] = []
    worker = threading.Thread(target=lambda: written.append(_insert(store, "b@acme.com")))
    worker.start()
    time.sleep(0.5)  # longer than the hurried write waited: the busy timeout is the long one again
    assert worker.is_alive()
    holder.rollback()
    holder.close()
    worker.join(10)
    assert written and [r.id for r in store.list_requests()] == written


def test_the_machines_writer_queue_is_left_in_time_when_another_process_writes(tmp_path: Path) -> None:
    database = str(tmp_path / "x.db")
    other = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT, 0o600)  # another process's place in the queue
    fcntl.flock(other, fcntl.LOCK_EX)
    writers = Writers(database)
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"), waiting_at_most(0.2), writers:
        pass
    assert time.monotonic() - began < 1.0
    fcntl.flock(other, fcntl.LOCK_UN)
    with waiting_at_most(0.2), writers:
        pass
    os.close(other)


def test_no_deadline_outside_and_the_least_wait_once_passed() -> None:
    """The deadline covers Slack's and Descope's calls too: a transaction after it still gets its own short turn."""
    contextvars.Context().run(_no_deadline_outside_and_the_least_wait_once_passed)  # as a thread starts: none set


def _no_deadline_outside_and_the_least_wait_once_passed() -> None:
    assert time_left() is None
    with waiting_at_most(0.0):
        assert time_left() == LEAST_WAIT
    with waiting_at_most(2.0):
        left = time_left()
        assert left is not None and 1.5 < left <= 2.0
    assert time_left() is None
