"""One process's turns at a rate-limited Descope endpoint (Descope counts calls per source IP and answers 429 with
``Retry-After`` beyond its limit; its SDK does not retry that).

A 429 on a path (``Gate.refused``) holds every call to it in the process until its ``Retry-After`` has passed (at
least ``MIN_HOLD`` when Descope gave none), the refused call included, and then lets them go one at a time, spaced by
the rate Descope was seen to allow (the calls that passed in the second before the 429, with a margin), not all at the
instant the hold ends: calls queued behind a 429 meet the limit about once between them, not once each. Each call
that passes while paced narrows the spacing a little (the limit may be higher than what was seen); another 429 sets
it from what passed again. Pacing ends ``PACE_AFTER`` seconds after the hold. Calls to other paths are not held.

A turn further away than the caller may wait (``at_most``: a thread is not held for long, and a call answering
Slack within its 3 seconds waits not at all) is not waited for: ``turn`` answers ``None`` and the caller gives up
with the wait left (``left``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_HOLD = 1.0  # seconds a 429 without Retry-After holds its path
PACE_AFTER = 30.0  # seconds a path stays paced after its hold ends
MARGIN = 1.1  # turns this much further apart than what passed (a limit counted over any second, clocks apart)
NARROW = 0.999  # each call that passes while paced brings the turns this much closer (about 5 % a second at 50)
SEEN = 1.0  # the window of calls that passed, to learn the rate from


@dataclass
class _Path:
    until: float = 0.0  # no call before this (the last 429's Retry-After)
    next_turn: float = 0.0  # the next free turn, while paced
    spacing: float = 0.0  # seconds between turns, while paced
    paced_until: float = 0.0
    passed: deque[float] = field(default_factory=deque)  # when calls passed, the last SEEN seconds


class Gate:
    """Per path: the hold and the turns. Thread-safe; the clock and the sleep are injected (tests)."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paths: dict[str, _Path] = {}

    def turn(self, path: str, *, at_most: float) -> float | None:
        """Wait for this call's turn at ``path`` if it comes within ``at_most`` seconds (the seconds waited);
        ``None`` without waiting when it is further (``left`` says how far)."""
        with self._lock:
            state = self._paths.get(path)
            now = self._monotonic()
            if state is None or now >= state.paced_until:
                return 0.0
            at = max(now, state.until, state.next_turn)
            if at - now > at_most:
                return None
            state.next_turn = at + state.spacing
        if at > now:
            self._sleep(at - now)
        return at - now

    def passed(self, path: str) -> None:
        """A call to ``path`` was answered (not 429)."""
        with self._lock:
            state = self._paths.get(path)
            if state is None:
                state = self._paths[path] = _Path()
            now = self._monotonic()
            state.passed.append(now)
            while state.passed and state.passed[0] <= now - SEEN:
                state.passed.popleft()
            if now < state.paced_until:  # the next turn not yet given comes closer too
                closer = state.spacing * (1 - NARROW)
                state.spacing -= closer
                state.next_turn = max(state.until, state.next_turn - closer)

    def refused(self, path: str, retry_after: float | None) -> float:
        """A call to ``path`` was answered 429 with ``retry_after`` (seconds; ``None``: no header): hold the path that
        long, then pace it at the rate that passed. Returns the hold."""
        hold = MIN_HOLD if retry_after is None else max(retry_after, 0.0)
        with self._lock:
            state = self._paths.get(path)
            if state is None:
                state = self._paths[path] = _Path()
            now = self._monotonic()
            while state.passed and state.passed[0] <= now - SEEN:
                state.passed.popleft()
            state.spacing = MARGIN * SEEN / max(len(state.passed), 1)
            state.until = max(state.until, now + hold)
            state.next_turn = max(state.next_turn, state.until)
            state.paced_until = state.until + PACE_AFTER
        return hold

    def left(self, path: str) -> float:
        """How long until the next turn at ``path`` (0: now)."""
        with self._lock:
            state = self._paths.get(path)
            now = self._monotonic()
            if state is None or now >= state.paced_until:
                return 0.0
            return max(0.0, state.until - now, state.next_turn - now)
