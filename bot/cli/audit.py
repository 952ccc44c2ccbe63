"""``impersonation-bot audit [export]``: the append-only audit trail as JSON lines or CSV, on standard output.

``--since`` takes an ISO date/time (``2026-11-01``, ``2026-11-01T09:00``; UTC unless it says otherwise) or a
duration back from now (``24h``, ``90m``). A detail says what happened as data (``{"type": "ending", "reason":
"window_ended"}``, see ``bot.domain.outcomes``): a nested object in JSON lines, its JSON text in CSV.

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
from bot.store import AuditEntry, Store, utcnow

FIELDS = ["id", "at", "request_id", "actor", "action", "from_state", "to_state", "detail"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="export the audit trail (JSON lines or CSV) to standard output",
                                description="Export the audit trail to standard output: every event, oldest first.")
    actions = audit.add_subparsers(dest="action", metavar="action")
    export_parser = actions.add_parser("export", help="the events (the default action)",
                                       description="Export the audit trail's events to standard output.")
    for parser in (audit, export_parser):
        parser.add_argument("--since", type=_moment, help="ISO date/time (UTC unless it says) or a duration back "
                                                          "from now, e.g. 2026-11-01T09:00 or 24h")
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
    count = export(Store(engine), sys.stdout, since=args.since, fmt="csv" if args.format == "csv" else "jsonl",
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


def _row(entry: AuditEntry) -> dict[str, str | int | None]:
    return {"id": entry.id, "at": entry.at.isoformat(), "request_id": entry.request_id, "actor": entry.actor,
            "action": entry.action, "from_state": entry.from_state, "to_state": entry.to_state,
            "detail": entry.detail}


def _structured(detail: str | None) -> object:
    """A detail recorded as data (``bot.domain.outcomes``) as a JSON object; older plain text as it was."""
    if detail is None:
        return None
    try:
        value = json.loads(detail)
    except ValueError:
        return detail
    return value if isinstance(value, dict) else detail


def export(store: Store, out: TextIO, *, since: datetime | None, fmt: str, request_id: str | None = None) -> int:
    entries = store.audit(since=since, request_id=request_id)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(_row(e) for e in entries)
    else:
        for entry in entries:
            row: dict[str, object] = dict(_row(entry))
            row["detail"] = _structured(entry.detail)
            out.write(json.dumps(row) + "\n")
    return len(entries)
