"""The App Home's reads and its one write: who opened the Home (``home_viewers``), and the lists of requests a Home
shows, each with how many the whole list holds.

Opening the Home is an upsert: one row per person, the latest ``opened_at``, however many replicas record
it at once (``INSERT … ON CONFLICT DO UPDATE``, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import State
from bot.domain.home import Listed
from bot.store.models import as_view
from bot.store.rows import viewers_of
from bot.store.sql import Cond, Row, select_rows, where
from bot.store.store import Store

_OPENED = ("INSERT INTO home_viewers (user_id, opened_at) VALUES (?, ?) "
           "ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at")


class HomeStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def opened(self, user_id: str, now: datetime) -> None:
        """Record that ``user_id`` opened the Home at ``now``."""
        with self.store.write() as s:
            s.run(_OPENED, (user_id, now))

    def viewers(self, since: datetime) -> list[str]:
        """Everyone who opened the Home at ``since`` or later."""
        with self.store.db.read() as s:
            return viewers_of(s, since)

    def requests(self, *, states: Sequence[State], limit: int, requester_id: str | None = None,
                 not_requester: str | None = None, oldest_first: bool = False, to_review: bool = False) -> Listed:
        """Up to ``limit`` requests in ``states`` (by or not by a requester; ``to_review``: break-glass sessions
        nobody reviewed or flagged yet), newest first unless ``oldest_first``, and how many match in all: one read."""
        conds: list[Cond] = [Row.state.in_([x.value for x in states])]
        if to_review:
            conds += [Row.break_glass == True, Row.reviewed_at.is_(None), Row.flagged_at.is_(None)]  # noqa: E712
        if requester_id is not None:
            conds.append(Row.requester_id == requester_id)
        if not_requester is not None:
            conds.append(Row.requester_id != not_requester)
        order = "created_at ASC, id" if oldest_first else "created_at DESC, id"
        with self.store.db.read() as s:
            shown = tuple(as_view(row) for row in s.rows(*select_rows(conds, order=order, limit=limit)))
            if len(shown) < limit:
                return Listed(shown, len(shown))
            sql, params = where(conds)
            found = s.one(f"SELECT count(*) FROM requests WHERE {sql}", params)
            return Listed(shown, int(found[0]) if found else len(shown))
