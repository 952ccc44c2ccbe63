"""The scheduler's one alarm, on the system clock with a ticker that records what it was asked to tick: each request
is ticked once when its moment comes (not before), an earlier moment brings the alarm forward, a moment the last
ring already looked past is ticked at once, a backlog larger than one ring's batch is all ticked (moments shared
included), a ring that could not read the database rings again, and shutdown wakes the sleeping alarm. The serving
processes of a machine share the requests out: each is ticked by one, and one armed in a process by that process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import cast

import pytest

from bot.server.scheduler import ALARM_BATCH, Scheduler
from bot.store import SlackWork, Store, utcnow
from bot.workflows.leases import Leases
from bot.workflows.ticker import Ticker

WAIT = 5.0  # seconds a test waits for what it expects at most


class RecordingTicker:
    """The ticker's part the scheduler calls, over moments kept here: ``due_and_next`` as the store answers it
    (``Store.due_and_next``, whose own test reads it from the database), each tick recorded with its time."""

    def __init__(self, moments: dict[str, datetime] | None = None) -> None:
        self.moments: dict[str, datetime] = {} if moments is None else moments  # shared: one database
        self.ticks: list[tuple[str, datetime]] = []
        self.failures = 0  # reads that fail, from the next one on
        self.lock = threading.Lock()
        self.ticked = threading.Condition(self.lock)

    def due_and_next(self, since: datetime, after: str | None, now: datetime,
                     limit: int) -> tuple[list[tuple[datetime, str]], datetime | None]:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("the database is down")
            ordered = sorted((moment, request_id) for request_id, moment in self.moments.items())
        taken = [(moment, request_id) for moment, request_id in ordered if moment <= now and
                 (moment > since or (after is not None and moment == since and request_id > after))]
        following = min((moment for moment, _ in ordered if moment > now), default=None)
        return taken[:limit], following

    def tick(self, request_id: str, slack_lease_until: datetime | None = None, work: SlackWork | None = None) -> None:
        with self.ticked:
            self.ticks.append((request_id, utcnow()))
            self.ticked.notify_all()

    def reschedule_all(self) -> None:
        pass

    def sweep(self, run: Callable[[str], None] | None = None) -> int:
        return 0

    def next_moment(self) -> datetime | None:
        return None

    def wait_for(self, count: int) -> list[tuple[str, datetime]]:
        with self.ticked:
            assert self.ticked.wait_for(lambda: len(self.ticks) >= count, timeout=WAIT), self.ticks
            return list(self.ticks)


@pytest.fixture
def ticker() -> RecordingTicker:
    return RecordingTicker()


@pytest.fixture
def scheduler(store: Store, ticker: RecordingTicker) -> Iterator[Scheduler]:
    scheduler = Scheduler(utcnow, Leases(store, utcnow), timedelta(hours=1))
    scheduler.start(cast(Ticker, ticker))
    yield scheduler
    scheduler.shutdown()


def _due(ticker: RecordingTicker, scheduler: Scheduler, request_id: str, when: datetime) -> None:
    """A write that sets the request's next moment, then arms the alarm (as ``Context.arm`` does)."""
    with ticker.lock:
        ticker.moments[request_id] = when
    scheduler.wake_at(request_id, when)


def test_a_request_is_ticked_once_when_its_moment_comes_and_not_before(scheduler: Scheduler,
                                                                       ticker: RecordingTicker) -> None:
    when = utcnow() + timedelta(milliseconds=300)
    _due(ticker, scheduler, "R1", when)
    [(request_id, at)] = ticker.wait_for(1)
    assert request_id == "R1" and at >= when
    _due(ticker, scheduler, "R2", utcnow() + timedelta(milliseconds=50))
    assert [found for found, _ in ticker.wait_for(2)] == ["R1", "R2"]  # R1, in the past, is not ticked again


def test_a_started_clock_says_nothing_of_it_stopped(scheduler: Scheduler) -> None:
    assert scheduler.stopped() is None  # the alarm, the lease keeper and the periodic jobs all run (``/livez``)


def test_an_earlier_moment_brings_the_alarm_forward(scheduler: Scheduler, ticker: RecordingTicker) -> None:
    _due(ticker, scheduler, "LATER", utcnow() + timedelta(hours=1))
    _due(ticker, scheduler, "SOON", utcnow() + timedelta(milliseconds=100))
    assert [found for found, _ in ticker.wait_for(1)] == ["SOON"]


def test_a_moment_written_after_the_ring_looked_past_it_is_ticked_at_once(scheduler: Scheduler,
                                                                          ticker: RecordingTicker) -> None:
    _due(ticker, scheduler, "R1", utcnow())
    ticker.wait_for(1)
    _due(ticker, scheduler, "LATE-WRITE", utcnow() - timedelta(seconds=1))  # committed after that ring read
    assert [found for found, _ in ticker.wait_for(2)] == ["R1", "LATE-WRITE"]


def test_a_backlog_larger_than_a_ring_is_all_ticked_once_moments_shared_included(scheduler: Scheduler,
                                                                                  ticker: RecordingTicker) -> None:
    when = utcnow() + timedelta(milliseconds=200)
    count = 2 * ALARM_BATCH + 7
    with ticker.lock:
        ticker.moments.update({f"R{n:05}": when for n in range(count)})  # ending together
    scheduler.wake_at("", when)
    ticks = ticker.wait_for(count)
    assert sorted(found for found, _ in ticks) == sorted(ticker.moments)  # every one, none twice


