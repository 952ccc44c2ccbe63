"""The in-process ``World`` for the store's tests that go through the workflows (on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.inprocess import World, world_on


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_on(f"sqlite:///{tmp_path / 'unit.db'}") as w:
        yield w
