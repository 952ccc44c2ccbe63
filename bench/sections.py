"""The measurements, one function per section of docs/BENCHMARKS.md. Each starts its own fakes and bot
(fresh database) so no section inherits another's backlog, and returns plain data for the report."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.probes import (
    cpu_seconds,
    percentile,
    postgres_commits,
    proc_status,
    stop_calls,
    wait_until,
)
from bench.stack import BARE_SECRET, DESCOPE_LATENCY, BareBolt, BenchSlack, Driver, Flow, fakes, run_load, start_bot
from bot.devtools import FakeDescope
from bot.devtools.descope_api import USER_LOAD
from bot.devtools.harness import SIGNING_SECRET, postgres_database

Log = Callable[[str], None]


@dataclass
class Sizes:
    ack_paced: int = 100
    ack_c1: int = 300
    ack_c16: int = 2000
    ack_c16_paced: int = 800
    dm_sequential: int = 100
    throughput_flows: int = 400
    sessions: int = 1000
    spread_s: float = 60.0
    long_sessions: int = 10_000
    restart_sessions: int = 200
    ack_preflight: int = 20
    whole_sessions: int = 100
    floor_calls: int = 500
    mass_sessions: int = 1000  # section 5: ending in the same second
    mass_per_second: int = 100  # the stops and the logouts Descope allows a second then
    scheduled: int = 100_000
    soak_seconds: float = 1800.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(ack_paced=50, ack_c1=100, ack_c16=400, ack_c16_paced=240, dm_sequential=30, throughput_flows=120,
                   sessions=200, spread_s=20.0, long_sessions=2_000, restart_sessions=50, ack_preflight=8,
                   whole_sessions=40, floor_calls=200, mass_sessions=200, mass_per_second=20, scheduled=20_000,
                   soak_seconds=180.0)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values) if values else math.nan}


# -- 1. acknowledgement latency ---------------------------------------------------------------------

PACE_S = 0.1  # the paced run: one command every 100 ms, so each finds the app idle
PACE_16_S = 0.2  # 16 connections, each one command every 200 ms: 80 commands/s, busy but not saturated


@dataclass
class AckRow:
    app: str
    concurrency: int
    interval: float  # 0: back to back (closed loop); else one command per interval
    count: int
    p50: float
    p99: float
    max: float
    per_second: float
    errors: int
    cpu_ms: float  # the app's CPU per command during the run (the bot's background work may lag behind)
    others_ms: float = math.nan  # the fakes' (this process) and the load generator's CPU per command
    mean: float = math.nan
    cpu_done_ms: float = math.nan  # the app's CPU per command once it has done all its work (the bot: posted)


def ack_latency(sizes: Sizes, tmp: Path, log: Log) -> tuple[list[AckRow], dict[str, int]]:
    rows: list[AckRow] = []
    with fakes() as (slack, descope):
        bot = start_bot(slack, descope, f"sqlite:///{tmp / 'ack.db'}", tmp / "bot-ack.log")
        bare = BareBolt(slack.url, tmp / "bare-bolt.log").start()
        idle = proc_status(bot.proc.pid)  # type: ignore[union-attr]
        sent_to_bot = 0
        runs = ((1, sizes.ack_paced, PACE_S), (1, sizes.ack_c1, 0.0), (16, sizes.ack_c16_paced, PACE_16_S),
                (16, sizes.ack_c16, 0.0))
        try:
            for concurrency, count, interval in runs:
                warmup = 5
                for app, url, secret, pid in (("bare Bolt (ack only)", bare.url, BARE_SECRET, bare.proc.pid),  # type: ignore[union-attr]
                                              ("bot", bot.url, SIGNING_SECRET, bot.proc.pid)):  # type: ignore[union-attr]
                    how = (f"concurrency {concurrency}" if not interval else
                           f"{concurrency} connection(s), each one every {interval * 1e3:.0f} ms")
                    log(f"  {app}: {count} commands, {how}")
                    prefix = f"ack-{app[:4]}-{concurrency}-{interval}"
                    for i in range(count + warmup * concurrency):  # users the bot's pre-flight finds in Descope
                        descope.add_user(f"{prefix}-{i}@bench.example")
                    cpu0, fakes0 = cpu_seconds(pid), _own_cpu()
                    result = run_load(url, secret, count=count, concurrency=concurrency, interval=interval,
                                      prefix=prefix, warmup=warmup)
                    cpu, others = cpu_seconds(pid) - cpu0, _own_cpu() - fakes0 + result["cpu"]
                    lat = result["latencies"]
                    errors = count - sum(n for s, n in result["statuses"].items() if s == "200")
                    sent = count + warmup * concurrency
                    if app == "bot":
                        sent_to_bot += sent
                        errors += count - result["accepted"]  # a 200 that refused the request is an error too
                        # Let the bot finish posting the approval messages before the next run starts.
                        def all_posted(n: int = sent_to_bot) -> bool:
                            return slack.approvals_posted() >= n

                        wait_until(all_posted, timeout=60)
                    done = cpu_seconds(pid) - cpu0  # the work after the ack counted (the bot's approval messages)
                    rows.append(AckRow(app, concurrency, interval, count, percentile(lat, 50), percentile(lat, 99),
                                       max(lat), count / result["elapsed"], errors, cpu / sent * 1e3,
                                       others / sent * 1e3, sum(lat) / len(lat), done / sent * 1e3))
            rows += _slow_preflight(sizes, slack, descope, bot.url)
        finally:
            bot.stop()
            bare.stop()
    return rows, idle


def _own_cpu() -> float:
    """CPU seconds of this process: the fakes' threads answering the apps (it only waits for the load generator)."""
    t = os.times()
    return t.user + t.system


