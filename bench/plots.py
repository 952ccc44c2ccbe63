"""The pictures beside docs/BENCHMARKS.md (PNG, drawn with matplotlib off screen): the revocations over time when a
thousand sessions end together, stop lateness against the sessions scheduled, and memory over the soak."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.limits import Limits

MASS = "limits-mass-expiry.png"
LATENESS = "limits-lateness.png"
SOAK = "limits-soak.png"


def draw(limits: Limits, where: Path) -> list[str]:
    """Draw what ``limits`` measured into ``where``; the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    where.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in limits.mass:
        label = (f"Descope allows {run.per_second} stops and {run.per_second} logouts a second"
                 if run.per_second else "no limit (the baseline)")
        ax.step([0.0, *run.revocations], range(len(run.revocations) + 1), where="post", label=label)
    ax.set_xlabel("seconds after the first window ended (all end within 0.9 s)")
    ax.set_ylabel("sessions revoked")
    ax.set_title(f"{limits.mass[0].sessions:,} sessions ending in the same second")
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, plt, where / MASS))

    fig, ax = plt.subplots(figsize=(7, 4))
    scheduled = [max(s.scheduled, 1) for s in limits.scale]
    for key, style in (("p50", "o-"), ("p99", "s-"), ("max", "^:")):
        ax.plot(scheduled, [s.lateness[key] * 1e3 for s in limits.scale], style, label=key)
    ax.set_xscale("log")
    ax.set_xticks(scheduled, [f"{s.scheduled:,}" for s in limits.scale])
    ax.set_xlabel("sessions scheduled (besides those ending)")
    ax.set_ylabel("stop call after the window's end (ms)")
    ax.set_title("Stop lateness while ten sessions a second end")
    ax.grid(alpha=0.3)
    ax.legend()
    written.append(_save(fig, plt, where / LATENESS))

    if limits.soak is not None and limits.soak.samples:
        soak = limits.soak
        fig, (memory, fds) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        for name in sorted({name for sample in soak.samples for name in sample.pss_kb}):
            minutes = [sample.at / 60 for sample in soak.samples]
            memory.plot(minutes, [sample.pss_kb.get(name, 0) / 1024 for sample in soak.samples], label=name)
            fds.plot(minutes, [sample.fds.get(name, 0) for sample in soak.samples], label=name)
        memory.set_ylabel("memory (Pss, MiB)")
        memory.set_ylim(bottom=0)
        memory.set_title(f"The soak: {soak.rate:.0f} whole sessions a second")
        memory.grid(alpha=0.3)
        memory.legend()
        fds.set_ylabel("open file descriptors")
        fds.set_ylim(bottom=0)
        fds.set_xlabel("minutes")
        fds.grid(alpha=0.3)
        written.append(_save(fig, plt, where / SOAK))
    return written


def _save(fig: Any, plt: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=96)
    plt.close(fig)
    return path.name
