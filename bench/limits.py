"""Section 5 of docs/BENCHMARKS.md: the limits (issue 28), each measured side by side with its baseline in the same run.

* ``mass_expiry``: sessions ending in the same second while the Descope stand-in allows only so many stops and logouts
  a second (429 with ``Retry-After`` beyond), against the same sessions with no limit: when the last one is revoked,
  how many 429s it met, and the revocations over time.
* ``scale``: the bot over a database holding many scheduled sessions (and, as the baselines, none and a tenth as many):
  start-up time, memory of each process, and how late each stop goes out while ten sessions a second end.
* ``soak``: whole sessions at a steady rate for a long while, the memory and open file descriptors of every process
  of the bot sampled throughout (flat, or a leak).

The sessions are seeded running (``bench.probes.seed_sessions_ending``) with real tokens the stand-in minted, so that
a stop and a logout at the stand-in are the real ones.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.probes import each_process, post_seeded, seed_long_sessions, seed_sessions_ending, wait_until
from bench.sections import THINK_S, Log, Sizes, sqlite_url, summary
from bench.stack import REQUESTERS, Driver, fakes, start_bot
from bot.devtools import FakeDescope
from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION

MINTED_FOR_S = 7200  # the tokens' refreshDuration: alive at Descope until the bot revokes them

#: The bot's settings for these runs: nothing but the work measured (no expiry warnings, no watch on Descope).
QUIET = {"EXPIRY_WARNING": "0", "RECONCILE_INTERVAL": "0"}


def _mint(descope: FakeDescope, count: int, prefix: str) -> list[tuple[str, str]]:
    """``count`` impersonation tokens minted by the stand-in over its HTTP API, each (login ID, token)."""
    out = []
    descope.set_latency(IMPERSONATE, 0)  # the bench's injected latency is for the bot's own calls
    with httpx.Client(base_url=descope.url, headers=descope.auth_headers) as client:
        for i in range(count):
            login_id = f"{prefix}-{i}@bench.example"
            descope.add_user(login_id)
            requester = REQUESTERS[i % len(REQUESTERS)]
            answer = client.post(IMPERSONATE, json={"loginId": login_id, "refreshDuration": MINTED_FOR_S,
                                                    "impersonatorId": f"{requester.lower()}@corp.example"})
            answer.raise_for_status()
            out.append((login_id, str(answer.json()["jwt"])))
    return out


# -- a thousand sessions ending in the same second ---------------------------------------------------

@dataclass
class MassExpiry:
    sessions: int
    per_second: int | None  # the stand-in's limit on stops and on logouts (None: the baseline, no limit)
    revoked: int
    last_s: float  # the last revocation, seconds after the first window ended (they all end within 0.9 s)
    refused_stops: int
    refused_logouts: int
    stop_calls: int
    logout_calls: int
    revocations: list[float] = field(default_factory=list)  # each revocation, seconds after the first end


def mass_expiry(sessions: int, per_second: int | None, tmp: Path, log: Log) -> MassExpiry:
    name = f"mass-{per_second or 'nolimit'}"
    url = sqlite_url(tmp, f"{name}.db")
    with fakes() as (slack, descope):
        descope.set_latency(STOP_IMPERSONATION, 0)  # the limit is what slows them here
        minted = _mint(descope, sessions, name)
        messages = post_seeded(slack.url, sessions)
        second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
        seed_sessions_ending(url, descope.management_key,
                             [(login_id, token, second + timedelta(microseconds=900_000 * i // sessions))
                              for i, (login_id, token) in enumerate(minted)], messages=messages,
                             token_expires_at=datetime.now(UTC) + timedelta(seconds=MINTED_FOR_S))
        if per_second is not None:
            descope.rate_limit(STOP_IMPERSONATION, per_second)
            descope.rate_limit(LOGOUT, per_second)
        log(f"  {sessions} sessions ending at {second:%H:%M:%S}, "
            + (f"{per_second} stops and {per_second} logouts a second allowed" if per_second else "no limit"))
        bot = start_bot(slack, descope, url, tmp / f"bot-{name}.log", **QUIET)
        try:
            tokens = [token for _, token in minted]
            end = second.timestamp()  # the first window's end
            wait_until(lambda: all(descope.is_revoked(token) for token in tokens),
                       timeout=max(end - time.time(), 0) + 120, interval=0.25)
            logouts = [call for call in descope.calls_to(LOGOUT) if call.status == 200]
            revocations = sorted(call.at - end for call in logouts)
            stops = descope.calls_to(STOP_IMPERSONATION)
            revoked = sum(1 for token in tokens if descope.is_revoked(token))
        finally:
            bot.stop()
    return MassExpiry(sessions, per_second, revoked, max(revocations, default=math.nan),
                      descope.limited.get(STOP_IMPERSONATION, 0), descope.limited.get(LOGOUT, 0), len(stops),
                      len(descope.calls_to(LOGOUT)), revocations)


# -- many sessions scheduled ----------------------------------------------------------------------

ENDING_PER_SECOND = 10
ENDING_FOR_S = 30.0
START_MARGIN_S = 8.0  # the first of them ends this long (plus three start-ups) after they are seeded


@dataclass
class Scale:
    scheduled: int
    seed_s: float
    start_s: float  # the bot started until every serving process answers (the median of three starts)
    pss_kb: dict[str, int]  # each process (the parent, each serving process): its proportional memory
    lateness: dict[str, float]  # a stop call after the session's end, while ENDING_PER_SECOND end
    missing: int  # sessions ending in that time never stopped

    @property
    def pss_total_kb(self) -> int:
        return sum(self.pss_kb.values())

    @property
    def serving_kb(self) -> int:
        """The largest serving process's memory (the parent only starts them)."""
        return max((kb for name, kb in self.pss_kb.items() if name != "parent"), default=0)


