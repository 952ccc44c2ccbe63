"""The alarm clock: one alarm and APScheduler's periodic jobs wake the workflows; the database stays the truth.

* One alarm per process, a thread of its own asleep until the earliest moment any request needs work
  (``bot.domain.schedule``, kept by every write in the indexed ``next_due_at``): ``wake_at(id, when)`` brings it
  forward when ``when`` comes first. When it rings, the requests that came due since the last ring are found by
  that index and ticked on the pool, and the alarm is set at the next moment from the index again, so a session
  is stopped at its ``ends_at`` to the millisecond rather than at the next sweep, and the process holds one timer
  whether ten requests wait or a hundred thousand. A moment written after the ring looked past it is kicked by
  ``wake_at`` itself.
* ``kick(id)`` runs ``Ticker.tick`` now on a thread pool of ours (work started by a request that must not
  hold up Slack's 3-second answer): work due now needs no timer, and going through APScheduler (a job, its
  store, a wake-up of its thread, its events) cost more than the tick's own bookkeeping (issue 13's profile).
  ``backlog()`` says whether kicked work waits for a worker: a tick that stopped a session then leaves its Slack
  update to the pool, behind the stops waiting there, and otherwise does it at once, on its own thread.
* A periodic sweep (``SWEEP_INTERVAL``) kicks everything overdue onto the pool: after a restart, a
  crash of another replica, or a job lost from memory, nothing waits longer than one interval, and a
  backlog is worked on by every worker at once.
* With ``RETENTION`` set, a purge (``Ticker.purge``) every ``purge_interval`` (the sweep interval, at least a
  minute) deletes one batch of requests that ended longer ago than that.
* A keeper thread (not the job pool, which slow work may fill) renews the leases this process holds
  every third of ``Leases.lease``: work in progress keeps its row however long Descope or Slack take,
  and the lease of a process that died runs out within ``Leases.lease`` for the sweep to take over.

The alarm lives in memory only: at start it is set from the database (``Ticker.reschedule_all``: one indexed read,
however many requests wait). Every serving process (``WEB_CONCURRENCY``) and replica keeps its own. The serving
processes of one machine share the requests out (``shard``: by a hash of the ID), so that two of them do not both tick
a request at its moment (each piece of work is claimed first, but the loser's read, claim and thread cost as much CPU as
half the winner's work): a process ticks, when it rings, the requests of its share, and those it armed itself in the
last two ``SWEEP_INTERVAL``s (another process's alarm may not know of them yet). Each sweep sets the alarm from the
index again, so every process learns of moments armed elsewhere before they come. Every process sweeps everything,
so a process being replaced leaves nothing undone: its share is stopped by the others' sweep meanwhile.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor as Pool
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.store import SlackWork, utcnow
from bot.store.errors import log_failure as said
from bot.workflows.leases import Leases
from bot.workflows.ticker import Ticker

log = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(minutes=1)  # the retention purge runs at most this often (and at start)
ALARM_BATCH = 500  # requests due ticked per ring; more, and it rings again at once (after RING_SPACING)
RING_SPACING = timedelta(milliseconds=10)  # moments closer than this share one ring
RETRY_RING = timedelta(seconds=1)  # a ring that could not read the database looks again after this


def log_failure(what: str) -> None:
    """Log the exception being handled (``bot.store.errors.log_failure``)."""
    said(log, "%s", what)


@dataclass(frozen=True)
class Duty:
    """Work the bot does every so often, whatever the requests (each takes its own lease across replicas)."""

    name: str
    run: Callable[[], object]
    every: timedelta


def _logged(name: str, run: Callable[[], object]) -> Callable[[], None]:
    def job() -> None:
        try:
            run()
        except Exception:
            log_failure(f"{name} failed; it runs again at its next turn")
    return job


class Scheduler:
    """The workflows' ``Timers``: built before them (they are given it), started with their ``Ticker``."""

    def __init__(self, clock: Callable[[], datetime], leases: Leases, sweep_interval: timedelta, *,
                 retention: bool = False, workers: int = 8, shard: tuple[int, int] = (0, 1)) -> None:
        """``shard``: (this serving process's index, how many serve on this machine): whose moments it rings for."""
        self.ticker: Ticker | None = None  # what the jobs run: given at start
        self._shard = shard
        self._armed: dict[str, datetime] = {}  # of other shares: armed here, for a moment within ``_horizon``
        self._horizon = 2 * sweep_interval  # a moment further off is seen by every process's sweep first
        self.clock = clock
        self.leases = leases
        self.sweep_interval = sweep_interval
        self.purge_interval = max(sweep_interval, PURGE_INTERVAL)
        self._retention = retention
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone="UTC",
        )
        self._now = Pool(max_workers=workers, thread_name_prefix="work")  # kicks: work due now
        self._swept: set[str] = set()  # queued by the sweep, not yet started
        self._swept_lock = threading.Lock()
        self._next_at: datetime | None = None  # the alarm, as set (None: not set)
        self._rung_to = clock()  # the last ring looked up to here: a moment from before is kicked, not rung for
        self._alarm = threading.Condition()  # guards both; notified when the alarm is brought forward
        self._ringer = threading.Thread(target=self._ring_forever, name="alarm", daemon=True)
        self._keeper_stop = threading.Event()
        # Shutting down: work is queued under this lock, and none once shutdown has begun (the next start's sweep
        # finds that work).
        self._adding = threading.Lock()
        self._stopping = False
        self._waiting = 0  # kicked work not yet started by a worker
        self._keeper = threading.Thread(target=self._keep_leases, name="lease-keeper", daemon=True)

    def start(self, ticker: Ticker, duties: Sequence[Duty] = ()) -> None:
        """Run ``ticker``'s work from now on: reschedule every known deadline, start the clock and sweep once right
        away; and each of ``duties`` (the audit stream, the watch on Descope) every so often, from now."""
        self.ticker = ticker
        self._keeper.start()
        self._scheduler.start()
        self._ringer.start()
        ticker.reschedule_all()
        self._scheduler.add_job(self._sweep, "interval", seconds=self.sweep_interval.total_seconds(),
                                id="sweep", next_run_time=utcnow(), replace_existing=True)
        if self._retention:
            self._scheduler.add_job(self._purge, "interval", seconds=self.purge_interval.total_seconds(),
                                    id="purge", next_run_time=utcnow(), replace_existing=True)
        for duty in duties:
            self._scheduler.add_job(_logged(duty.name, duty.run), "interval", seconds=duty.every.total_seconds(),
                                    id=duty.name, next_run_time=utcnow(), replace_existing=True)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the clock; with ``wait``, let running jobs finish (their leases still renewed) first."""
        with self._adding:
            self._stopping = True
        with self._alarm:
            self._alarm.notify_all()
        if self._ringer.is_alive():
            self._ringer.join(timeout=5)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._now.shutdown(wait=wait, cancel_futures=True)  # what has not started waits for the next sweep
        self._keeper_stop.set()
        if self._keeper.is_alive():
            self._keeper.join(timeout=5)

    def stopped(self) -> str | None:
        """What of this clock no longer runs, once started and before its shutdown (``None``: all of it runs): the
        alarm's thread, the lease keeper's, or APScheduler's (the sweep and the duties). Each catches its own
        failures, so one gone means something killed it: the process should be replaced (``/livez``)."""
        if self._stopping or self.ticker is None:
            return None
        for part, running in (("the alarm", self._ringer.is_alive()), ("the lease keeper", self._keeper.is_alive()),
                              ("the periodic jobs", self._scheduler.running)):
            if not running:
                return part
        return None

    def _ticker(self) -> Ticker:
        assert self.ticker is not None, "the scheduler runs work only once started"
        return self.ticker

    def _tick(self, request_id: str, slack_lease_until: datetime | None = None, work: SlackWork | None = None) -> None:
        self._ticker().tick(request_id, slack_lease_until, work)

    def wake_at(self, request_id: str, when: datetime) -> None:
        """Ring at ``when`` if that comes before the alarm as set (what is due then is found by ``next_due_at``,
        ``request_id``'s work among it). A request's moment the last ring already looked past (written after that
        ring read) is kicked now; any other moment gone by rings at once (the earliest at start, some overdue). A
        request of another process's share armed here for a moment soon is remembered: this process ticks it then."""
        near = bool(request_id) and not self._mine(request_id) and when <= self.clock() + self._horizon
        with self._alarm:
            kick = when <= self._rung_to and bool(request_id)
            if near and not kick:
                self._armed[request_id] = when
            if not kick and (self._next_at is None or when < self._next_at):
                self._next_at = when
                self._alarm.notify()
        if kick:
            self._kick_swept(request_id)

    def _ring_forever(self) -> None:
        """The alarm's own thread: sleeps until the alarm as set (woken early when it is brought forward), then rings:
        every request that came due since the last ring is ticked on the pool (each once: ``_kick_swept``; those due
        before are the sweep's), and the alarm is set at the next moment any request needs work (at least
        ``RING_SPACING`` on: moments a few milliseconds apart share a ring; soon again after a full batch, or after a
        failure). The clock (which may read the database) is read outside the lock ``wake_at`` takes."""
        since, after = self._rung_to, None  # taken so far: up to this moment (and at it, up to this request)
        while True:
            try:
                now = self.clock()
                with self._alarm:
                    if self._stopping:
                        return
                    if self._next_at is None or self._next_at > now:
                        left = None if self._next_at is None else (self._next_at - now).total_seconds()
                        self._alarm.wait(timeout=None if left is None else max(left, 0.001))
                        continue
                    self._next_at = None
                    self._rung_to = now
                due, following = self._ticker().due_and_next(since, after, now, ALARM_BATCH)
                for request_id in self._ours(due, now, full=len(due) == ALARM_BATCH):
                    self._kick_swept(request_id)
                if len(due) == ALARM_BATCH:  # more came due: the next ring takes them, from the last one taken
                    (since, after), following = due[-1], now
                else:
                    since, after = now, None
                if following is not None:
                    self.wake_at("", max(following, now + RING_SPACING))
            except Exception:
                log_failure("the alarm could not look at what is due; it looks again in a second")
                with self._alarm:
                    if self._stopping:
                        return
                    self._alarm.wait(RETRY_RING.total_seconds())
                self.wake_at("", self._rung_to)  # at once: whatever came due since the last ring that worked

    def _mine(self, request_id: str) -> bool:
        """Whether ``request_id`` is in this process's share."""
        index, count = self._shard
        return count == 1 or zlib.crc32(request_id.encode()) % count == index

    def _ours(self, due: list[tuple[datetime, str]], now: datetime, *, full: bool) -> list[str]:
        """Of the requests a ring found due, those this process ticks: its share, and those it armed itself (forgotten
        once rung, or once the ring is past their moment: ``now``, or the last moment of a ``full`` batch)."""
        past = due[-1][0] if full else now
        with self._alarm:
            ours = [request_id for _, request_id in due
                    if self._mine(request_id) or self._armed.pop(request_id, None) is not None]
            for request_id in [r for r, when in self._armed.items() if when < past or (when == past and not full)]:
                del self._armed[request_id]
        return ours

    def kick(self, request_id: str, *, slack_lease_until: datetime | None = None,
             work: SlackWork | None = None) -> None:
        self._run_now(self._tick, request_id, slack_lease_until, work)

    def backlog(self) -> bool:
        with self._adding:
            return self._waiting > 0

    def _run_now(self, func: Callable[..., None], request_id: str, *args: Any) -> None:
        """``func(request_id, *args)`` on the pool, unless shutdown has begun."""
        with self._adding:
            if not self._stopping:
                self._waiting += 1
                self._now.submit(self._started, func, request_id, *args)

    def _started(self, func: Callable[..., None], request_id: str, *args: Any) -> None:
        with self._adding:
            self._waiting -= 1
        func(request_id, *args)

    def _kick_swept(self, request_id: str) -> None:
        """The sweep's kick: a request it already queued and no worker has started on is not queued again
        (a backlog that outlasts one interval must not pile up duplicate work)."""
        with self._swept_lock:
            if request_id in self._swept:
                return
            self._swept.add(request_id)
        self._run_now(self._tick_swept, request_id)

    def _tick_swept(self, request_id: str) -> None:
        with self._swept_lock:
            self._swept.discard(request_id)
        self._tick(request_id)

    def _keep_leases(self) -> None:
        interval = self.leases.lease.total_seconds() / 3
        while not self._keeper_stop.wait(interval):
            try:
                self.leases.renew()
            except Exception:
                log_failure(f"renewing leases failed; trying again in {interval:.1f}s")

    def _sweep(self) -> None:
        try:
            handled = self._ticker().sweep(run=self._kick_swept)
            if handled:
                log.debug("sweep handled %d requests", handled)
            following = self._ticker().next_moment()
            if following is not None:  # a moment armed in another process, if it comes first
                self.wake_at("", following)
        except Exception:
            log_failure(f"sweep failed; it runs again in {self.sweep_interval.total_seconds()}s")

    def _purge(self) -> None:
        try:
            purged = self._ticker().purge()
            if purged:
                log.info("retention: deleted %d ended requests with their audit rows", purged)
        except Exception:
            log_failure(f"the retention purge failed; it runs again in {self.purge_interval.total_seconds()}s")
