"""The machine the numbers came from, and docs/BENCHMARKS.md rendered from the results."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench.history import ISSUE13_BASELINE, SIDE_BY_SIDE, before_after
from bench.sections import LOADED_RUNS, PACE_16_S, THINK_S, AckRow, FlowResult, Revocation, Sizes
from bench.stack import DESCOPE_LATENCY, postgres_version

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, str]:
    cpu, mem = "unknown", "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no", "--", "bot", "migrations"):
        commit += " + uncommitted changes in bot/"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version() or "not reachable",
        "libraries": ", ".join(f"{n} {version(n)}" for n in (
            "slack_bolt", "slack_sdk", "SQLAlchemy", "APScheduler", "waitress", "httpx", "psycopg")),
        "commit": commit,
    }


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
    wall_seconds: float = 0.0
    targets: list[tuple[str, str, bool]] = field(default_factory=list)


BARE = "bare Bolt (ack only)"


SESSION_CPU_GOAL_MS = 30.0  # issue 13: half of the "about 60 ms" it quoted for a whole session
MEMORY_GOAL_MIB = 88  # issue 13: memory with 10,000 sessions scheduled when it was filed


def evaluate(r: Results) -> None:
    """Fill ``r.targets``: (target, measured, met?)."""
    t = r.targets
    bare = {(row.concurrency, row.interval): row for row in r.ack if row.app == BARE}
    # Back to back (saturation) at concurrency 1 and 16, and 16 connections at a steady rate.
    for row in (x for x in r.ack if x.app == "bot" and (not x.interval or x.concurrency > 1)):
        b = bare[(row.concurrency, row.interval)]
        how = (f"concurrency {row.concurrency}" if not row.interval
               else f"{row.concurrency} connections, steady {row.concurrency / row.interval:.0f} commands/s")
        t.append((f"`/impersonate` ack p99 < 3 s ({how})", ms(row.p99), row.p99 < 3.0))
        t.append((f"ack p50 no worse than bare Bolt ({how})", f"{ms(row.p50)} vs {ms(b.p50)}", row.p50 <= b.p50))
        t.append((f"ack p99 no worse than bare Bolt ({how})", f"{ms(row.p99)} vs {ms(b.p99)}", row.p99 <= b.p99))
    for row in (x for x in r.ack if x.app.startswith("bot, Descope look-up")):
        t.append((f"`/impersonate` ack p99 < 3 s ({row.app.removeprefix('bot, ')})", ms(row.p99),
                  row.p99 < 3.0 and row.errors == 0))
    for row in (x for x in r.ack if x.app == "bot" and x.concurrency == 16 and not x.interval):  # issue 13
        b = bare[(row.concurrency, row.interval)]
        t.append(("ack p99 within 1.5 times bare Bolt's (concurrency 16)", f"{ms(row.p99)} vs {ms(b.p99)}",
                  row.p99 <= 1.5 * b.p99))
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


def render(r: Results) -> str:
    m = r.machine
    s = r.sizes
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Generated by `python -m bench`" + (" `--quick`" if r.quick else "") + " (`make bench`); do not edit by hand."
      " The bot runs as a real process (`tests.e2e.harness.BotProcess`) against the fake Slack and Descope servers"
      " of the end-to-end tests, on loopback. Not a test: CI times nothing.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for key, label in (("date", "Date"), ("cpu", "CPU"), ("cores", "Cores"), ("memory", "Memory"), ("os", "OS"),
                       ("python", "Python"), ("sqlite", "SQLite"), ("postgresql", "PostgreSQL server"),
                       ("libraries", "Libraries"), ("commit", "Code")):
        w(f"| {label} | {m[key]} |")
    w(f"| Whole run | {r.wall_seconds:.0f} s{' (quick)' if r.quick else ''} |")
    w("")
    w("Everything shares these cores: the bot, the baseline app, the fakes, the load generator and (for")
    w("the PostgreSQL rows) the database server. Absolute numbers are this machine's; compare rows within a run.")
    w("")

    w("## Targets")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    for name, measured, ok in r.targets:
        w(f"| {name} | {measured} | {verdict(ok)} |")
    w("")

    bot16 = next((x for x in r.ack if x.app == "bot" and x.concurrency == 16 and not x.interval), None)
    bare16 = next((x for x in r.ack if x.app == BARE and x.concurrency == 16 and not x.interval), None)
    if bot16 and bare16 and bot16.p50 > bare16.p50:
        w(f"Why the back-to-back concurrency-16 targets are missed: with 16 commands always in flight, latency is"
          f" concurrency ÷ throughput. The bot answers {bot16.per_second:.0f} commands/s, spending"
          f" {bot16.cpu_ms:.1f} ms of CPU on each (parse, the pre-flight look-up of the target in Descope, policy"
          " checks, an insert, and posting the approval message) in its serving processes (`WEB_CONCURRENCY`,"
          " here one per core), with the fake Descope and the load generator on the same two cores; bare Bolt"
          f" answers {bare16.per_second:.0f}/s because it does nothing ({bare16.cpu_ms:.1f} ms). Matching bare"
          f" Bolt's p50 there would take about {16 / bare16.p50:.0f} commands/s, i.e. well under 1 ms of CPU per"
          " command including the database write and the approval message: not reachable by an app that stores"
          " the request before answering, which the bot must (an acknowledged request is never lost).")
        w("")
    before_after(w)
    w("## 1. Acknowledgement latency of `/impersonate`")
    w("")
    w("Signed slash commands over keep-alive HTTP/1.1 from a separate load-generator process, back to back"
      " (closed loop) by 1 or 16 workers, each command for a login ID of its own, 8 requesters taking turns"
      " (`MAX_PENDING_PER_REQUESTER=1000`). Latency: request sent → whole answer read. Five warm-up commands"
      " per worker are not counted.")
    w("The baseline (`bench/bare_bolt.py`, its own process) is a Bolt app with default settings"
      " (`process_before_response=False`) whose listener only calls `ack()`, served like the bot: waitress"
      " through `slack_bolt.adapter.wsgi.SlackRequestHandler`, 16 threads. The bot's answer is the real one"
      " (parse, policy checks, one insert; the approval message is posted afterwards by its scheduler).")
    w("")
    w("| app | concurrency | commands | p50 | p99 | max | commands/s | errors | app CPU per command |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in r.ack:
        mode = (f"{row.concurrency}, each one every {row.interval * 1e3:.0f} ms" if row.interval
                else f"{row.concurrency}, back to back")
        w(f"| {row.app} | {mode} | {row.count} | {ms(row.p50)} | {ms(row.p99)} | {ms(row.max)} |"
          f" {row.per_second:.0f} | {row.errors} | {'n/a' if math.isnan(row.cpu_ms) else f'{row.cpu_ms:.1f} ms'} |")
    w("")
    w("The last rows make the pre-flight's Descope look-up (`GET /v1/mgmt/user`, done before answering) slow in the"
      " fake: a typical 100 ms, and a stall longer than the 1.5 s the bot gives it, after which the request goes to"
      " the approvers marked \"not verified in Descope\". Either way the answer stays within Slack's 3 s.")
    w("")
    w("The targets are for the back-to-back runs. The paced runs show each app at a steady rate it keeps up"
      f" with: one connection idle between commands, and 16 connections together sending {16 / PACE_16_S:.0f}"
      " commands/s (far more than any workspace sends).")
    w("The paced runs' latency is what a person typing the command sees; the back-to-back runs measure"
      " saturation."
      " The bot's CPU per command includes posting the approval message (its scheduler does that right after"
      " the answer, while the next commands arrive). Bare Bolt's latency is mostly its 10 ms ack polling, which"
      " costs no CPU. Back to back, an app's latency is about concurrency ÷ throughput: at concurrency 16 that"
      " is bounded by the CPU each command costs, so an app that does real work per command cannot match one"
      " that does none.")
    w("")

    w("## 2. Approve → token DM")
    w("")
    w("From the moment the approve click is sent to the moment the requester's session DM (ready, with its Show"
      " token button: `TOKEN_DELIVERY=reveal`, the default) reaches the fake Slack, minus the fake"
      f" Descope's injected {DESCOPE_LATENCY * 1e3:.0f} ms on the impersonate call: the bot's own overhead (the"
      " ack, the state change, the `users.info` look-up when not cached, sealing, `conversations.open` the first"
      " time a person is DMed, the DM). The click comes"
      f" {THINK_S * 1e3:.0f} ms after the approval message appears (a person is slower still; a click in the"
      " first few ms can find the bot not yet done recording that message, and it then waits for it).")
    w("")
    w(f"Under load: {LOADED_RUNS} runs of {r.sizes.throughput_flows} flows, 16 at a time, back to back; the run with"
      " the median p99 is shown (this machine's speed drifts from minute to minute: one run can be twice another),"
      " each run's p99 beside it.")
    w("")
    w("| database | flows | p50 | p99 | max | under load (16 flows at a time): p50 | p99 | p99 of each run |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for f in r.flows:
        w(f"| {f.backend} | {int(f.sequential['n'])} one at a time | {ms(f.sequential['p50'])} |"
          f" {ms(f.sequential['p99'])} | {ms(f.sequential['max'])} | {ms(f.loaded['p50'])} | {ms(f.loaded['p99'])} |"
          f" {', '.join(ms(p) for p in f.loaded_p99s)} |")
    if r.postgres_skipped:
        w("")
        w(f"PostgreSQL skipped: {r.postgres_skipped}.")
    w("")
    missed = [f.backend for f in r.flows if not f.loaded["p99"] < 0.100]
    w(f"Under load the target (p99 under 100 ms) is {'missed on ' + ' and '.join(missed) if missed else 'met'}:"
      " 16 flows always in flight keep both cores busy (the bot's processes, the fakes, the load generator and, for"
      " PostgreSQL, the database server; see \"CPU busy\" in section 4), so a click waits its turn behind the other"
      " flows' work; one at a time the same path takes the time in the first columns. The tail falls with the CPU per"
      " flow and with the waits on the click's own path (see issue 13's history below).")
    w("")

    w("## 3. Revocation precision")
    w("")
    v = r.revocation
    if v is None:
        w("Not run.")
    else:
        w(f"{v.sessions} sessions created through the full flow, 16 at a time ({v.create_seconds:.0f} s,"
          f" {v.create_per_second:.1f} flows/s), with windows chosen so that they end spread over"
          f" {v.spread_s:.0f} s after the last one exists; meanwhile {v.long_sessions:,} long sessions"
          " (inserted into the database through the bot's models before it started, ending in about 2 h) are"
          f" scheduled too. SQLite; sweep interval {v.sweep_interval_s:.0f} s (the default); the fake Descope"
          f" answers the stop call after {DESCOPE_LATENCY * 1e3:.0f} ms.")
        w("")
        w("Lateness = the stop call's arrival at the fake Descope - the session's `ends_at` as the bot stored it"
          " (read from its database afterwards). The approximation from outside, impersonate call's arrival +"
          " `refreshDuration`, is shown too: it runs a few ms later than the stored `ends_at`, which the bot"
          " takes before its impersonate call.")
        w("")
        w("| measure | sessions | p50 | p99 | max |")
        w("|---|---:|---:|---:|---:|")
        w(f"| stop call - stored `ends_at` | {int(v.lateness['n'])} | {ms(v.lateness['p50'])} |"
          f" {ms(v.lateness['p99'])} | {ms(v.lateness['max'])} |")
        w(f"| stop call - (impersonate call + `refreshDuration`) | {int(v.lateness_approx['n'])} |"
          f" {ms(v.lateness_approx['p50'])} | {ms(v.lateness_approx['p99'])} | {ms(v.lateness_approx['max'])} |")
        w("")
        notes = []
        if v.ended_during_creation:
            notes.append(f"{v.ended_during_creation} windows ended while sessions were still being created"
                         " (not counted above)")
        if v.missing_stops:
            notes.append(f"{v.missing_stops} sessions got no stop call at all")
        if notes:
            w("Note: " + "; ".join(notes) + ".")
            w("")
        rs = v.restart
        if rs:
            w("### After SIGKILL")
            w("")
            w(f"{rs['sessions']} more sessions with windows ending within 2 s; the bot is killed (SIGKILL) in the"
              f" middle of that burst, stays down {rs['down_s']:.1f} s (until every window has ended), and is"
              f" started again with the {v.long_sessions:,} long sessions still scheduled.")
            w("")
            w("| | |")
            w("|---|---|")
            w(f"| stopped before the kill | {rs['stopped_before_kill']} |")
            w(f"| overdue at restart | {rs['overdue']} |")
            w(f"| restart → healthy | {secs(rs['start_s'])} |")
            w(f"| restart → median stop call of the overdue | {secs(rs['p50_after_restart_s'])} |")
            w(f"| restart → last stop call | {secs(rs['last_after_restart_s'])} |")
            w(f"| healthy → last stop call | {secs(rs['last_after_healthy_s'])} |")
            w(f"| overdue sessions stopped later than 5 s after restart | {rs['late_over_5s']} |")
            w(f"| overdue sessions the killed process had claimed (live work lease) | {rs['leased']} |")
            if rs["leased"]:
                w(f"| their lease ran on after the kill for | {secs(rs['leased_lease_s'])} |")
                w(f"| restart → last stop call of those | {secs(rs['leased_last_after_restart_s'])} |")
            w(f"| never stopped (within 90 s) | {rs['not_stopped']} |")
            w("")

    w("## 4. Cost")
    w("")
    if v is not None:
        per = (v.rss_loaded_kb - v.rss_empty_kb) / max(v.long_sessions, 1)
        w("Memory of the bot: its processes' proportional set size (`Pss` from `/proc/<pid>/smaps_rollup`, summed over"
          " the parent and its serving processes: a page they share counts once; with one process, about its `VmRSS`"
          " less its share of the system's libraries):")
        w("")
        w("| state | Pss, all processes |")
        w("|---|---:|")
        w(f"| idle, empty database (started in {v.start_empty_s:.1f} s) | {mib(v.rss_empty_kb)} |")
        w(f"| idle, {v.long_sessions:,} active sessions scheduled (started in {v.start_loaded_s:.1f} s) |"
          f" {mib(v.rss_loaded_kb)} |")
        w(f"| the same, one serving process (`WEB_CONCURRENCY=1`): its `VmRSS` | {mib(v.rss_loaded_one_kb)} |")
        w(f"| after the {v.sessions} measured sessions too (peak `VmHWM`, summed {mib(v.hwm_kb)}) |"
          f" {mib(v.rss_after_kb)} |")
        w("")
        w(f"About {per:.1f} KiB per scheduled session (seeding {v.long_sessions:,} rows took {v.seed_seconds:.1f} s).")
        w("")
        w("Each serving process is a whole Python process (its imports, Bolt, SQLAlchemy, the pools): shared with the"
          " parent at the fork, most pages are soon copied (CPython writes reference counts into every object it"
          " touches), so each process adds about what one alone costs. The alarms are split between the processes"
          " (each rebuilds its share at start), so the sessions cost the same in all.")
        w("")
    w("Throughput of full flows (`/impersonate` → approval message → Approve click → token DM), 16 at a time,"
      f" {DESCOPE_LATENCY * 1e3:.0f} ms injected on Descope's impersonate call. \"CPU busy\" is the bot's CPU"
      " time (all its processes) over the run's wall time, in cores: the machine has two, shared with the fakes,"
      " the load generator and the database server.")
    w("")
    w("| database | flows | seconds | flows/s | bot CPU per flow | bot CPU busy | bot Pss after | transactions per"
      " flow | bot CPU per whole session |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in r.flows:
        txs = "n/a" if f.transactions_per_flow is None else f"{f.transactions_per_flow:.1f}"
        w(f"| {f.backend} | {f.flows} | {f.seconds:.1f} | {f.per_second:.1f} | {f.cpu_ms_per_flow:.1f} ms |"
          f" {f.cpu_busy:.2f} cores | {mib(f.rss_kb)} | {txs} | {f.cpu_ms_per_session:.1f} ms |")
    w("")
    w("The last column: whole sessions (the flow, then the stop at the end of a 2 s window and the Slack updates"
      " after it), 4 at a time, the bot's CPU over all of them divided by their number.")
    w("")
    w("## Method")
    w("")
    w(f"Sizes this run: {s.ack_paced} paced + {s.ack_c1} + {s.ack_c16} commands per app (section 1),"
      f" {s.dm_sequential} sequential and {LOADED_RUNS} runs of {s.throughput_flows} concurrent flows per database"
      " (2, 4),"
      f" {s.sessions} measured and {s.long_sessions:,} long sessions, {s.restart_sessions} for the restart (3)."
      " `--quick` runs a smaller set.")
    w("Each section starts fresh fakes and a fresh bot on a fresh database (PostgreSQL: a database created and"
      " dropped on the local server, as the tests do). Times compared across processes are wall-clock:"
      " the fakes stamp each call on arrival (`SlackCall.at`, `DescopeCall.at`). Percentiles are nearest-rank.")
    w("Two adjustments keep the tooling out of the numbers. The fakes write an answer's headers and body"
      " separately, and so does `http.client`: on a kept-alive connection Nagle's algorithm then holds the"
      " body until the peer's delayed ACK (40 ms on Linux). The benchmark sets `TCP_NODELAY` on its own"
      " client connections and on the fakes' sockets (`disable_nagle_algorithm`), as real servers do; the"
      " bot's own clients (httpx, slack_sdk) are left as they are.")
    w("The bot runs with the harness settings (`tests.e2e.harness.bot_env`) plus `SWEEP_INTERVAL=5s` (the default),"
      " `MAX_PENDING_PER_REQUESTER=1000` and 8 requesters; logs at INFO go to a file.")
    w("")
    return "\n".join(out) + "\n"
