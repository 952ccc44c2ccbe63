"""A PostgreSQL server that never answers is given up on in time: ``Watchdog`` cuts the connection of a transaction
that outlives its allowance.

A server that is down refuses the connection, and one that is gone stops acknowledging what is sent (the kernel then
drops the connection); either way the driver raises. A server that hangs does neither: its processes wedged, stopped,
or behind a proxy or a network that holds the connection open, it takes every byte and answers none, and the driver
waits for ever, a thread with it (a Slack request past its 3 seconds, a stop that never comes, a pool emptied by
threads that never give their connections back). Neither libpq nor psycopg bounds a query's wait on the client.

So while a transaction runs on PostgreSQL (``bot.store.sql.Db``) and while the pool pings a connection that has been
idle (``bot.store.engine``), its connection is watched: when the work has run longer than it may, the watchdog's
thread shuts the connection's socket down (through a duplicate of its descriptor taken when the watch began, so that
a number the driver closed and the system gave to another connection meanwhile is never the one cut). The driver's
wait then ends at once with the error a dropped connection gives, which the store handles as it does a server that
went away (the transaction rolled back with the connection, that connection not given back to the pool, the failure
counted, one log line). How long work may run:

* where someone waits for the answer (``bot.store.patience``: a Slack request, a health check), what is left of its
  deadline, at least ``LEAST_WAIT``;
* a pooled connection's ping, ``PING_WITHIN`` (a round trip: half a second leaves room for a new connection after);
* the bot's own work, ``hung_after`` (the runtime gives 30 s, as long as it waits for SQLite's lock);
* a commit, once sent, ``hung_after`` whoever waits (``committing``): cut, a commit's outcome is unknown, which only a
  server that hangs that long is worth.

A connection cut after its transaction committed (the deadline passed between the last statement and the end) is not
given back to the pool (``Watch.cut``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from bot.store.patience import time_left

log = logging.getLogger(__name__)

PING_WITHIN = 0.5  # seconds a pooled connection's ping may take
EVERY = 0.1  # seconds between the watchdog's looks while something is watched


class Watch:
    """One piece of work on one connection: until when it may run, and whether it was cut."""

    __slots__ = ("cut", "deadline", "fd")

    def __init__(self, fd: int, deadline: float) -> None:
        self.fd = fd  # a duplicate of the connection's descriptor: the watch's own, closed when it ends
        self.deadline = deadline
        self.cut = False


class Watchdog:
    """Cuts the connection of watched work that outlives its allowance. Thread-safe; its thread starts with the
    first work watched in a process (a process forked from one that used it starts afresh, its parent's watches
    left to the parent)."""

    def __init__(self, hung_after: float) -> None:
        self.hung_after = hung_after
        self._fresh()
        here = weakref.WeakMethod(self._fresh)
        os.register_at_fork(after_in_child=lambda: (fresh := here()) is not None and fresh())

    def _fresh(self) -> None:
        self._lock = threading.Lock()
        self._watched: set[Watch] = set()
        self._wake = threading.Event()
        self._looking = False  # this process's thread is running

    @contextmanager
    def watching(self, dbapi_conn: Any, *, within: float | None = None) -> Iterator[Watch]:
        """Watch the work inside on ``dbapi_conn`` (a psycopg connection): ``within`` seconds, else what the
        deadline leaves (``time_left``), else ``hung_after``."""
        if within is None:
            within = time_left()
        watch = Watch(os.dup(dbapi_conn.fileno()), time.monotonic() + (self.hung_after if within is None else within))
        try:
            with self._lock:
                if not self._looking:
                    threading.Thread(target=self._look, name="db-watchdog", daemon=True).start()
                    self._looking = True
                self._watched.add(watch)
                self._wake.set()
            yield watch
        finally:
            with self._lock:
                self._watched.discard(watch)
                os.close(watch.fd)

    def committing(self, watch: Watch) -> None:
        """The commit goes out now: it may take ``hung_after``, whoever waits (cut, its outcome would be unknown)."""
        with self._lock:
            watch.deadline = max(watch.deadline, time.monotonic() + self.hung_after)

    def _look(self) -> None:
        while True:
            try:
                self._wake.wait()
                time.sleep(EVERY)
                with self._lock:
                    now = time.monotonic()
                    overdue = [watch for watch in self._watched if watch.deadline <= now]
                    for watch in overdue:
                        self._watched.discard(watch)
                        watch.cut = True
                        _shut(watch.fd)
                    if not self._watched:
                        self._wake.clear()
                if overdue:
                    log.warning("the database did not answer in time: %d connection(s) cut", len(overdue))
            except Exception:  # never the end of the watch: the next look tries again
                log.exception("the database watchdog failed to look; looking again")


def _shut(fd: int) -> None:
    """Shut the socket ``fd`` down (both ways): the driver's wait on it ends with EOF."""
    with suppress(OSError):  # not a socket any more, or already shut
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
