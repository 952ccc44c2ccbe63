"""``python -m bench [--quick] [--output PATH] [--no-postgres]``: measure the bot, write docs/BENCHMARKS.md.

Sections (each with fresh fakes, a fresh bot process and a fresh database):

1. acknowledgement latency of ``/impersonate`` at concurrency 1 and 16, next to a bare Bolt app, and what one
   command must cost at the least (``bench.floor``);
2. approve → token DM: the bot's own overhead (the fake Descope's injected latency subtracted);
3. revocation precision: 1,000 sessions ending over a minute while 10,000 more are scheduled, and a
   SIGKILL + restart while sessions are due;
4. cost: resident memory with 10,000 sessions scheduled; full-flow throughput on SQLite and PostgreSQL;
5. limits (``bench.limits``): 1,000 sessions ending in the same second under Descope's rate limit, 100,000 sessions
   scheduled, a 30-minute soak; drawn as PNG pictures beside the report (``bench.plots``).

About forty-five minutes on two cores (the soak is thirty, after five of warming up); ``--quick`` takes about
twelve.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import floor, plots, report_limits, sections
from bench.limits import Limits, limits
from bench.machine import ROOT, machine
from bench.report import render
from bench.revocation import revocation as revocation_section
from bench.targets import Results, evaluate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Measure the bot; write docs/BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="a smaller run (about two minutes)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md", help="where to write")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    args = parser.parse_args(argv)
    sizes = sections.Sizes.quick() if args.quick else sections.Sizes()
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    tmp_dir = tempfile.mkdtemp(prefix="bot-bench-") if args.keep else None
    with tempfile.TemporaryDirectory(prefix="bot-bench-") if tmp_dir is None else _Keep(tmp_dir) as name:
        tmp = Path(name)
        log(f"work files in {tmp}")
        log("1. acknowledgement latency")
        ack, idle = sections.ack_latency(sizes, tmp, log)
        log("1b. what one command must cost at the least")
        least = floor.measure(sizes.floor_calls)
        log("2/4. full flows")
        flows = [sections.flows("SQLite", sections.sqlite_url(tmp, "flows.db"), sizes, tmp, log)]
        skipped: str | None = "--no-postgres" if args.no_postgres else None
        if not args.no_postgres:
            try:
                flows.append(sections.postgres_flows(sizes, tmp, log))
            except Exception as exc:  # no server here: say so in the report instead of failing
                skipped = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log(f"  PostgreSQL skipped ({skipped})")
        log("3. revocation precision and memory")
        revocation = revocation_section(sizes, tmp, log, flows[0].per_second)
        log("5. limits")
        limited: Limits | None = None
        try:  # the sections before are not lost to a failure here
            limited = limits(sizes, tmp, log)
            limited.plots = plots.draw(limited, args.output.parent / report_limits.PICTURES)
        except Exception as exc:
            log(f"  limits failed: {type(exc).__name__}: {exc}")
        results = Results(sizes, args.quick, machine(), ack, idle, flows, revocation, skipped, least,
                          wall_seconds=time.perf_counter() - started, limits=limited)
    evaluate(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(results))
    log(f"wrote {args.output}")
    for name, measured, ok in results.targets:
        log(f"  {'met   ' if ok else 'MISSED'} {name}: {measured}")
    return 0


class _Keep:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
