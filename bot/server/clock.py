"""The database's clock: the one every replica compares deadlines and leases with.

Each replica's wall clock may be off (NTP down, a VM paused); the database's is shared. ``DatabaseClock``
measures this process's offset from it (``Store.database_now``: PostgreSQL's ``clock_timestamp()``, the midpoint
of the round trip) at start and every ``REFRESH``, and reads ``local() + offset``: the database's time without a
round trip per reading. SQLite serves one process, whose clock is the database's: the offset stays zero.

``local`` is this process's wall clock, injected (the system clock in production; a test gives one that runs ahead,
to prove that a replica whose clock is off still stops each session on time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.store import Store, utcnow

log = logging.getLogger(__name__)

REFRESH = 60.0  # seconds between measurements of the offset


class DatabaseClock:
    def __init__(self, store: Store, *, local: Callable[[], datetime] = utcnow, refresh: float = REFRESH) -> None:
        self.store = store
        self.local = local
        self.refresh = refresh
        self.offset = timedelta(0)
        self._lock = threading.Lock()
        self._measured_at: float | None = None

    def measure(self) -> None:
        """Measure the offset now (at start, and whenever ``REFRESH`` has passed). A database that does not
        answer keeps the last offset."""
        before = self.local()
        try:
            database = self.store.database_now()
        except Exception as exc:
            log.warning("could not read the database's clock (%s); keeping the offset %s", type(exc).__name__,
                        self.offset)
            database = None
            if self._measured_at is None:
                raise
        after = self.local()
        with self._lock:
            self._measured_at = time.monotonic()
            if database is not None:
                offset = database - (before + (after - before) / 2)
                if abs(offset - self.offset) > timedelta(seconds=1):
                    log.info("this replica's clock is %+.3fs from the database's", -offset.total_seconds())
                self.offset = offset

    def __call__(self) -> datetime:
        measured = self._measured_at
        if measured is None or time.monotonic() - measured > self.refresh:
            self.measure()
        return self.local() + self.offset
