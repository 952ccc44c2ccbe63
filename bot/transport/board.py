"""Where the gate's turns are kept (``bot.transport.gate``): per path, its ``Turns`` (the hold, the next turn, the
spacing), when its last ``RING`` calls passed, and the turns booked for callers that named themselves, in a fixed
table of ``SLOTS`` found by a hash of the path.

``Board.local()`` keeps them in this process's memory; ``Board.shared()`` in a page of memory the serving processes of
one bot share (``bot.cli.serve`` makes it before ``bot.server.workers`` forks them), locked with ``fcntl.lockf`` on its
unlinked file, a lock the kernel lets go of when its holder dies: a process killed at any instant never stops the
others' calls.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

RING = 512  # calls remembered per path: a path seen to pass more in gate.SEEN is paced as if it had passed this many
SLOTS = 64  # paths a board holds (the clients call about a dozen each); a path beyond is kept in this process alone
BOOKINGS = 64  # turns booked per path at a time; a caller finding no place free is told the wait, as if unnamed
STALE = 60.0  # seconds after its time a booking never claimed gives its place up
_HEAD = struct.Struct("=16s6dQ")  # the path's key, then Turns, then how many calls passed in all
_RING = struct.Struct(f"={RING}d")  # when the last RING calls passed (monotonic seconds), a ring
_BOOKING = struct.Struct("=Qd")  # who booked (a hash of the name; 0: a free place), and the turn's time
_SLOT = _HEAD.size + _RING.size + BOOKINGS * _BOOKING.size


@dataclass
class Turns:
    until: float = 0.0  # no call before this (the last 429's Retry-After)
    next_turn: float = 0.0  # the next free turn, while paced
    spacing: float = 0.0  # seconds between turns, while paced
    closest: float = 0.0  # the spacing narrows no further than this
    paced_until: float = 0.0
    last: float = 0.0  # the last turn given (a booked caller back late goes no closer to it than the spacing)


class Board:
    """Each path's turns and the moments its last calls passed, in a fixed table of ``SLOTS`` (a path's place is
    found by a hash of it, and kept). Callers hold ``locked()`` around a read and its write."""

    def __init__(self, memory: bytearray | mmap.mmap, file: IO[bytes] | None = None) -> None:
        self._memory = memory
        self._file = file  # shared: the page's file, whose lock the processes take
        self._lock = threading.Lock()  # lockf does not keep a process's own threads apart
        self._places: dict[str, int] = {}  # path -> its slot's offset (a slot, once taken, is the path's for good)

    @classmethod
    def local(cls) -> Board:
        """Kept in this process alone."""
        return cls(bytearray(SLOTS * _SLOT))

    @classmethod
    def shared(cls) -> Board:
        """Kept in a page that processes forked after this call share with it and with each other."""
        file = tempfile.TemporaryFile(prefix="impersonation-bot-gate-")  # noqa: SIM115  (kept open: the page's)
        file.truncate(SLOTS * _SLOT)
        return cls(mmap.mmap(file.fileno(), SLOTS * _SLOT), file)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            if self._file is None:
                yield
                return
            import fcntl  # POSIX: only a bot that forks serving processes shares a board

            fcntl.lockf(self._file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._file.fileno(), fcntl.LOCK_UN)

    def known(self, path: str) -> int | None:
        """``path``'s slot, if this process has found it before (no lock needed: a slot is its path's for good)."""
        return self._places.get(path)

    def place(self, path: str, *, make: bool) -> int | None:
        """Where ``path``'s slot is (``make``: taken if it has none; ``None`` if it has none, or none is free)."""
        offset = self._places.get(path)
        if offset is not None:
            return offset
        key = hashlib.blake2b(path.encode(), digest_size=16).digest()
        for offset in range(0, SLOTS * _SLOT, _SLOT):
            held = bytes(self._memory[offset:offset + 16])
            if held == key or (make and held == bytes(16)):
                if held != key:
                    self._memory[offset:offset + 16] = key
                self._places[path] = offset
                return offset
        return None

    def turns(self, offset: int) -> Turns:
        return Turns(*_HEAD.unpack_from(self._memory, offset)[1:7])

    def keep(self, offset: int, turns: Turns) -> None:
        key, *_, passes = _HEAD.unpack_from(self._memory, offset)
        _HEAD.pack_into(self._memory, offset, key, turns.until, turns.next_turn, turns.spacing, turns.closest,
                        turns.paced_until, turns.last, passes)

    def passed(self, offset: int, now: float) -> None:
        """A call passed at ``now``."""
        key, *turns, passes = _HEAD.unpack_from(self._memory, offset)
        struct.pack_into("=d", self._memory, offset + _HEAD.size + 8 * (passes % RING), now)
        _HEAD.pack_into(self._memory, offset, key, *turns, passes + 1)

    def passed_since(self, offset: int, since: float) -> int:
        """How many calls passed after ``since`` (at most ``RING``)."""
        passes = _HEAD.unpack_from(self._memory, offset)[-1]
        return sum(1 for at in _RING.unpack_from(self._memory, offset + _HEAD.size)[:min(passes, RING)] if at > since)

    def booking(self, offset: int, who: int, *, take: bool = False) -> float | None:
        """When ``who``'s booked turn is (``take``: and give its place up), if it has one."""
        for place in range(offset + _HEAD.size + _RING.size, offset + _SLOT, _BOOKING.size):
            booked, at = _BOOKING.unpack_from(self._memory, place)
            if booked == who:
                if take:
                    _BOOKING.pack_into(self._memory, place, 0, 0.0)
                return float(at)
        return None

    def respace(self, offset: int, start: float, spacing: float, now: float) -> float:
        """Move the turns booked (those not stale) to no sooner than ``start``, ``spacing`` apart, in the order they
        were booked in (a hold since: each keeps its place in the queue); when the turn after the last of them is."""
        places = range(offset + _HEAD.size + _RING.size, offset + _SLOT, _BOOKING.size)
        booked = sorted((at, place, who) for place in places
                        for who, at in [_BOOKING.unpack_from(self._memory, place)] if who and at >= now - STALE)
        turn = start
        for at, place, who in booked:
            at = max(at, turn)
            _BOOKING.pack_into(self._memory, place, who, at)
            turn = at + spacing
        return turn

    def book(self, offset: int, who: int, at: float, now: float) -> bool:
        """Book the turn at ``at`` for ``who`` in a free place (or a stale one); false when there is none."""
        for place in range(offset + _HEAD.size + _RING.size, offset + _SLOT, _BOOKING.size):
            booked, then = _BOOKING.unpack_from(self._memory, place)
            if booked == 0 or then < now - STALE:
                _BOOKING.pack_into(self._memory, place, who, at)
                return True
        return False
