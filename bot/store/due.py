"""The schedule's index, read: ``DueRecords`` answers what the sweep and the alarm ask of ``requests.next_due_at``
(``bot.domain.schedule``'s moment for each request, kept by every write): what is due by now, what came due since the
alarm's last ring, the earliest moment, the next one. Each is a range of that one index. And what is late: the
sessions still active past their window's end or a stop asked of them (two ranges of two indexes)."""

from __future__ import annotations

from datetime import datetime

from bot.store.core import StoreCore
from bot.store.sql import Tx


class DueRecords(StoreCore):
    def due(self, now: datetime, limit: int = 500) -> list[str]:
        """Requests with work due by ``now`` (``next_due_at``), most overdue first."""
        with self.db.read() as s:
            return [str(found[0]) for found in s.all(
                "SELECT id FROM requests WHERE next_due_at <= ? ORDER BY next_due_at LIMIT ?", (now, limit))]

    def due_and_next(self, since: datetime, after: str | None, until: datetime,
                     limit: int) -> tuple[list[tuple[datetime, str]], datetime | None]:
        """What the alarm looks up when it rings, in one read: the requests whose work came due after ``since`` (or at
        ``since``, with an id after ``after``: where a full batch left off) up to ``until``, at most ``limit``, as
        (moment, id) in that order (a range of the index); and the next moment after ``until`` (``next_due_after``)."""
        with self.db.read() as s:
            return _due_between(s, since, after, until, limit), _next_due_after(s, until)

    def overdue_sessions(self, now: datetime) -> tuple[int, datetime | None]:
        """How many sessions are still active though their stop fell due by ``now`` (their window ended, or someone
        asked to stop them), and the earliest moment such a stop fell due (the metrics: a stop held back, by Descope's
        limits or an outage, shows here before it is done). Two ranges: ``(state, ends_at)`` for windows ended with no
        stop asked, and the stops asked (``ix_requests_active_stop_asked``, partial: only those rows)."""
        with self.db.read() as s:  # 'active' written out: SQLite uses a partial index only for a literal it names
            found = s.one(
                "SELECT count(*), min(due) FROM ("
                " SELECT ends_at AS due FROM requests WHERE state = 'active' AND ends_at <= ?"
                " AND (stop_requested_at IS NULL OR stop_requested_at > ?)"
                " UNION ALL"
                " SELECT CASE WHEN ends_at < stop_requested_at THEN ends_at ELSE stop_requested_at END FROM requests"
                " WHERE state = 'active' AND stop_requested_at IS NOT NULL AND stop_requested_at <= ?"
                ") AS overdue", (now, now, now))
            return (int(found[0]), s.moment(found[1])) if found else (0, None)

    def earliest_due(self) -> datetime | None:
        """The earliest ``next_due_at`` of all (the index's first)."""
        with self.db.read() as s:
            found = s.one("SELECT min(next_due_at) FROM requests")
            return s.moment(found[0]) if found else None

    def next_due_after(self, now: datetime) -> datetime | None:
        """The earliest ``next_due_at`` after ``now`` (the index, read from there)."""
        with self.db.read() as s:
            return _next_due_after(s, now)


def _due_between(s: Tx, since: datetime, after: str | None, until: datetime,
                 limit: int) -> list[tuple[datetime, str]]:
    after_since = ("next_due_at > ?", (since,)) if after is None else \
        ("next_due_at >= ? AND (next_due_at > ? OR id > ?)", (since, since, after))  # a range of the index
    return [(moment, str(found[1])) for found in s.all(
        f"SELECT next_due_at, id FROM requests WHERE {after_since[0]} AND next_due_at <= ? "
        "ORDER BY next_due_at, id LIMIT ?", (*after_since[1], until, limit))
        if (moment := s.moment(found[0])) is not None]


def _next_due_after(s: Tx, now: datetime) -> datetime | None:
    found = s.one("SELECT min(next_due_at) FROM requests WHERE next_due_at > ?", (now,))
    return s.moment(found[0]) if found else None
