"""Several serving processes (``WEB_CONCURRENCY``, ``bot.server.workers``): each a full replica on the shared database,
behind one port. They answer together, count together in ``/metrics``, a worker that dies is replaced, SIGTERM
winds them all down, and a parent killed outright takes its workers with it (a restart never finds the old ones
still serving). Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bot.devtools.harness import TARGET, Stack
from tests.conftest import StackFactory
from tests.e2e.test_metrics import scrape, value


def workers_of(pid: int) -> list[int]:
    """The PIDs of a process's children (its serving processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(predicate: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(predicate())  # type: ignore[operator]


def parent_pid(s: Stack) -> int:
    assert s.bot.proc is not None
    return s.bot.proc.pid


def test_three_workers_answer_together_and_count_together(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="3", MAX_PENDING_PER_REQUESTER="50")
    assert wait_for(lambda: len(workers_of(parent_pid(s))) == 3)
    for i in range(12):  # new connections: the kernel hands them to whichever worker accepts first
        s.descope.add_user(f"user{i}@example.com")
        reply = s.command(f"user{i}@example.com 30m checking ticket SUP-{i}")
        assert reply.status == 200 and "Request `" in reply.text, reply.text
    assert s.slack.wait_for(lambda: len([c for c in s.slack.calls_of("chat.postMessage")
                                         if not c.params.get("thread_ts")]) >= 12)
    for _ in range(6):  # whichever worker answers the scrape, it reports all of them
        _, samples = scrape(s)
        assert value(samples, "impersonation_bot_requests_total", outcome="submitted") == 12


def test_a_worker_that_dies_is_replaced_and_nothing_is_lost(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="2")
    assert wait_for(lambda: len(workers_of(parent_pid(s))) == 2)
    first, second = workers_of(parent_pid(s))
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: len(workers_of(parent_pid(s))) == 2 and first not in workers_of(parent_pid(s)))
    assert second in workers_of(parent_pid(s))
    request_id, _ = s.submit()  # the bot still takes requests and posts them
    assert request_id
    assert "worker" in s.bot.log() and "starting another" in s.bot.log()


def test_sigterm_winds_every_worker_down(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="2")
    assert wait_for(lambda: len(workers_of(parent_pid(s))) == 2)
    workers = workers_of(parent_pid(s))
    assert s.bot.stop(signal.SIGTERM) == 0
    assert not any(alive(pid) for pid in workers)


def test_a_parent_killed_outright_takes_its_workers_with_it(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="2")
    assert wait_for(lambda: len(workers_of(parent_pid(s))) == 2)
    workers = workers_of(parent_pid(s))
    s.bot.kill()  # SIGKILL: no chance to pass anything on
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=5)
    s.bot.restart()  # the port is free again: no old worker still holds it
    reply = s.command(f"{TARGET} 30m after the restart")
    assert reply.status == 200 and "Request `" in reply.text


def test_a_start_refused_by_slack_is_said_once(make_stack: StackFactory) -> None:
    s = make_stack(WEB_CONCURRENCY="2")
    s.bot.stop()
    s.slack.fail_next("auth.test", status=200, error="invalid_auth", retry_after=None, count=10)
    with pytest.raises(RuntimeError, match="bot exited with 2"):
        s.bot.restart()
    assert s.bot.proc is not None and s.bot.proc.wait(10) == 2
    assert s.bot.log().count("Slack rejected SLACK_BOT_TOKEN") == 1