#: The pre-flight's Descope look-up made slow: a typical answer, and one that stalls past the bot's 1.5 s.
PREFLIGHT_DELAYS = (0.1, 2.5)
PREFLIGHT_APP = "bot, Descope look-up {delay}"


def _slow_preflight(sizes: Sizes, slack: BenchSlack, descope: FakeDescope, url: str) -> list[AckRow]:
    """``/impersonate`` one at a time while Descope's user look-up takes ``PREFLIGHT_DELAYS``: Slack's 3 s hold."""
    rows = []
    for delay in PREFLIGHT_DELAYS:
        descope.set_latency(USER_LOAD, delay)
        prefix = f"ack-pre-{delay}"
        count = sizes.ack_preflight
        for i in range(count + 1):
            descope.add_user(f"{prefix}-{i}@bench.example")
        result = run_load(url, SIGNING_SECRET, count=count, concurrency=1, interval=0.0, prefix=prefix, warmup=1)
        lat = result["latencies"]
        errors = count - sum(n for s, n in result["statuses"].items() if s == "200") + count - result["accepted"]
        rows.append(AckRow(PREFLIGHT_APP.format(delay=f"{delay * 1e3:.0f} ms"), 1, 0.0, count, percentile(lat, 50),
                           percentile(lat, 99), max(lat), count / result["elapsed"], errors, math.nan))
    descope.set_latency(USER_LOAD, 0)
    return rows


# -- 2 and 4. the full flow: approve → DM, throughput ------------------------------------------------

THINK_S = 0.1  # every flow: the click comes this long after the approval message appears
LOADED_RUNS = 3  # the throughput batch, run this many times back to back: the run with the median p99 is reported

@dataclass
class FlowResult:
    backend: str
    sequential: dict[str, float]  # approve → DM minus the injected Descope latency, one flow at a time
    loaded: dict[str, float]  # the same during the throughput runs (16 flows at a time): the median run by p99
    flows: int
    seconds: float
    per_second: float
    cpu_ms_per_flow: float
    cpu_busy: float  # the bot's CPU seconds per wall second during the throughput run (1.0 = one core)
    rss_kb: int
    transactions_per_flow: float | None = None  # PostgreSQL's own count (xact_commit); None on SQLite
    cpu_ms_per_session: float = math.nan  # whole sessions: the flow, the stop at the window's end, Slack's updates
    sessions: int = 0
    loaded_p99s: tuple[float, ...] = ()  # each throughput run's p99, in the order run
    # Bare Bolt's CPU per ack (ms), measured as in section 1 (commands one after another) just before and just after
    # the whole sessions: the baseline that CPU is judged against, taken in the same minutes.
    bare_acks_ms: tuple[float, ...] = ()

    @property
    def bare_ack_ms(self) -> float:
        return sum(self.bare_acks_ms) / len(self.bare_acks_ms) if self.bare_acks_ms else math.nan


