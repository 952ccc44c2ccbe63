"""The results of a run, how numbers are written, and the targets (issue 13's goals among them) judged from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.history import ISSUE13_BASELINE, SIDE_BY_SIDE
from bench.limits import Limits
from bench.revocation import Revocation
from bench.sections import AckRow, FlowResult, Sizes


def ms(seconds: float) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def secs(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds:.2f} s"


def mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


@dataclass
class Results:
    sizes: Sizes
    quick: bool
    machine: dict[str, str]
    ack: list[AckRow]
    idle_bot: dict[str, int]
    flows: list[FlowResult]
    revocation: Revocation | None
    postgres_skipped: str | None = None
    floor: dict[str, float] = field(default_factory=dict)  # bench.floor.measure: each required part's CPU (ms)
    wall_seconds: float = 0.0
    limits: Limits | None = None  # section 5 (issue 28)
    targets: list[tuple[str, str, bool]] = field(default_factory=list)


BARE = "bare Bolt (ack only)"


SESSION_CPU_GOAL_MS = 30.0  # issue 13: half of the "about 60 ms" it quoted for a whole session
MEMORY_GOAL_MIB = 88  # issue 13: memory with 10,000 sessions scheduled when it was filed
REQUEST_ACKS = 3  # issue 28: the bot's CPU per stored request, in bare-Bolt acks
SESSION_ACKS = 12  # issue 28: per whole session


def evaluate(r: Results) -> None:
    """Fill ``r.targets``: (target, measured, met?)."""
    t = r.targets
    bare = {(row.concurrency, row.interval): row for row in r.ack if row.app == BARE}
    # Back to back (saturation) at concurrency 1 and 16, and 16 connections at a steady rate.
    # Latency against bare Bolt where the machine is not saturated; at 16 connections back to back only Slack's 3 s
    # (issue 28 replaced the comparison there by CPU per request: it measured the machine more than the bot).
    for row in (x for x in r.ack if x.app == "bot" and (not x.interval or x.concurrency > 1)):
        b = bare[(row.concurrency, row.interval)]
        how = (f"concurrency {row.concurrency}" if not row.interval
               else f"{row.concurrency} connections, steady {row.concurrency / row.interval:.0f} commands/s")
        t.append((f"`/impersonate` ack p99 < 3 s ({how})", ms(row.p99), row.p99 < 3.0))
        if row.interval or row.concurrency == 1:
            t.append((f"ack p50 no worse than bare Bolt ({how})", f"{ms(row.p50)} vs {ms(b.p50)}", row.p50 <= b.p50))
            t.append((f"ack p99 no worse than bare Bolt ({how})", f"{ms(row.p99)} vs {ms(b.p99)}", row.p99 <= b.p99))
    for row in (x for x in r.ack if x.app.startswith("bot, Descope look-up")):
        t.append((f"`/impersonate` ack p99 < 3 s ({row.app.removeprefix('bot, ')})", ms(row.p99),
                  row.p99 < 3.0 and row.errors == 0))
    one_bot = next((x for x in r.ack if x.app == "bot" and x.concurrency == 1 and not x.interval), None)
    one_bare = bare.get((1, 0.0))
    if one_bot is not None and one_bare is not None:  # issue 28: CPU in bare-Bolt acks
        ack = one_bare.cpu_done_ms
        t.append((f"CPU of the bot per stored request ≤ {REQUEST_ACKS} bare-Bolt acks (commands one after another,"
                  " the work after the ack counted)",
                  f"{one_bot.cpu_done_ms:.2f} vs {ack:.2f} ms ({one_bot.cpu_done_ms / ack:.1f} acks)",
                  one_bot.cpu_done_ms <= REQUEST_ACKS * ack))
        for f in r.flows:  # against bare Bolt's acks measured beside the sessions (section 2), else section 1's
            beside = not math.isnan(f.bare_ack_ms)
            base = f.bare_ack_ms if beside else ack
            t.append((f"CPU per whole session ≤ {SESSION_ACKS} bare-Bolt acks ({f.backend})",
                      f"{f.cpu_ms_per_session:.1f} ms ({f.cpu_ms_per_session / base:.1f} acks of {base:.2f} ms"
                      f"{', measured just before and after it' if beside else ''})",
                      f.cpu_ms_per_session <= SESSION_ACKS * base))
    for f in r.flows:
        t.append((f"approve → DM overhead p99 < 100 ms ({f.backend}, one at a time)", ms(f.sequential["p99"]),
                  f.sequential["p99"] < 0.1))
        t.append((f"approve → DM overhead p99 < 100 ms ({f.backend}, 16 flows at a time)", ms(f.loaded["p99"]),
                  f.loaded["p99"] < 0.1))
        t.append((f"CPU per whole session ≤ {SESSION_CPU_GOAL_MS:.0f} ms, half of the 60 ms issue 13 quoted"
                  f" ({f.backend})",
                  f"{f.cpu_ms_per_session:.1f} ms", f.cpu_ms_per_session <= SESSION_CPU_GOAL_MS))
        if f.backend in SIDE_BY_SIDE:  # the sound measure of "half of today's": see the history below
            was, now = SIDE_BY_SIDE[f.backend]
            t.append((f"the same ≤ half of issue 13's baseline ({ISSUE13_BASELINE}), run side by side ({f.backend})",
                      f"{now:.1f} vs {was:.1f} ms ({now / was:.0%})", now <= was / 2))
    v = r.revocation
    if v is not None:
        t.append((f"memory with {v.long_sessions:,} sessions scheduled ≤ {MEMORY_GOAL_MIB} MiB (issue 13), one serving"
                  " process (`VmRSS`, as then)", mib(v.rss_loaded_one_kb),
                  v.rss_loaded_one_kb <= MEMORY_GOAL_MIB * 1024))
        t.append((f"the same ≤ {MEMORY_GOAL_MIB} MiB, one serving process per core (the default; `Pss` summed)",
                  mib(v.rss_loaded_kb), v.rss_loaded_kb <= MEMORY_GOAL_MIB * 1024))
        t.append(("revocation lateness p99 < 1 s", ms(v.lateness["p99"]), v.lateness["p99"] < 1.0))
        t.append((f"revocation lateness max < sweep interval ({v.sweep_interval_s:.0f} s)", ms(v.lateness["max"]),
                  v.lateness["max"] < v.sweep_interval_s and v.missing_stops == 0))
        rs = v.restart
        if rs:
            t.append(("after SIGKILL + restart, every overdue session stopped within 5 s",
                      f"last stop {secs(rs['last_after_restart_s'])} after restart"
                      + (f", {rs['not_stopped']} never" if rs["not_stopped"] else ""),
                      rs["last_after_restart_s"] < 5.0 and rs["not_stopped"] == 0))
    if r.limits is not None:
        from bench import report_limits  # it writes numbers as this module does

        t += report_limits.targets(r.limits)
