"""A 429 on one call holds every call to that path (``bot.transport.gate``), then lets them go one at a time at the rate
Descope was seen to allow, never faster than it: calls queued behind a 429 meet the limit about once between them, not
once each; calls to other paths go on; a turn further off than a thread may wait, or any wait for a call that
answers Slack, is the caller's (``DescopeUnavailable`` with the wait left). The bot's serving processes share their
turns (``Board.shared``): one's 429 holds the others, all their calls teach the rate, and one killed while it held the
board's lock does not stop the others."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable

import httpx
import pytest

from bot.descope import DescopeClient, DescopeUnavailable
from bot.transport.board import BOOKINGS, SLOTS, Board
from bot.transport.gate import CLOSEST, MARGIN, MIN_HOLD, PACE_AFTER, Gate

STOP, LOGOUT = "/v1/mgmt/stop/impersonation", "/v1/auth/logout"
LIMITED = {"errorCode": "E130429", "errorDescription": "rate limited"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_429_holds_its_path_for_its_retry_after_then_paces_it_at_the_rate_that_passed() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(4):  # four calls passed this second
        gate.passed(STOP)
    assert gate.refused(STOP, 2.0) == 2.0
    assert gate.turn(LOGOUT, at_most=30) == 0.0 and clock.slept == []  # another path goes on
    waits = [gate.turn(STOP, at_most=30) for _ in range(3)]
    assert waits[0] == 2.0  # the hold, then one at a time
    assert waits[1] == pytest.approx(MARGIN / 4) and waits[2] == pytest.approx(MARGIN / 4)


def test_calls_that_pass_while_paced_narrow_the_spacing_and_pacing_ends() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.passed(STOP)
    gate.refused(STOP, 1.0)
    first, second = gate.turn(STOP, at_most=30), gate.turn(STOP, at_most=30)
    gate.passed(STOP)
    third = gate.turn(STOP, at_most=30)
    assert first == 1.0 and second == pytest.approx(MARGIN)
    assert third is not None and third < MARGIN  # narrowed by the call that passed
    clock.sleep(PACE_AFTER + 1)
    assert gate.turn(STOP, at_most=0) == 0.0  # no longer paced


def test_the_turns_narrow_no_closer_than_the_rate_descope_let_through() -> None:
    """What passed in the second before the 429 is the limit (calls came faster than it let through): pacing nears
    it, and stays just under it, rather than meeting it again and losing a whole Retry-After."""
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(10):
        gate.passed(STOP)
    gate.refused(STOP, 1.0)
    gate.turn(STOP, at_most=30)
    spacings = []
    for _ in range(250):  # more than it takes to narrow from MARGIN to CLOSEST, within PACE_AFTER
        before = clock.now
        gate.turn(STOP, at_most=30)
        spacings.append(clock.now - before)
        gate.passed(STOP)
    assert spacings[0] == pytest.approx(MARGIN / 10, rel=0.01)
    assert min(spacings) == pytest.approx(CLOSEST / 10) and spacings[-1] == pytest.approx(CLOSEST / 10)


IMPERSONATE = "/v1/mgmt/impersonate"


def test_a_turn_too_far_off_is_booked_for_who_asked_and_taken_when_it_comes_back_without_queueing_again() -> None:
    """Activations put off by a 429 come back one at a time at the pace allowed: each books its own turn (the next
    ones go to others), holding no thread meanwhile, and takes it when it calls again, ahead of those booked after."""
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(2):
        gate.passed(IMPERSONATE)
    gate.refused(IMPERSONATE, 30.0)
    spacing = MARGIN / 2
    assert [gate.turn(IMPERSONATE, at_most=1, who=f"R{n}") for n in range(3)] == [None] * 3 and clock.slept == []
    assert [gate.booked(IMPERSONATE, f"R{n}") for n in range(3)] == pytest.approx([30, 30 + spacing, 30 + 2 * spacing])
    assert gate.left(IMPERSONATE) == pytest.approx(30 + 3 * spacing)  # a caller unbooked goes after them
    assert gate.turn(IMPERSONATE, at_most=1, who="R2") is None  # back early: its turn is kept, not lost
    assert gate.booked(IMPERSONATE, "R2") == pytest.approx(30 + 2 * spacing)
    clock.now += 30 + 2 * spacing
    assert gate.turn(IMPERSONATE, at_most=1, who="R2") == pytest.approx(0, abs=1e-9)  # on time: before those due later
    assert gate.booked(IMPERSONATE, "R2") is None  # its turn is spent
    assert gate.turn(IMPERSONATE, at_most=1, who="R0") == pytest.approx(spacing)  # back late: no closer to the last
    assert gate.turn(IMPERSONATE, at_most=1) == pytest.approx(spacing)  # the next unbooked: after all three


def test_another_429_moves_the_turns_booked_after_its_hold_each_keeping_its_place_in_the_queue() -> None:
    """Descope asks again while turns are booked (one came back and met the limit once more): the turns booked go
    after the new hold, spaced as before and in the order they were booked, not all at the hold's end at once."""
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.refused(IMPERSONATE, 30.0)
    spacing = MARGIN  # nothing passed: one a second, with the margin
    for n in range(4):
        assert gate.turn(IMPERSONATE, at_most=1, who=f"R{n}") is None
    clock.now += 30
    assert gate.turn(IMPERSONATE, at_most=1, who="R0") == 0.0
    assert gate.refused(IMPERSONATE, 20.0) == 20.0  # R0's call met the limit again
    assert gate.book(IMPERSONATE, "R0") == pytest.approx(20 + 3 * spacing)  # booked again: after those waiting
    assert [gate.booked(IMPERSONATE, f"R{n}") for n in (1, 2, 3)] == pytest.approx([20, 20 + spacing, 20 + 2 * spacing])
    clock.now += 20
    waits = [gate.turn(IMPERSONATE, at_most=5, who=f"R{n}") for n in (1, 2, 3, 0)]
    assert waits == pytest.approx([0, spacing, spacing, spacing])  # one at a time (each slept its wait)
    assert gate.turn(IMPERSONATE, at_most=5) == pytest.approx(spacing)


