"""The store's fixtures: ``any_store``, a migrated ``Store`` on each database (SQLite and PostgreSQL), for what both
must do alike; the in-process ``World`` for the tests that go through the workflows (on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store, make_engine
from bot.store.migrate import migrate
from tests.fakes.inprocess import World, world_on


@pytest.fixture
def any_store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_on(f"sqlite:///{tmp_path / 'unit.db'}") as w:
        yield w