def scale(scheduled: int, tmp: Path, log: Log) -> Scale:
    """Start the bot three times over ``scheduled`` sessions (the median start-up); then, with sessions added that end
    ``ENDING_PER_SECOND`` a second from shortly after its next start (seeded before it: what a running bot schedules is
    what it read or wrote itself), how late each stop goes out, and the memory of each process."""
    url = sqlite_url(tmp, f"scale-{scheduled}.db")
    with fakes() as (slack, descope):
        descope.set_latency(STOP_IMPERSONATION, 0)
        seed_s = seed_long_sessions(url, scheduled, descope.management_key, timedelta(hours=2)) if scheduled else 0.0
        starts = []
        bot = start_bot(slack, descope, url, tmp / f"bot-scale-{scheduled}.log", **QUIET)  # migrated, warmed up
        for _ in range(3):
            bot.stop()
            started = time.perf_counter()
            bot.start(timeout=120)
            starts.append(time.perf_counter() - started)
        bot.stop()
        start_s = sorted(starts)[1]
        ending = int(ENDING_PER_SECOND * ENDING_FOR_S)
        minted = _mint(descope, ending, f"scale{scheduled}")
        now = datetime.now(UTC)
        first = now + timedelta(seconds=START_MARGIN_S + 3 * start_s)
        ends = {token: first + timedelta(seconds=i / ENDING_PER_SECOND) for i, (_, token) in enumerate(minted)}
        seed_sessions_ending(url, descope.management_key,
                             [(login_id, token, ends[token]) for login_id, token in minted], now, first=scheduled,
                             messages=post_seeded(slack.url, ending, first=scheduled),
                             token_expires_at=now + timedelta(seconds=MINTED_FOR_S))
        log(f"  {scheduled:,} sessions scheduled (start-up {start_s:.2f} s); {ending} more ending"
            f" {ENDING_PER_SECOND} a second from {first:%H:%M:%S}")
        bot.start(timeout=120)
        try:
            time.sleep(2.0)
            pss = {name: kb for name, (kb, _) in each_process(bot.proc.pid).items()}  # type: ignore[union-attr]
            last = max(ends.values()).timestamp()
            wait_until(lambda: len(_first_stops(descope)) >= ending, timeout=max(last - time.time(), 0) + 30,
                       interval=0.5)
            stops = _first_stops(descope)
        finally:
            bot.stop()
    late = [stops[token] - at.timestamp() for token, at in ends.items() if token in stops]
    return Scale(scheduled, seed_s, start_s, pss, summary(late), ending - len(late))


def _first_stops(descope: FakeDescope) -> dict[str, float]:
    """Token -> when its first stop call came."""
    first: dict[str, float] = {}
    for call in descope.calls_to(STOP_IMPERSONATION):
        token = str(call.body.get("jwt"))
        first[token] = min(call.at, first.get(token, math.inf))
    return first


# -- the soak -------------------------------------------------------------------------------------

SOAK_RATE = 2.0  # whole sessions started a second
SOAK_WINDOW_S = 10  # each session's window
SOAK_SAMPLE_S = 10.0
#: At the same rate, before the measured time: long enough for the kept connections to the stand-ins to reach the
#: number the load needs (in one run a serving process opened its last two in the fourth minute, and the first five
#: minutes' mean of descriptors came out 6 % under the last five, flat after that).
SOAK_WARMUP_S = 300.0