def _bare_ack_ms(bare: BareBolt, count: int, prefix: str) -> float:
    """Bare Bolt's CPU per ack, commands one after another (as section 1 measures it)."""
    pid = bare.proc.pid  # type: ignore[union-attr]
    warmup = 5
    cpu0 = cpu_seconds(pid)
    run_load(bare.url, BARE_SECRET, count=count, concurrency=1, prefix=prefix, warmup=warmup)
    return (cpu_seconds(pid) - cpu0) / (count + warmup) * 1e3


def flows(backend: str, database_url: str, sizes: Sizes, tmp: Path, log: Log) -> FlowResult:
    with fakes() as (slack, descope):
        bot = start_bot(slack, descope, database_url, tmp / f"bot-flows-{backend}.log")
        bare = BareBolt(slack.url, tmp / f"bare-bolt-flows-{backend}.log").start()
        pid = bot.proc.pid  # type: ignore[union-attr]
        driver = Driver(slack, descope, bot)
        try:
            driver.flows(10, 4, lambda i: (f"warm-{backend}-{i}@bench.example", 1800), THINK_S)  # warm up
            log(f"  {backend}: {sizes.dm_sequential} flows one at a time (approve → DM)")
            seq, _ = driver.flows(sizes.dm_sequential, 1, lambda i: (f"seq-{backend}-{i}@bench.example", 1800),
                                  think=THINK_S)
            log(f"  {backend}: {LOADED_RUNS} runs of {sizes.throughput_flows} flows, 16 at a time (throughput)")
            cpu0, commits0 = cpu_seconds(pid), postgres_commits(database_url)
            runs: list[list[Flow]] = []
            seconds = 0.0
            for k in range(LOADED_RUNS):
                def plan(i: int, k: int = k) -> tuple[str, int]:
                    return f"tp{k}-{backend}-{i}@bench.example", 1800

                batch, took = driver.flows(sizes.throughput_flows, 16, plan, THINK_S)
                runs.append(batch)
                seconds += took
            done = [f for batch in runs for f in batch]
            cpu = cpu_seconds(pid) - cpu0
            commits1 = postgres_commits(database_url)
            rss = proc_status(pid).get("Pss", 0)
            n = sizes.whole_sessions
            log(f"  {backend}: {n} whole sessions, 2 s windows, 4 at a time (CPU per session), with bare Bolt's"
                f" CPU per ack ({sizes.ack_c1} commands one after another) just before and after")
            acks = [_bare_ack_ms(bare, sizes.ack_c1, f"bare-before-{backend}")]
            stops0, session_cpu0 = len(stop_calls(descope)), cpu_seconds(pid)
            driver.flows(n, 4, lambda i: (f"whole-{backend}-{i}@bench.example", 2), THINK_S)
            wait_until(lambda: len(stop_calls(descope)) >= stops0 + n, timeout=120, interval=0.2)
            time.sleep(2.0)  # the Slack updates that follow each stop
            session_cpu = (cpu_seconds(pid) - session_cpu0) / n * 1e3
            acks.append(_bare_ack_ms(bare, sizes.ack_c1, f"bare-after-{backend}"))
        finally:
            bot.stop()
            bare.stop()

    def overhead(fs: list[Flow]) -> dict[str, float]:
        return summary([f.approve_to_dm - DESCOPE_LATENCY for f in fs])

    loaded = sorted((overhead(batch) for batch in runs), key=lambda o: o["p99"])
    transactions = None if commits0 is None or commits1 is None else (commits1 - commits0) / len(done)
    return FlowResult(backend, overhead(seq), loaded[len(loaded) // 2], len(done), seconds, len(done) / seconds,
                      cpu / len(done) * 1e3, cpu / seconds, rss, transactions, session_cpu, n,
                      tuple(overhead(batch)["p99"] for batch in runs), tuple(acks))


def sqlite_url(tmp: Path, name: str) -> str:
    return f"sqlite:///{tmp / name}"


def postgres_flows(sizes: Sizes, tmp: Path, log: Log) -> FlowResult:
    with postgres_database("bot_bench") as url:
        return flows("PostgreSQL", url, sizes, tmp, log)
