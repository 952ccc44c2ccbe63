"""``impersonation-bot audit [export]``: the append-only audit trail as JSON lines or CSV, on standard output.

Each event is what the audit stream sends (``workflows.audit_stream.event``: ``id``, ``time``, ``action``,
``request_id``, ``actor``, ``target``, ``tenant``, ``details``). ``--since`` and ``--until`` take an ISO date/time
(``2026-11-01``, ``2026-11-01T09:00``; UTC unless it says otherwise) or a duration back from now (``24h``, ``90m``).
The details say what happened as data (``{"type": "ending", "reason": "window_ended"}``, see
``bot.domain.outcomes``): a nested object in JSON lines, its JSON text in CSV.

The export's first line on stderr states the retention in force (``RETENTION``): what the trail may no longer
hold. ``retention_line`` words it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.cli.exits import cannot_start
from bot.config import ConfigError, retention_from_env
from bot.domain.durations import format_duration, looks_like_duration, parse_duration
from bot.store import Store, utcnow
from bot.workflows.audit_stream import event

FIELDS = ["id", "time", "action", "request_id", "actor", "target", "tenant", "details"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="export the audit trail (JSON lines or CSV) to standard output",
                                description="Export the audit trail to standard output: every event, oldest first.")
    actions = audit.add_subparsers(dest="action", metavar="action")
    export_parser = actions.add_parser("export", help="the events (the default action)",
                                       description="Export the audit trail's events to standard output.")
    for parser in (audit, export_parser):
        parser.add_argument("--since", type=_moment, help="ISO date/time (UTC unless it says) or a duration back "
                                                          "from now, e.g. 2026-11-01T09:00 or 24h")
        parser.add_argument("--until", type=_moment, help="ISO date/time (UTC unless it says) or a duration back "
                                                          "from now: the events before it")
        parser.add_argument("--request", help="only this request ID")
        parser.add_argument("--format", choices=["jsonl", "json", "csv"], default="jsonl",
                            help="JSON lines (jsonl, also json) or CSV")


def _moment(text: str) -> datetime:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from bot.cli.migrate import current_engine

    try:
        retention = retention_from_env()
    except ConfigError as exc:
        return cannot_start(exc.problems)
    engine = current_engine()  # only read: a database not there, or not migrated, is said, not made or migrated
    if isinstance(engine, int):
        return engine
    print(retention_line(retention), file=sys.stderr)
    count = export(Store(engine), sys.stdout, since=args.since, until=args.until,
                   fmt="csv" if args.format == "csv" else "jsonl",
                   request_id=args.request.upper() if args.request else None)
    print(f"{count} audit entries", file=sys.stderr)
    return 0


def parse_since(text: str) -> datetime:
    if looks_like_duration(text):
        return utcnow() - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"`{text}` is neither a date/time (2026-11-01T09:00) nor a duration (24h)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retention_line(retention: timedelta | None) -> str:
    """The retention in force, for the export's first line on stderr."""
    if retention is None:
        return "retention: none (everything kept)"
    text = format_duration(retention)
    return f"retention: {text} (requests ended more than {text} ago are deleted, with their audit rows)"


def export(store: Store, out: TextIO, *, since: datetime | None, fmt: str, until: datetime | None = None,
           request_id: str | None = None) -> int:
    """The audit events from ``since`` to ``until`` (of one request), oldest first, as the stream sends them
    (``workflows.audit_stream.event``, without ``seq``): JSON lines, or CSV with ``details`` as JSON text."""
    events = [event(row) for row in store.audit_events(since=since, until=until, request_id=request_id)]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({**{key: e[key] for key in FIELDS}, "details": json.dumps(e["details"])} for e in events)
    else:
        for found in events:
            out.write(json.dumps({key: found[key] for key in FIELDS}) + "\n")
    return len(events)