def test_a_booking_is_spent_by_its_caller_back_after_pacing_ended() -> None:
    """Back long after its time (its worker was busy): the path is no longer paced, it goes; its booking does not
    linger to put it ahead of the queue at the next hold."""
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.refused(IMPERSONATE, 5.0)
    assert gate.turn(IMPERSONATE, at_most=1, who="R1") is None
    clock.now += 5 + PACE_AFTER + 1
    assert gate.turn(IMPERSONATE, at_most=1, who="R1") == 0.0 and gate.booked(IMPERSONATE, "R1") is None


def test_a_hold_since_a_turn_was_booked_is_kept_and_a_booking_never_claimed_gives_its_place_up() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.refused(IMPERSONATE, 10.0)
    assert gate.turn(IMPERSONATE, at_most=1, who="R1") is None and gate.booked(IMPERSONATE, "R1") == 10.0
    clock.now += 9.5
    gate.refused(IMPERSONATE, 20.0)  # another 429 meanwhile (another replica's call): Descope asked again
    assert gate.booked(IMPERSONATE, "R1") == 20.0
    assert gate.turn(IMPERSONATE, at_most=1, who="R1") is None  # not before then: booked again
    for n in range(BOOKINGS - 1):  # the others fill every place left
        assert gate.book(IMPERSONATE, f"O{n}") is not None
    assert gate.book(IMPERSONATE, "one too many") is None  # no place: waits its turn unbooked (the caller spreads it)
    clock.now += 200  # none came back (their requests ended): their places are taken again
    gate.refused(IMPERSONATE, 5.0)
    assert gate.book(IMPERSONATE, "late") == 5.0


def test_a_429_without_retry_after_holds_at_least_a_second() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    assert gate.refused(STOP, None) == MIN_HOLD and gate.left(STOP) == MIN_HOLD


def test_a_turn_further_off_than_a_thread_may_wait_is_left_to_the_caller() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.refused(STOP, 60.0)
    gate.refused(STOP, 5.0)  # a shorter hold does not shorten it
    assert gate.turn(STOP, at_most=30) is None and clock.slept == []
    assert gate.left(STOP) == 60.0


