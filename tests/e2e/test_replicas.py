"""Several bot processes on one PostgreSQL database: each session is started, announced and stopped
exactly once, and a replica that dies leaves its work to the others. PostgreSQL only (SQLite is for
one process)."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest

from bot.devtools import decode_claims
from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, GROUP_APPROVER, REQUESTER, Stack, request_id_of
from bot.devtools.signing import block_action_body
from tests.conftest import _postgres_database

StackFactory = Callable[..., Stack]


@pytest.fixture
def database_url() -> Iterator[str]:  # overrides conftest's SQLite/PostgreSQL pair: PostgreSQL only
    yield from _postgres_database()


def approval_messages(s: Stack) -> Counter[str]:
    """How many top-level approval messages mention each request ID."""
    return Counter(request_id_of(message) for (channel, _), message in list(s.slack.messages.items())
                   if channel == APPROVAL_CHANNEL and not message.get("thread_ts"))


def start_sessions(replicas: list[Stack], count: int, window: str) -> list[tuple[str, str]]:
    """``count`` requests, submitted and approved through alternating replicas (each approval counted before the next
    request: the requester may have only so many waiting, ``MAX_PENDING_PER_REQUESTER``)."""
    sessions = []
    for i in range(count):
        via, other = replicas[i % 2], replicas[(i + 1) % 2]
        login = f"replica{i}-{time.monotonic_ns()}@acme.com"
        via.descope.add_user(login)
        request_id, ts = via.submit(f"{login} {window} replica test {i}")
        assert other.click("approve", request_id, (APPROVER, GROUP_APPROVER)[i % 2], ts).status == 200
        via.slack.wait_for(lambda ts=ts, via=via: "active until" in via.approval_text(ts), message="active")
        sessions.append((request_id, ts))
    return sessions


def test_two_replicas_start_and_stop_each_session_exactly_once(make_stack: StackFactory) -> None:
    replicas = [make_stack(), make_stack()]
    a = replicas[0]
    assert replicas[0].bot.url != replicas[1].bot.url
    a.descope.set_latency(STOP_IMPERSONATION, 0.5)  # widen the window in which both replicas see it due
    sessions = start_sessions(replicas, 6, "3s")
    for _, ts in sessions:
        a.slack.wait_for(lambda ts=ts: "Session ended" in a.approval_text(ts), timeout=20, message="ended")
    time.sleep(2)  # let any duplicate show up

    minted = a.descope.minted
    assert len(minted) == len(a.descope.calls_to(IMPERSONATE)) == 6
    stops = Counter(c.body["jwt"] for c in a.descope.calls_to(STOP_IMPERSONATION))
    assert sorted(stops.values()) == [1] * 6 and set(stops) == set(minted)
    assert all(a.descope.is_stopped(token) for token in minted)
    assert all(a.descope.refresh(token) == 401 for token in minted)  # revoked (or, at the window's end, expired)
    assert approval_messages(a) == Counter({request_id: 1 for request_id, _ in sessions})
    dms = a.dms(REQUESTER)
    tokens = {decode_claims(token)["nsec"]["impersonationRequest"]: token for token in minted}
    for request_id, _ in sessions:
        assert sum(tokens[request_id] in text for _, _, text in a.slack.all_text_sent()) == 0  # never message text
        assert sum(request_id in text and "Your impersonation" in text and "has ended" in text for text in dms) == 1
    for request_id, ts in sessions:
        replies = [a.slack.message_text(ch, t) for (ch, t), m in list(a.slack.messages.items())
                   if ch == APPROVAL_CHANNEL and m.get("thread_ts") == ts and t != ts]
        assert sum("session stopped" in r for r in replies) == 1, (request_id, replies)


def test_a_replica_killed_mid_session_leaves_its_sessions_to_the_other(make_stack: StackFactory) -> None:
    replicas = [make_stack(), make_stack()]
    a, b = replicas
    sessions = start_sessions(replicas, 4, "4s")
    for _, ts in sessions:
        a.slack.wait_for(lambda ts=ts: "active until" in a.approval_text(ts), message="active")
    a.bot.kill()  # its timers die with it; b's sweep must stop every session all the same
    for _, ts in sessions:
        b.slack.wait_for(lambda ts=ts: "Session ended" in b.approval_text(ts), timeout=20, message="ended")
    stops = Counter(c.body["jwt"] for c in b.descope.calls_to(STOP_IMPERSONATION))
    assert set(stops) == set(b.descope.minted) and len(b.descope.minted) == 4
    assert max(stops.values()) == 1


def test_simultaneous_approvals_across_replicas_make_one_session(make_stack: StackFactory) -> None:
    """Twenty Approve clicks at once, half to each replica (a load balancer spreading them): one impersonate
    call, one token, one DM; the other nineteen clickers are told it was already approved."""
    a, b = make_stack(), make_stack()
    request_id, ts = a.submit()
    bodies = [block_action_body("approve", request_id, user_id=(APPROVER, GROUP_APPROVER)[i % 2],
                                channel_id=APPROVAL_CHANNEL, message_ts=ts,
                                response_url=a.slack.response_url(f"replica-race-{i}")) for i in range(20)]
    gate = threading.Barrier(20)

    def click(i: int) -> int:
        gate.wait()
        return (a, b)[i % 2].bot.post(bodies[i]).status

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(click, range(20))) == [200] * 20
    a.slack.wait_for(lambda: "active until" in a.approval_text(ts), message="active")
    a.slack.wait_for(lambda: len([c for c in a.slack.calls_of("response_url")
                                  if "already approved" in str(c.params.get("text"))]) == 19,
                     message="19 clicks told they were too late")
    time.sleep(1)
    assert len(a.descope.calls_to(IMPERSONATE)) == 1
    token = a.descope.minted[0]
    assert sum(token in text for _, _, text in a.slack.all_text_sent()) == 0  # never message text (reveal)
    assert len(a.dms(REQUESTER)) == 1  # one session DM


def test_each_reminder_is_sent_once_across_replicas(make_stack: StackFactory) -> None:
    replicas = [make_stack(REMINDER_INTERVAL="1s", PENDING_TIMEOUT="6s", SWEEP_INTERVAL="1s") for _ in range(2)]
    _, ts = replicas[0].submit()
    replicas[0].slack.wait_for(lambda: "Expired" in replicas[0].approval_text(ts), timeout=15, message="expired")
    time.sleep(1.5)
    sent = [str(c.params.get("text")) for c in replicas[0].slack.calls_of("chat.postMessage")
            if c.params.get("thread_ts") == ts and "reminder:" in str(c.params.get("text"))]
    assert len(sent) == 2, sent  # at 1 s and 3 s (7 s is past the 6 s expiry): once each, by either replica


def test_a_replica_whose_clock_is_30s_ahead_stops_each_session_once_and_none_early(
        make_stack: StackFactory, database_url: str) -> None:
    """Deadlines and leases are compared on the database's clock: a replica whose own clock runs 30 s ahead
    (its wall clock injected: ``skewed_bot``) neither stops a session early nor twice, whichever replica started it."""
    from sqlalchemy import create_engine, text

    normal, ahead = make_stack(), make_stack(argv=[sys.executable, "-m", "tests.e2e.skewed_bot", "30"])
    started = []
    for i, (via, approver) in enumerate([(normal, ahead), (ahead, normal), (normal, ahead), (ahead, normal)]):
        login = f"clock{i}-{time.monotonic_ns()}@acme.com"
        via.descope.add_user(login)
        request_id, ts = via.submit(f"{login} 4s clock test {i}")
        assert approver.click("approve", request_id, APPROVER, ts).status == 200
        # started before the next is asked for: the requester may have only three waiting (the click is answered
        # before the approval is counted)
        via.slack.wait_for(lambda ts=ts, via=via: "active until" in via.approval_text(ts), message="active")
        started.append((request_id, ts))
    for _, ts in started:
        normal.slack.wait_for(lambda ts=ts: "Session ended" in normal.approval_text(ts), timeout=30, message="ended")
    time.sleep(1.5)  # a duplicate stop would show up by now
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        ends = {r[0]: r[1] for r in conn.execute(text("SELECT id, ends_at FROM requests"))}
    engine.dispose()
    tokens = {decode_claims(t)["nsec"]["impersonationRequest"]: t for t in normal.descope.minted}
    for request_id, _ in started:
        stops = [c for c in normal.descope.calls_to(STOP_IMPERSONATION) if c.body["jwt"] == tokens[request_id]]
        assert len(stops) == 1, request_id  # once
        ends_at = ends[request_id].replace(tzinfo=UTC).timestamp()  # stored as naive UTC
        assert stops[0].at >= ends_at - 0.25, (request_id, stops[0].at - ends_at)  # not early
        assert stops[0].at <= ends_at + 5.0  # and on time (within a sweep)
