"""A 429 on one call holds every other call to that path in the process (``bot.descope.gate``): they wait their turn
instead of each hitting Descope's limit again at the same instant; calls to other paths go on; a hold longer than a
thread may wait is the caller's (``DescopeUnavailable`` with the wait left)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from bot.descope import DescopeClient, DescopeUnavailable
from bot.descope.gate import Gate

STOP, LOGOUT = "/v1/mgmt/stop/impersonation", "/v1/auth/logout"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def elsewhere(work: object) -> object:
    """``work()`` on another thread (a hold set here is not its own), its answer."""
    answer: list[object] = []
    thread = threading.Thread(target=lambda: answer.append(work()))  # type: ignore[operator]
    thread.start()
    thread.join()
    return answer[0]


def test_a_hold_makes_the_other_calls_to_that_path_wait_it_out_and_no_others() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.hold(STOP, 2.0)
    assert gate.wait(STOP, at_most=30) == 0.0  # the thread whose 429 it was waits out its own retry
    assert elsewhere(lambda: gate.wait(LOGOUT, at_most=30)) == 0.0 and clock.slept == []
    assert elsewhere(lambda: gate.wait(STOP, at_most=30)) == 2.0 and clock.slept == [2.0]
    assert elsewhere(lambda: gate.wait(STOP, at_most=30)) == 0.0  # passed


def test_a_hold_longer_than_a_thread_may_wait_is_left_to_the_caller() -> None:
    clock = Clock()
    gate = Gate(monotonic=clock.monotonic, sleep=clock.sleep)
    gate.hold(STOP, 60.0)
    gate.hold(STOP, 5.0)  # a shorter hold does not shorten it
    assert elsewhere(lambda: gate.wait(STOP, at_most=30)) is None and clock.slept == []
    assert gate.left(STOP) == 60.0


def test_many_calls_at_once_meet_one_429_not_one_each() -> None:
    """Eight stops at once; Descope answers the first with a 429 (Retry-After: 1): the other seven wait for the gate
    rather than each meeting the limit, and every stop goes through."""
    seen: list[int] = []
    lock = threading.Lock()
    first = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            limited = not seen
            seen.append(429 if limited else 200)
        if limited:
            first.set()
            return httpx.Response(429, headers={"Retry-After": "1"},
                                  json={"errorCode": "E130429", "errorDescription": "rate limited"})
        return httpx.Response(200, json={"jwt": "actor"})

    with DescopeClient("P2gate", "K-gate", "https://descope.test", transport=httpx.MockTransport(handler)) as client:
        threads = [threading.Thread(target=client.stop_impersonation, args=(f"jwt-{n}",)) for n in range(8)]
        threads[0].start()
        assert first.wait(5)
        started = time.monotonic()
        for thread in threads[1:]:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert seen.count(429) == 1 and seen.count(200) == 8
    assert time.monotonic() - started >= 0.5  # the others waited for the gate


def test_a_call_held_longer_than_the_client_waits_is_answered_at_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "120"},
                              json={"errorCode": "E130429", "errorDescription": "rate limited"})

    with DescopeClient("P2gate", "K-gate", "https://descope.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DescopeUnavailable):
            client.stop_impersonation("jwt-1")
        held = elsewhere(lambda: _unavailable(client))
    assert isinstance(held, DescopeUnavailable) and held.retry_after is not None and held.retry_after > 100


def _unavailable(client: DescopeClient) -> DescopeUnavailable | None:
    try:
        client.stop_impersonation("jwt-2")
    except DescopeUnavailable as exc:
        return exc
    return None