class RateLimited:
    """Descope's limit on one path: at most ``per_second`` calls in any second, beyond 429 with Retry-After."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.hits: deque[float] = deque()
        self.lock = threading.Lock()
        self.passed = self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            now = time.monotonic()
            while self.hits and self.hits[0] <= now - 1.0:
                self.hits.popleft()
            if len(self.hits) < self.per_second:
                self.hits.append(now)
                self.passed += 1
                return httpx.Response(200, json={"jwt": "actor"})
            self.refused += 1
            wait = max(1, math.ceil(self.hits[0] + 1.0 - now))
        return httpx.Response(429, headers={"Retry-After": str(wait)}, json=LIMITED)


def test_many_calls_at_once_are_all_answered_at_the_allowed_rate_meeting_the_limit_about_once_each_at_most() -> None:
    """Twenty stops at once against five a second: all go through, in about the time the limit takes, with fewer
    429s than calls (without the gate, each would meet the limit again and again at each hold's end)."""
    descope = RateLimited(per_second=5)
    with DescopeClient("P2gate", "K-gate", "https://descope.test", transport=httpx.MockTransport(descope)) as client:
        started = time.monotonic()
        threads = [threading.Thread(target=client.stop_impersonation, args=(f"jwt-{n}",)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        took = time.monotonic() - started
    assert descope.passed == 20
    assert descope.refused < 20, descope.refused
    assert 20 / 5 - 1.5 < took < 20 / 5 * MARGIN + 4, took


def test_a_call_whose_turn_is_far_off_is_answered_at_once_and_a_call_answering_slack_does_not_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "120"}, json=LIMITED)

    with DescopeClient("P2gate", "K-gate", "https://descope.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DescopeUnavailable):
            client.stop_impersonation("jwt-1")
        with pytest.raises(DescopeUnavailable) as held:
            client.stop_impersonation("jwt-2")
    assert held.value.retry_after is not None and held.value.retry_after > 100


def test_a_call_with_a_deadline_does_not_wait_its_turn() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"}, json=LIMITED)
        return httpx.Response(200, json={"user": {"loginIds": ["a@acme.com"], "userId": "U1", "userTenants": []}})

    with DescopeClient("P2gate", "K-gate", "https://descope.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DescopeUnavailable):
            client.load_user("a@acme.com", timeout=2.0)  # the pre-flight, inside Slack's 3 seconds
        started = time.monotonic()
        with pytest.raises(DescopeUnavailable) as held:
            client.load_user("a@acme.com", timeout=2.0)
        assert time.monotonic() - started < 0.5 and len(calls) == 1
    assert held.value.retry_after is not None and 0 < held.value.retry_after <= 1.0


def _in_another_process(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked process, as the bot's serving processes are (``bot.server.workers``); wait for it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_429_one_serving_process_meets_holds_the_path_in_the_others_and_all_their_calls_teach_the_rate() -> None:
    board = Board.shared()  # made before the fork, as the parent makes it
    clock = Clock()
    mine = Gate(monotonic=clock.monotonic, sleep=clock.sleep, board=board)
    for _ in range(3):
        mine.passed(STOP)

    def the_other() -> None:
        theirs = Gate(monotonic=clock.monotonic, sleep=clock.sleep, board=board)
        for _ in range(5):
            theirs.passed(STOP)
        theirs.refused(STOP, 2.0)

    _in_another_process(the_other)
    assert mine.left(STOP) == 2.0 and mine.turn(LOGOUT, at_most=0) == 0.0  # held here too; another path goes on
    assert mine.turn(STOP, at_most=30) == 2.0
    assert mine.turn(STOP, at_most=30) == pytest.approx(MARGIN / 8)  # the eight that passed, in both processes
    assert Gate(monotonic=clock.monotonic, board=Board.shared()).left(STOP) == 0.0  # another bot's are its own


def test_a_path_the_board_has_no_room_for_is_held_all_the_same() -> None:
    clock = Clock()
    board = Board.shared()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep, board=board)
    for n in range(SLOTS):
        gate.passed(f"/v1/path/{n}")  # every place on the board taken
    assert board.place("/v1/one/more", make=True) is None
    assert gate.refused(STOP, 2.0) == 2.0 and gate.left(STOP) == 2.0  # kept in this process instead
    assert gate.turn(STOP, at_most=30) == 2.0


def test_a_serving_process_killed_while_it_holds_the_turns_does_not_stop_the_others_calls() -> None:
    board = Board.shared()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        with board.locked():
            os.write(write, b"1")
            os.kill(os.getpid(), signal.SIGKILL)  # killed while it holds the board's lock
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    answered = threading.Event()

    def call() -> None:
        gate = Gate(board=board)
        gate.passed(STOP)
        gate.turn(STOP, at_most=0)
        answered.set()

    threading.Thread(target=call, daemon=True).start()
    assert answered.wait(5), "the lock of a killed process still held the others"
