"""Section 3 of docs/BENCHMARKS.md: revocation precision (how long after a window ends its stop call goes out), the
memory of a bot holding many long sessions, and a SIGKILL in the middle of a burst of expiries (how long until the
restarted bot has stopped every overdue session)."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.probes import (
    impersonate_calls,
    percentile,
    proc_status,
    read_leases,
    read_times,
    seed_long_sessions,
    stop_calls,
    wait_until,
)
from bench.sections import THINK_S, Log, Sizes, sqlite_url, summary
from bench.stack import Driver, fakes, start_bot

# -- 3. revocation precision, memory, restart -------------------------------------------------------

@dataclass
class Revocation:
    long_sessions: int
    seed_seconds: float
    start_empty_s: float
    start_loaded_s: float
    rss_empty_kb: int
    rss_loaded_kb: int
    rss_loaded_one_kb: int  # the same, WEB_CONCURRENCY=1: its VmRSS (the measure of the reports before issue 13)
    rss_after_kb: int
    hwm_kb: int
    sessions: int
    create_seconds: float
    create_per_second: float
    ended_during_creation: int
    spread_s: float
    lateness: dict[str, float]  # stop call - ends_at from the database
    lateness_approx: dict[str, float]  # stop call - (impersonate call + refreshDuration)
    missing_stops: int
    sweep_interval_s: float
    restart: dict[str, Any] = field(default_factory=dict)


SWEEP_INTERVAL_S = 5.0  # the bot's default (start_bot sets SWEEP_INTERVAL=5s)


def revocation(sizes: Sizes, tmp: Path, log: Log, flows_per_second: float) -> Revocation:
    url = sqlite_url(tmp, "revocation.db")
    with fakes() as (slack, descope):
        # The same database, empty and then with the long sessions: the memory they cost.
        t0 = time.perf_counter()
        bot = start_bot(slack, descope, url, tmp / "bot-revocation.log")
        start_empty = time.perf_counter() - t0
        time.sleep(1.0)
        rss_empty = proc_status(bot.proc.pid).get("Pss", 0)  # type: ignore[union-attr]
        bot.stop()
        log(f"  seeding {sizes.long_sessions} long sessions")
        seed_s = seed_long_sessions(url, sizes.long_sessions, descope.management_key, timedelta(hours=2))
        t0 = time.perf_counter()
        bot.start(timeout=120)
        start_loaded = time.perf_counter() - t0
        time.sleep(2.0)
        rss_loaded = proc_status(bot.proc.pid).get("Pss", 0)  # type: ignore[union-attr]
        one = start_bot(slack, descope, url, tmp / "bot-revocation-one.log", WEB_CONCURRENCY="1")
        time.sleep(2.0)  # the same, served by one process
        rss_loaded_one = proc_status(one.proc.pid).get("VmRSS", 0)  # type: ignore[union-attr]
        one.stop()
        driver = Driver(slack, descope, bot)
        try:
            # Windows end spread over `spread_s`, starting after every session should exist.
            n = sizes.sessions
            expected = n / max(flows_per_second * 0.6, 1.0)
            first_end = time.time() + expected + 5.0
            log(f"  creating {n} sessions, 16 at a time (about {expected:.0f}s); windows end over "
                f"{sizes.spread_s:.0f}s from {expected + 5:.0f}s on")

            def plan(i: int) -> tuple[str, int]:
                target = first_end + sizes.spread_s * i / n
                return f"rev-{i}@bench.example", max(1, math.ceil(target - time.time()))

            made, create_s = driver.flows(n, 16, plan, THINK_S)
            created_at = time.time()
            ids = [f.request_id for f in made]
            log(f"  created in {create_s:.1f}s; waiting for {n} stop calls")
            wait_until(lambda: len(descope.calls_to("/v1/mgmt/stop/impersonation")) >= n,
                       timeout=max(first_end + sizes.spread_s - time.time(), 0) + 60, interval=0.5)
            time.sleep(1.0)
            stops = stop_calls(descope)
            ends = read_times(url, ids)
            imps = impersonate_calls(descope)
            late = [stops[r] - ends[r] for r in ids if r in stops and r in ends and ends[r] >= created_at]
            approx = [stops[r] - (imps[r][0] + imps[r][1]) for r in ids
                      if r in stops and r in imps and ends.get(r, 0) >= created_at]
            ended_early = sum(1 for r in ids if ends.get(r, math.inf) < created_at)
            missing = sum(1 for r in ids if r not in stops)
            status = proc_status(bot.proc.pid)  # type: ignore[union-attr]
            restart = restart_after_kill(driver, bot, descope, sizes, log, flows_per_second)
        finally:
            bot.stop()
    return Revocation(sizes.long_sessions, seed_s, start_empty, start_loaded, rss_empty, rss_loaded, rss_loaded_one,
                      status.get("Pss", 0), status.get("VmHWM", 0), n, create_s, n / create_s, ended_early,
                      sizes.spread_s, summary(late), summary(approx), missing, SWEEP_INTERVAL_S, restart)


def restart_after_kill(driver: Driver, bot: Any, descope: Any, sizes: Sizes, log: Log,
                       flows_per_second: float) -> dict[str, Any]:
    """Sessions whose windows end in a 2-second burst; SIGKILL the bot in the middle of the burst,
    restart it once all of them are overdue, and time the last stop call."""
    m, burst = sizes.restart_sessions, 2.0
    expected = m / max(flows_per_second * 0.6, 1.0)
    first_end = time.time() + expected + 3.0
    log(f"  restart: {m} sessions ending within {burst:.0f}s; SIGKILL in the middle of it")

    def plan(i: int) -> tuple[str, int]:
        return f"kill-{i}@bench.example", max(1, math.ceil(first_end + burst * i / m - time.time()))

    made, _ = driver.flows(m, 16, plan, THINK_S)
    ids = [f.request_id for f in made]
    ends = read_times(bot.env["DATABASE_URL"], ids)
    kill_at = min(ends.values()) + (max(ends.values()) - min(ends.values())) / 2
    wait_until(lambda: time.time() >= kill_at, timeout=max(kill_at - time.time(), 0) + 5)
    bot.stop(signal.SIGKILL)
    killed_at = time.time()
    before = {r for r, at in stop_calls(descope).items() if r in ends and at <= killed_at}
    overdue = [r for r in ids if r not in before]
    # Work the killed process had claimed (a live lease) but not yet sent: it waits for that lease.
    leases = read_leases(bot.env["DATABASE_URL"], overdue)
    leased = [r for r, until in leases.items() if until > killed_at]
    wait_until(lambda: time.time() >= max(ends.values()) + 1.0, timeout=30)
    restarted_at = time.time()
    bot.start(timeout=120)
    healthy_at = time.time()
    log(f"  restarted: {len(overdue)} sessions overdue; waiting for their stop calls")
    wait_until(lambda: all(r in stop_calls(descope) for r in overdue), timeout=90, interval=0.25)
    stops = stop_calls(descope)
    stopped = [stops[r] for r in overdue if r in stops]
    last = max(stopped) if stopped else math.nan
    after_restart = sorted(at - restarted_at for at in stopped)
    leased_after = [stops[r] - restarted_at for r in leased if r in stops]
    return {
        "leased": len(leased), "leased_lease_s": max((leases[r] - killed_at for r in leased), default=math.nan),
        "leased_last_after_restart_s": max(leased_after, default=math.nan),
        "sessions": m, "stopped_before_kill": len(before), "overdue": len(overdue),
        "not_stopped": len(overdue) - len(stopped), "down_s": restarted_at - killed_at,
        "start_s": healthy_at - restarted_at, "last_after_restart_s": last - restarted_at,
        "last_after_healthy_s": last - healthy_at,
        "p50_after_restart_s": percentile(after_restart, 50),
        "late_over_5s": sum(1 for x in after_restart if x > 5.0),
    }
