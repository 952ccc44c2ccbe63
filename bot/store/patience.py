"""How long database work on this thread may wait for a lock.

The bot's own work (the scheduler, the sweep, the duties) waits as long as SQLite's busy timeout (30 s) or the pool
allows: it has nobody waiting on it. Where a person waits for the answer (a Slack request, answered within 3 s; a
health check), the edge sets a deadline (``waiting_at_most``) and work on that thread gives up when it passes: a
SQLite database locked by someone else (a backup, a ``sqlite3`` shell holding a write) is then answered "the bot
cannot reach its database" in time, instead of Slack's own "operation timed out" later. Giving up raises what
SQLite raises (``sqlite3.OperationalError: database is locked``), so it is handled as such
(``bot.store.errors.unreachable``); nothing was written, the transaction never began.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

BUSY_TIMEOUT_MS = 30_000  # SQLite's wait for a lock when nobody waits for the answer
LEAST_WAIT = 0.3  # seconds a transaction may wait for its lock, whatever is left of the deadline

_deadline: ContextVar[float | None] = ContextVar("database_deadline", default=None)


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Database work on this thread inside gives up waiting for a lock ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def from_now_on(seconds: float) -> None:
    """The deadline of the work this thread is about to do, ``seconds`` from now, until it is set again: where the
    work does not run inside one block (a Bolt middleware runs before its listener, not around it)."""
    _deadline.set(time.monotonic() + seconds)


def time_left() -> float | None:
    """Seconds a lock may still be waited for on this thread: what is left of the deadline, but at least
    ``LEAST_WAIT`` (the deadline covers Slack's and Descope's calls too: the database's own turn is not taken from
    it); ``None``: no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else max(LEAST_WAIT, deadline - time.monotonic())


def locked(what: str) -> sqlite3.OperationalError:
    """The error for a lock not had in time (what SQLite's busy handler raises)."""
    return sqlite3.OperationalError(f"database is locked ({what})")
