"""``python -m bot audit``: export the append-only audit trail as JSON lines or CSV.

``--since`` takes an ISO date/time (``2026-11-01``, ``2026-11-01T09:00``; UTC unless it says otherwise) or a
duration back from now (``24h``, ``90m``). A detail says what happened as data (``{"type": "ending", "reason":
"window_ended"}``, see ``bot.domain.outcomes``): a nested object in JSON lines, its JSON text in CSV.

The export's first line on stderr states the retention in force (``RETENTION``): what the trail may no longer
hold. ``retention_line`` words it.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import TextIO

from bot.domain.durations import format_duration, looks_like_duration, parse_duration
from bot.store import AuditEntry, Store, utcnow

FIELDS = ["id", "at", "request_id", "actor", "action", "from_state", "to_state", "detail"]


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
