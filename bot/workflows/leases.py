"""The leases this process holds, and the keeper's renewal of them.

A lease (``Lease.WORK`` for Descope work, ``Lease.SLACK`` for the Slack projection) is a moment on the row, stamped
by a conditional update. While work lasts, the scheduler's keeper thread calls
``Leases.renew`` every third of ``LEASE``: slow work keeps its row however long Descope or Slack take,
and a killed process's lease runs out within ``LEASE`` for the sweep (here or on another replica) to take
the work over.

The registry maps ``(request ID, lease)`` to its end as written and to its holder. The keeper
renews each with a compare-and-set on that exact value, so a lease that ran out and was taken by another
worker, or that its holder already gave back, is never extended by mistake. A holder forgets only its own
entry: once it has given the lease back in the database, another thread of this process may already hold
the next one, which must go on being renewed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from bot.store import Lease, Store
from bot.store.errors import unreachable as database_unreachable

log = logging.getLogger("bot.workflows")

LEASE = timedelta(seconds=4)


class Leases:
    def __init__(self, store: Store, clock: Callable[[], datetime], lease: timedelta = LEASE) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease
        self._lock = threading.Lock()
        self._held: dict[tuple[str, Lease], tuple[datetime, object]] = {}

    def hold(self, request_id: str, lease: Lease, until: datetime) -> object:
        """Record a lease taken; returns the holder's key for ``release``."""
        holder = object()
        with self._lock:
            self._held[(request_id, lease)] = (until, holder)
        return holder

    def release(self, request_id: str, lease: Lease, *, holder: object | None = None,
                only_if: datetime | None = None) -> None:
        """Forget the lease if it is still ``holder``'s (or still at ``only_if``)."""
        with self._lock:
            held = self._held.get((request_id, lease))
            if held is not None and (holder is None or held[1] is holder) and (only_if is None or held[0] == only_if):
                del self._held[(request_id, lease)]

    @contextmanager
    def holding(self, request_id: str, lease: Lease, until: datetime) -> Iterator[None]:
        """Keep the lease just taken renewed while the block runs."""
        holder = self.hold(request_id, lease, until)
        try:
            yield
        finally:
            self.release(request_id, lease, holder=holder)

    def extend(self, request_id: str, lease: Lease, until: datetime) -> datetime | None:
        """Renew a lease we wrote (``until``, as written): the new end, or ``None`` if the lease is no longer at
        ``until`` (given back, or it ran out and another worker took it). One conditional write; run out or not, a
        lease still at the value we wrote is nobody else's. The keeper renews what this process holds with it, and
        a kick uses it on the lease its request was born with, which nothing here renews yet."""
        new = self.clock() + self.lease
        return new if self.store.extend_lease(request_id, lease, until, new) else None

    def _moved(self, request_id: str, lease: Lease, old: datetime, new: datetime) -> None:
        with self._lock:
            held = self._held.get((request_id, lease))
            if held is not None and held[0] == old:
                self._held[(request_id, lease)] = (new, held[1])

    def renew(self) -> None:
        """Extend every lease this process holds (the keeper calls this every ``lease / 3``).

        A lease that is no longer what we wrote (given back, or lost after a stall and taken by another
        worker) is left alone: conditional transitions keep the outcome single even then."""
        with self._lock:
            held = [(request_id, lease, until) for (request_id, lease), (until, _) in self._held.items()]
        for request_id, lease, until in held:
            try:
                new = self.extend(request_id, lease, until)
            except Exception as exc:
                log.warning("could not renew the %s lease on request %s; retrying", lease, request_id,
                            exc_info=not database_unreachable(exc))  # an outage in one line a turn
                continue
            if new is not None:
                self._moved(request_id, lease, until, new)
            else:  # given back meanwhile (usual), or ran out during a stall and was taken over (rare)
                log.debug("request %s: the %s lease is no longer ours to renew", request_id, lease)
                self.release(request_id, lease, only_if=until)