@dataclass(frozen=True)
class Sample:
    at: float  # seconds from the start of the measured time
    pss_kb: dict[str, int]  # each process's (bench.probes.each_process)
    fds: dict[str, int]


@dataclass
class Soak:
    seconds: float
    rate: float
    sessions: int
    failures: int
    samples: list[Sample]

    def means(self, what: str, *, first: bool) -> dict[str, float]:
        """Each process's mean ``what`` ("pss_kb" or "fds") over the first (or the last) five minutes of the run (a
        sixth, in a shorter one)."""
        edge = min(300.0, self.seconds / 6)
        chosen = [getattr(s, what) for s in self.samples if (s.at <= edge if first else s.at >= self.seconds - edge)]
        names = sorted({name for values in chosen for name in values})
        return {name: sum(values.get(name, 0) for values in chosen) / max(len(chosen), 1) for name in names}

    def drift(self, what: str) -> dict[str, float]:
        """Each process's mean at the end against its mean at the start (0.02: 2 % more)."""
        first, last = self.means(what, first=True), self.means(what, first=False)
        return {name: (last.get(name, 0) - was) / was if was else math.nan for name, was in first.items()}


def soak(seconds: float, tmp: Path, log: Log) -> Soak:
    url = sqlite_url(tmp, "soak.db")
    with fakes() as (slack, descope):
        bot = start_bot(slack, descope, url, tmp / "bot-soak.log", **QUIET)
        driver = Driver(slack, descope, bot)
        stop = threading.Event()
        counts = {"started": 0, "failed": 0, "measured_from": 0}  # failures of the flows started once measuring
        lock = threading.Lock()

        def one(i: int) -> None:
            try:
                driver.flow(f"soak-{i}@bench.example", SOAK_WINDOW_S, REQUESTERS[i % len(REQUESTERS)], THINK_S)
            except Exception:
                with lock:
                    counts["failed"] += i >= counts["measured_from"]

        flows: list[threading.Thread] = []

        def pace() -> None:  # open loop: a session every 1/SOAK_RATE s, whatever the last one took
            i, began = 0, time.monotonic()
            while not stop.is_set():
                flow = threading.Thread(target=one, args=(i,), daemon=True)
                flow.start()
                flows.append(flow)
                with lock:
                    counts["started"] += 1
                i += 1
                stop.wait(max(0.0, began + i / SOAK_RATE - time.monotonic()))

        pacer = threading.Thread(target=pace, daemon=True)
        pacer.start()
        samples: list[Sample] = []
        try:
            log(f"  warming up {SOAK_WARMUP_S:.0f} s, then {seconds / 60:.0f} min at {SOAK_RATE:.0f} sessions/s")
            time.sleep(SOAK_WARMUP_S)
            with lock:
                counts["measured_from"], counts["started"], counts["failed"] = counts["started"], 0, 0
            began = time.monotonic()
            while (at := time.monotonic() - began) <= seconds:
                each = each_process(bot.proc.pid)  # type: ignore[union-attr]
                samples.append(Sample(at, {name: kb for name, (kb, _) in each.items()},
                                      {name: fds for name, (_, fds) in each.items()}))
                time.sleep(max(0.0, began + len(samples) * SOAK_SAMPLE_S - time.monotonic()))
        finally:
            stop.set()
            pacer.join(5)
            finish_by = time.monotonic() + SOAK_WINDOW_S + 60  # the sessions under way end before the bot stops
            for flow in flows:
                flow.join(max(0.0, finish_by - time.monotonic()))
            bot.stop()
    return Soak(seconds, SOAK_RATE, counts["started"], counts["failed"], samples)


# -- the section ----------------------------------------------------------------------------------

@dataclass
class Limits:
    mass: list[MassExpiry]  # the limited run, then its baseline
    scale: list[Scale]  # empty, a tenth, the size measured
    soak: Soak | None
    plots: list[str] = field(default_factory=list)  # file names beside the report


def limits(sizes: Sizes, tmp: Path, log: Log) -> Limits:
    log("5a. sessions ending in the same second")
    mass = [mass_expiry(sizes.mass_sessions, sizes.mass_per_second, tmp, log),
            mass_expiry(sizes.mass_sessions, None, tmp, log)]
    log("5b. many sessions scheduled")
    grown = [scale(n, tmp, log) for n in (0, sizes.scheduled // 10, sizes.scheduled)]
    log("5c. the soak")
    return Limits(mass, grown, soak(sizes.soak_seconds, tmp, log))

