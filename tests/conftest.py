"""Shared fixtures: databases (SQLite and PostgreSQL), the fakes, and the running bot.

PostgreSQL: each test gets a database of its own on ``TEST_POSTGRES_URL`` (default: the local
server, user postgres). Where no server answers, PostgreSQL tests are skipped, except under CI
(``CI`` set), where that is a failure: CI must prove both backends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.harness import POSTGRES_ADMIN, BotProcess, Stack, bot_env, populate, postgres_database


def _postgres_database() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_database())
        except Exception as exc:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is required under CI but unreachable at {POSTGRES_ADMIN}: {exc}")
            pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN}")
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request.param, tmp_path)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeDescope]]:
    with FakeSlack() as slack, FakeDescope() as descope:
        populate(slack, descope)
        yield slack, descope


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(fakes: tuple[FakeSlack, FakeDescope], database_url: str, tmp_path: Path) -> Iterator[StackFactory]:
    """Start the bot (``make_stack(PENDING_TIMEOUT="2s")`` to override settings); stopped afterwards."""
    slack, descope = fakes
    started: list[BotProcess] = []

    def factory(argv: list[str] | None = None, **overrides: str) -> Stack:
        bot = BotProcess(bot_env(slack, descope, database_url, **overrides), tmp_path / f"bot{len(started)}.log",
                         **({"argv": argv} if argv else {}))
        started.append(bot)
        bot.start()
        return Stack(slack, descope, bot)

    yield factory
    for bot in started:
        bot.stop()


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return make_stack()


def _database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bot.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One bot, started once per database for a module's tests that leave nothing another could see (each compares
    with what was there before it): a bot start is most of such a test's time."""
    with started_once(request.param, tmp_path_factory.mktemp("shared")) as stack:
        yield stack


@contextlib.contextmanager
def started_once(kind: str, folder: Path, **overrides: str) -> Iterator[Stack]:
    """A bot on a database of ``kind`` ("sqlite", "postgresql") with the stand-ins, settings ``overrides``: what a
    module-scoped fixture shares among its tests."""
    databases = _database(kind, folder)
    url = next(databases)
    try:
        with FakeSlack() as slack, FakeDescope() as descope:
            populate(slack, descope)
            bot = BotProcess(bot_env(slack, descope, url, **overrides), folder / "bot.log")
            bot.start()
            try:
                yield Stack(slack, descope, bot)
            finally:
                bot.stop()
    finally:
        databases.close()
