"""What the unit tests share: ``store``, a ``Store`` on a freshly migrated SQLite database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store, make_engine
from bot.store.migrate import migrate


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    yield Store(engine)
    engine.dispose()