def test_with_work_overdue_at_start_the_alarm_still_rings_for_what_comes_due_next(scheduler: Scheduler,
                                                                                   ticker: RecordingTicker) -> None:
    with ticker.lock:  # overdue (the sweep's) and one due soon: what reschedule_all reads at start
        ticker.moments.update({"OVERDUE": utcnow() - timedelta(minutes=5),
                               "SOON": utcnow() + timedelta(milliseconds=300)})
    scheduler.wake_at("", ticker.moments["OVERDUE"])  # the earliest next_due_at, gone by
    assert [found for found, _ in ticker.wait_for(1)] == ["SOON"]


def test_a_ring_that_could_not_read_the_database_rings_again(scheduler: Scheduler, ticker: RecordingTicker) -> None:
    ticker.failures = 1
    _due(ticker, scheduler, "R1", utcnow() + timedelta(milliseconds=50))
    [(request_id, _)] = ticker.wait_for(1)
    assert request_id == "R1" and ticker.failures == 0


def test_a_clock_that_fails_does_not_stop_the_alarm(store: Store, ticker: RecordingTicker) -> None:
    failures = [1]

    def clock() -> datetime:
        if failures and threading.current_thread().name == "alarm":
            failures.pop()
            raise ConnectionError("the database's clock could not be read")
        return utcnow()

    scheduler = Scheduler(clock, Leases(store, utcnow), timedelta(hours=1))
    scheduler.start(cast(Ticker, ticker))
    try:
        _due(ticker, scheduler, "R1", utcnow() + timedelta(milliseconds=50))
        assert [found for found, _ in ticker.wait_for(1)] == ["R1"] and not failures
    finally:
        scheduler.shutdown()


def test_shutdown_wakes_the_sleeping_alarm(store: Store, ticker: RecordingTicker) -> None:
    scheduler = Scheduler(utcnow, Leases(store, utcnow), timedelta(hours=1))
    scheduler.start(cast(Ticker, ticker))
    scheduler.wake_at("", utcnow() + timedelta(hours=1))
    done = threading.Event()
    threading.Thread(target=lambda: (scheduler.shutdown(), done.set()), daemon=True).start()
    assert done.wait(WAIT)
    assert ticker.ticks == []


def test_the_processes_of_a_machine_share_the_requests_out_and_tick_what_they_armed(store: Store) -> None:
    moments: dict[str, datetime] = {}  # the database both read
    tickers = [RecordingTicker(moments), RecordingTicker(moments)]
    schedulers = [Scheduler(utcnow, Leases(store, utcnow), timedelta(hours=1), shard=(index, 2)) for index in (0, 1)]
    for scheduler, ticker in zip(schedulers, tickers, strict=True):
        scheduler.start(cast(Ticker, ticker))
    try:
        when = utcnow() + timedelta(milliseconds=300)
        moments.update({f"SEEN{n:02}": when for n in range(40)})  # both alarms know the moment (the index's)
        for scheduler in schedulers:
            scheduler.wake_at("", when)
        deadline = utcnow() + timedelta(seconds=WAIT)
        while sum(len(t.ticks) for t in tickers) < 40 and utcnow() < deadline:
            threading.Event().wait(0.02)
        threading.Event().wait(0.3)  # nothing more comes
        ticked = [[found for found, _ in t.ticks] for t in tickers]
        assert sorted(ticked[0] + ticked[1]) == sorted(moments)  # each once, by one process
        assert ticked[0] and ticked[1]  # shared out
        soon = utcnow() + timedelta(milliseconds=200)
        armed = [f"ARMED{n:02}" for n in range(20)]  # armed by a change in process 0: process 1 never heard of them
        for request_id in armed:
            _due(tickers[0], schedulers[0], request_id, soon)
        assert sorted(found for found, _ in tickers[0].wait_for(len(ticked[0]) + 20)[len(ticked[0]):]) == armed
        threading.Event().wait(0.3)
        assert [found for found, _ in tickers[1].ticks] == ticked[1]  # and not by the other as well
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()


def test_kicked_work_waiting_for_a_free_worker_is_a_backlog(store: Store) -> None:
    """What a tick asks before it updates Slack after a stop itself: with work waiting, the stops go first."""
    release = threading.Event()

    class Held(RecordingTicker):
        def tick(self, request_id: str, slack_lease_until: datetime | None = None,
                 work: SlackWork | None = None) -> None:
            release.wait(WAIT)
            super().tick(request_id, slack_lease_until, work)

    ticker = Held()
    scheduler = Scheduler(utcnow, Leases(store, utcnow), timedelta(hours=1), workers=1)
    scheduler.start(cast(Ticker, ticker))
    try:
        assert not scheduler.backlog()
        scheduler.kick("R1")
        scheduler.kick("R2")  # R1 holds the one worker
        assert scheduler.backlog()
        release.set()
        ticker.wait_for(2)
        assert not scheduler.backlog()
    finally:
        release.set()
        scheduler.shutdown()
