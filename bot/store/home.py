"""The App Home's reads and its one write, through ``Store``'s transactions (plain reads in ``read()``, the
write in ``tx()``; ``viewers``, read after every change, through the driver in ``db.read()``): who opened the Home
(``home_viewers``), and the lists of requests a Home shows, each with how many the whole list holds.

Opening the Home is an upsert: one row per person, the latest ``opened_at``, however many replicas record
it at once (``INSERT … ON CONFLICT DO UPDATE``, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain import State
from bot.domain.home import Listed
from bot.store.models import HOME_VIEWERS, REQUESTS, as_view, row_of
from bot.store.store import Store


class HomeStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def opened(self, user_id: str, now: datetime) -> None:
        """Record that ``user_id`` opened the Home at ``now``."""
        dialect = postgresql if self.store.engine.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(HOME_VIEWERS).values(user_id=user_id, opened_at=now)
        with self.store.tx() as s:
            s.execute(upsert.on_conflict_do_update(index_elements=[HOME_VIEWERS.c.user_id],
                                                   set_={"opened_at": upsert.excluded.opened_at}))

    def viewers(self, since: datetime) -> list[str]:
        """Everyone who opened the Home at ``since`` or later."""
        with self.store.db.read() as s:  # after every change of a request: through the driver
            return [str(found[0]) for found in
                    s.all("SELECT user_id FROM home_viewers WHERE opened_at >= ? ORDER BY user_id", (since,))]

    def requests(self, *, states: Sequence[State], limit: int, requester_id: str | None = None,
                 not_requester: str | None = None, oldest_first: bool = False) -> Listed:
        """Up to ``limit`` requests in ``states`` (by or not by a requester), newest first unless
        ``oldest_first``, and how many match in all: one read."""
        where: list[Any] = [REQUESTS.c.state.in_([x.value for x in states])]
        if requester_id is not None:
            where.append(REQUESTS.c.requester_id == requester_id)
        if not_requester is not None:
            where.append(REQUESTS.c.requester_id != not_requester)
        order = REQUESTS.c.created_at.asc() if oldest_first else REQUESTS.c.created_at.desc()
        with self.store.read() as s:
            rows = s.execute(select(REQUESTS).where(*where).order_by(order, REQUESTS.c.id).limit(limit)).mappings()
            shown = tuple(as_view(row_of(r)) for r in rows)
            total = len(shown) if len(shown) < limit else int(
                s.execute(select(func.count()).select_from(REQUESTS).where(*where)).scalar_one())
            return Listed(shown, total)
