"""Section 5 of docs/BENCHMARKS.md, the limits (``bench.limits``): its targets (issue 28) and its text, tables and
pictures (``bench.plots``)."""

from __future__ import annotations

from collections.abc import Callable

from bench.limits import ENDING_FOR_S, ENDING_PER_SECOND, QUIET, SOAK_WARMUP_S, SOAK_WINDOW_S, Limits, Scale
from bench.plots import LATENESS, MASS, SOAK
from bench.targets import mib, ms, secs

MASS_WITHIN_S = 15.0  # issue 28: every session revoked within this of the second they ended in
LATENESS_P99_S = 0.050  # issue 28: stop lateness p99 with 100,000 scheduled
FLAT = 0.05  # issue 28: the soak's last five minutes within this of its first
SAME = 0.10  # how much start-up and memory vary between two runs of the same thing here ("no more than")
PICTURES = "bench"  # the pictures' folder, beside the report


def targets(v: Limits) -> list[tuple[str, str, bool]]:
    t = []
    limited = v.mass[0]
    refused = limited.refused_stops + limited.refused_logouts
    t.append((f"{limited.sessions:,} sessions ending in the same second, Descope allowing {limited.per_second} stops"
              f" and {limited.per_second} logouts a second: all revoked within {MASS_WITHIN_S:.0f} s",
              f"{limited.revoked:,} revoked, the last {secs(limited.last_s)} after the first end", limited.revoked ==
              limited.sessions and limited.last_s <= MASS_WITHIN_S))
    t.append(("the same, on average at most one 429 a session", f"{refused} 429s ({refused / limited.sessions:.2f}"
              " a session)", refused <= limited.sessions))
    big, tenth = v.scale[-1], v.scale[-2]
    t.append((f"start-up with {big.scheduled:,} sessions scheduled no longer than with {tenth.scheduled:,}"
              f" (within the {SAME:.0%} two runs differ by)", f"{secs(big.start_s)} vs {secs(tenth.start_s)}",
              big.start_s <= tenth.start_s * (1 + SAME)))
    t.append((f"memory per serving process with {big.scheduled:,} scheduled no more than with {tenth.scheduled:,}"
              f" (within {SAME:.0%})", f"{mib(big.serving_kb)} vs {mib(tenth.serving_kb)}",
              0 < big.serving_kb <= tenth.serving_kb * (1 + SAME)))
    t.append((f"stop lateness p99 ≤ {LATENESS_P99_S * 1e3:.0f} ms with {big.scheduled:,} scheduled, while"
              f" {ENDING_PER_SECOND} sessions a second end", ms(big.lateness["p99"]),
              big.lateness["p99"] <= LATENESS_P99_S and big.missing == 0))
    if v.soak is not None:
        for what, label in (("pss_kb", "memory"), ("fds", "open file descriptors")):
            drift = v.soak.drift(what)
            worst = max(drift.values(), key=abs, default=0.0)
            t.append((f"the soak: {label} of every process flat (last five minutes within {FLAT:.0%} of the first)",
                      ", ".join(f"{name} {change:+.1%}" for name, change in drift.items()) or "no samples",
                      bool(drift) and abs(worst) <= FLAT and v.soak.failures == 0))
    return t


def render(w: Callable[[str], None], v: Limits) -> None:
    w("## 5. Limits: rate limits, many sessions, a long run")
    w("")
    w("Each measured beside its baseline in the same run. The sessions are seeded running (approved, delivered,"
      " posted) with real tokens the Descope stand-in minted, so each stop and logout is the real call; the bot runs"
      f" with its defaults but {', '.join(f'`{k}={val}`' for k, val in QUIET.items())} (nothing but the work"
      " measured).")
    w("")
    w("### Sessions ending in the same second")
    w("")
    w("The stand-in counts calls per path over any second and answers 429 `E130429` with `Retry-After` beyond its"
      " limit, as Descope does. A revocation is done when the token's logout is accepted (after its stop).")
    w("")
    w("| Descope allows | sessions | revoked | last revoked, after the first end | stop calls | logout calls |"
      " 429s on stop | 429s on logout |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in v.mass:
        allowed = f"{run.per_second} stops and {run.per_second} logouts a second" if run.per_second else "any number"
        w(f"| {allowed} | {run.sessions:,} | {run.revoked:,} | {secs(run.last_s)} | {run.stop_calls:,} |"
          f" {run.logout_calls:,} | {run.refused_stops:,} | {run.refused_logouts:,} |")
    w("")
    w(f"![Revocations over time]({PICTURES}/{MASS})")
    w("")
    w("### Many sessions scheduled")
    w("")
    w(f"The bot started over a database already holding that many sessions (ending in two hours), plus"
      f" {int(ENDING_PER_SECOND * ENDING_FOR_S)} ending {ENDING_PER_SECOND} a second for {ENDING_FOR_S:.0f} s once"
      " it is up: how long until every serving process answers (the median of three starts), each process's memory"
      " (`Pss`), and how late each of those stop calls went out after its window's end (the stand-in's clock, the"
      " database's `ends_at`).")
    w("")
    w("| sessions scheduled | start-up | memory, each process | stop lateness p50 | p99 | max | never stopped |")
    w("|---:|---:|---|---:|---:|---:|---:|")
    for s in v.scale:
        w(f"| {s.scheduled:,} | {secs(s.start_s)} | {_each(s)} | {ms(s.lateness['p50'])} | {ms(s.lateness['p99'])} |"
          f" {ms(s.lateness['max'])} | {s.missing} |")
    w("")
    w(f"![Stop lateness against sessions scheduled]({PICTURES}/{LATENESS})")
    w("")
    if v.soak is not None:
        soak = v.soak
        w("### The soak")
        w("")
        w(f"Whole sessions (request, approval, delivery, a {SOAK_WINDOW_S} s window, the stop and every Slack update)"
          f" started at {soak.rate:.0f} a second, open loop, for {soak.seconds / 60:.0f} minutes after"
          f" {SOAK_WARMUP_S:.0f} s at the same rate: {soak.sessions:,} sessions, {soak.failures} failed. Every"
          " process's memory (`Pss`) and open file descriptors sampled every 10 s; the means over the first and the"
          " last five minutes:")
        w("")
        w("| process | memory, first | memory, last | change | descriptors, first | descriptors, last | change |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        first_m, last_m, drift_m = soak.means("pss_kb", first=True), soak.means("pss_kb", first=False), \
            soak.drift("pss_kb")
        first_f, last_f, drift_f = soak.means("fds", first=True), soak.means("fds", first=False), soak.drift("fds")
        for name in first_m:
            w(f"| {name} | {mib(int(first_m[name]))} | {mib(int(last_m.get(name, 0)))} | {drift_m[name]:+.1%} |"
              f" {first_f.get(name, 0):.0f} | {last_f.get(name, 0):.0f} | {drift_f.get(name, 0.0):+.1%} |")
        w("")
        w(f"![Memory and descriptors over the soak]({PICTURES}/{SOAK})")
        w("")


def _each(s: Scale) -> str:
    return ", ".join(f"{name} {mib(kb)}" for name, kb in s.pss_kb.items())
