"""The bot's turns at a rate-limited endpoint: a Descope path (Descope counts calls per source IP and answers 429 with
``Retry-After`` beyond its limit; its SDK does not retry that), or a Slack Web API method (per workspace, and for
``chat.postMessage`` per channel: ``bot.slack.client``). Either client names its paths; a board holds both.

A 429 on a path (``Gate.refused``) holds every call to it until its ``Retry-After`` has passed (at least ``MIN_HOLD``
when none was given), the refused call included (a Slack call slack-sdk retries after a short ``Retry-After`` goes
again without asking), and then lets them go one at a time, spaced by the rate the service
was seen to allow (the calls that passed in the second before the 429, with a ``MARGIN``), not all at the instant the
hold ends: calls queued behind a 429 meet the limit about once between them, not once each. Each call that passes
while paced narrows the spacing a little, down to ``CLOSEST`` times the rate seen (which was the limit: calls came
faster than it let through); another 429 sets it from what passed again. Pacing ends ``PACE_AFTER`` seconds after the
hold. Calls to other paths are not held.

A turn further away than the caller may wait (``at_most``: a thread is not held for long, and a call answering
Slack within its 3 seconds waits not at all) is not waited for: ``turn`` answers ``None`` and the caller gives up
with the wait left (``left``). A caller that names itself (``who``: the activation a Descope 429 puts off) books that
turn instead: the turns after it go to others, and when it comes back at its time (``booked`` says when) it takes
its own turn then, without queueing again behind those booked after it (one back late goes no closer to the turn given
last than the spacing). Many calls put off together thus come back one at a time, at the pace allowed, and none of
them holds a thread while it waits. Another 429 moves the turns booked after its hold, each keeping its place in the
queue. A booking never claimed (the request ended meanwhile, or another machine's replica took it up: bookings are
kept where the turns are) leaves its turn unused, and its place is taken again after ``board.STALE`` seconds.

Where the turns are kept (``bot.transport.board``): this process's memory, or a page of memory the serving processes of
one bot share. Descope counts calls per source IP, and Slack per app and workspace, so the processes of one bot meet
one limit: a 429 that one of them meets holds the path in all of them, and the rate learnt is what all of them passed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.transport.board import Board, Turns

MIN_HOLD = 1.0  # seconds a 429 without Retry-After holds its path
PACE_AFTER = 30.0  # seconds a path stays paced after its hold ends
MARGIN = 1.1  # turns start this much further apart than what passed (a limit counted over any second, clocks apart)
NARROW = 0.999  # each call that passes while paced brings the turns this much closer (about 5 % a second at 50)
CLOSEST = 1.02  # … but never closer than this many times the spacing of what passed before the 429
SEEN = 1.0  # the window of calls that passed, to learn the rate from

class Gate:
    """Per path: the hold and the turns. Thread-safe (and, on a shared board, process-safe); the clock and the sleep
    are injected (tests). A path the board has no room for is kept on one of this process's own."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, board: Board | None = None) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._boards = (board if board is not None else Board.local(), Board.local())  # the second: no room left

    @contextmanager
    def _slot(self, path: str, *, make: bool) -> Iterator[tuple[Board, int] | None]:
        """``path``'s board and place, locked (``make``: taken if it has none); ``None``: it has none."""
        for board in self._boards:
            with board.locked():
                offset = board.place(path, make=make)
                if offset is not None:
                    yield board, offset
                    return
        yield None

    def turn(self, path: str, *, at_most: float, who: str | None = None) -> float | None:
        """Wait for this call's turn at ``path`` if it comes within ``at_most`` seconds (the seconds waited);
        ``None`` without waiting when it is further (``left`` says how far). ``who``: the caller's turn booked
        before is taken (not queued for again); a turn further off is booked for it (``booked`` says when)."""
        if who is None and self._free(path):  # (one who may have booked looks under the lock: to spend its booking)
            return 0.0
        with self._slot(path, make=False) as slot:
            if slot is None:
                return 0.0
            board, offset = slot
            state = board.turns(offset)
            now = self._monotonic()
            key = _key_of(who) if who is not None else None
            booked = None if key is None else board.booking(offset, key)
            wait = _wait(state, now)
            if wait is None:  # no longer paced: its turn, if it had one, is spent
                if key is not None and booked is not None:
                    board.booking(offset, key, take=True)
                return 0.0
            if key is not None and booked is not None:  # its own turn, kept until it comes (a hold since respected,
                # and the turn given last: one back late goes no closer to it than the spacing)
                wait = max(0.0, booked - now, state.until - now, state.last + state.spacing - now)
                if wait > at_most:
                    return None
                board.booking(offset, key, take=True)
            elif wait > at_most:
                if key is not None:
                    _book(board, offset, state, key, now + wait, now)
                return None
            else:
                state.next_turn = now + wait + state.spacing
            state.last = max(state.last, now + wait)
            board.keep(offset, state)
        if wait > 0:
            self._sleep(wait)
        return wait

    def book(self, path: str, who: str) -> float | None:
        """Book the next turn at ``path`` for ``who``, however far off (a turn it booked before is given up): the
        seconds until it; ``None`` when the path is not paced (no turns to book) or no place is free."""
        with self._slot(path, make=False) as slot:
            if slot is None:
                return None
            board, offset = slot
            state = board.turns(offset)
            now = self._monotonic()
            key = _key_of(who)
            board.booking(offset, key, take=True)
            wait = _wait(state, now)
            return wait if wait is not None and _book(board, offset, state, key, now + wait, now) else None

    def booked(self, path: str, who: str) -> float | None:
        """How long until ``who``'s booked turn at ``path`` (0: now, or a hold since), if it has one."""
        with self._slot(path, make=False) as slot:
            if slot is None:
                return None
            board, offset = slot
            at = board.booking(offset, _key_of(who))
            now = self._monotonic()
            return None if at is None else max(0.0, at - now, board.turns(offset).until - now)

    def _free(self, path: str) -> bool:
        """Whether ``path`` is neither held nor paced now, read without the lock (nearly every call: a 429 is rare).
        A path not yet known here is looked up under the lock; a read that races another process's 429 may let one
        call through as the hold begins, as a call sent just before it would have gone (its answer is that 429)."""
        for board in self._boards:
            offset = board.known(path)
            if offset is not None:
                return _wait(board.turns(offset), self._monotonic()) is None
        return False

    def passed(self, path: str) -> None:
        """A call to ``path`` was answered (not 429)."""
        with self._slot(path, make=True) as slot:
            if slot is None:
                return
            board, offset = slot
            now = self._monotonic()
            board.passed(offset, now)
            state = board.turns(offset)
            if now < state.paced_until:  # the next turn not yet given comes closer too
                closer = min(state.spacing * (1 - NARROW), max(state.spacing - state.closest, 0.0))
                state.spacing -= closer
                state.next_turn = max(state.until, state.next_turn - closer)
                board.keep(offset, state)

    def refused(self, path: str, retry_after: float | None) -> float:
        """A call to ``path`` was answered 429 with ``retry_after`` (seconds; ``None``: no header): hold the path that
        long, then pace it at the rate that passed. Returns the hold."""
        hold = MIN_HOLD if retry_after is None else max(retry_after, 0.0)
        with self._slot(path, make=True) as slot:
            if slot is None:
                return hold
            board, offset = slot
            now = self._monotonic()
            state = board.turns(offset)
            seen = SEEN / max(board.passed_since(offset, now - SEEN), 1)
            state.spacing, state.closest = MARGIN * seen, CLOSEST * seen
            state.until = max(state.until, now + hold)
            after = board.respace(offset, state.until, state.spacing, now)  # the turns booked: after the hold
            state.next_turn = max(state.next_turn, state.until, after)
            state.paced_until = max(state.until, after) + PACE_AFTER
            board.keep(offset, state)
        return hold

    def left(self, path: str) -> float:
        """How long until the next turn at ``path`` (0: now)."""
        with self._slot(path, make=False) as slot:
            if slot is None:
                return 0.0
            board, offset = slot
            return _wait(board.turns(offset), self._monotonic()) or 0.0


def _book(board: Board, offset: int, state: Turns, key: int, at: float, now: float) -> bool:
    """Book the turn at ``at`` (the next free one) for ``key``: the turns after it go to others, and pacing lasts
    past it. False when no place is free (nothing booked)."""
    if not board.book(offset, key, at, now):
        return False
    state.next_turn = at + state.spacing
    state.paced_until = max(state.paced_until, at + PACE_AFTER)
    board.keep(offset, state)
    return True


def _key_of(who: str) -> int:
    """A booking's key: a hash of its caller's name, never 0 (a free place)."""
    return int.from_bytes(hashlib.blake2b(who.encode(), digest_size=8).digest(), "little") or 1


def _wait(state: Turns, now: float) -> float | None:
    """Seconds from ``now`` to the next turn (0: now); ``None``: the path is neither held nor paced."""
    if now >= state.paced_until:
        return None
    return max(0.0, state.until - now, state.next_turn - now, state.last + state.spacing - now)
