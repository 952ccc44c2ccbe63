"""A server that takes what is sent and never answers is given up on (``bot.store.watchdog``): the connection of work
that outlives its allowance is shut down, so the driver's wait ends at once; work done in time keeps its connection;
the allowance is what the caller's deadline leaves, else the watchdog's own; a forked serving process watches too."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bot.store.patience import LEAST_WAIT, waiting_at_most
from bot.store.watchdog import Watchdog


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connection (ours, the server's end): the server's end never answers."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)  # a watchdog that never cuts fails the test, not the run
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def _waits_for_an_answer(ours: socket.socket, watchdog: Watchdog, **within: float) -> tuple[bytes, float, bool]:
    """Send a query and wait for its answer under the watchdog: what was read, how long it took, whether cut."""
    started = time.monotonic()
    with watchdog.watching(ours, **within) as watch:
        ours.sendall(b"SELECT 1")
        answer = ours.recv(16)  # blocks until the server answers, or the connection is cut
    return answer, time.monotonic() - started, watch.cut


def test_work_a_server_leaves_unanswered_is_cut_when_its_allowance_runs_out(
        connection: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = connection
    answer, took, cut = _waits_for_an_answer(ours, Watchdog(hung_after=0.3))
    assert answer == b"" and cut  # the driver's wait ends as a dropped connection's does
    assert 0.3 <= took < 1.5
    assert theirs.recv(16) == b"SELECT 1"  # the query was sent: only the answer never came


def test_work_answered_in_time_keeps_its_connection(connection: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = connection
    watchdog = Watchdog(hung_after=0.3)
    threading.Timer(0.05, lambda: theirs.sendall(b"1")).start()
    answer, _, cut = _waits_for_an_answer(ours, watchdog)
    assert answer == b"1" and not cut
    time.sleep(0.5)  # well past the allowance: nothing is watched any more
    theirs.sendall(b"2")
    assert ours.recv(16) == b"2"


def test_the_allowance_is_what_the_callers_deadline_leaves_else_the_watchdogs_own(
        connection: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = connection
    watchdog = Watchdog(hung_after=30)
    with waiting_at_most(0.2):  # a Slack request: what is left of its deadline (at least LEAST_WAIT)
        _, took, cut = _waits_for_an_answer(ours, watchdog)
    assert cut and LEAST_WAIT <= took < LEAST_WAIT + 1.0


def test_a_ping_is_given_its_own_allowance(connection: tuple[socket.socket, socket.socket]) -> None:
    _, took, cut = _waits_for_an_answer(connection[0], Watchdog(hung_after=30), within=0.2)
    assert cut and 0.2 <= took < 1.0


def test_a_commit_once_sent_is_not_cut_at_the_callers_deadline(
        connection: tuple[socket.socket, socket.socket]) -> None:
    """Cut, a commit's outcome is unknown: it is given the watchdog's own allowance, whoever waits for it."""
    ours, theirs = connection
    watchdog = Watchdog(hung_after=30)
    threading.Timer(0.6, lambda: theirs.sendall(b"COMMIT")).start()
    with waiting_at_most(0.2), watchdog.watching(ours) as watch:
        watchdog.committing(watch)
        ours.sendall(b"COMMIT")
        assert ours.recv(16) == b"COMMIT" and not watch.cut  # answered after the deadline: not cut


def test_a_serving_process_forked_after_the_watchdog_was_used_watches_on_its_own(
        connection: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = connection
    watchdog = Watchdog(hung_after=0.2)
    threading.Timer(0.05, lambda: theirs.sendall(b"1")).start()
    assert _waits_for_an_answer(ours, watchdog)[0] == b"1"  # its thread started here, in the parent
    pid = os.fork()
    if pid == 0:  # a forked process has none of its parent's threads
        code = 1
        try:
            answer, took, cut = _waits_for_an_answer(ours, watchdog)
            code = 0 if answer == b"" and cut and took < 2.0 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
