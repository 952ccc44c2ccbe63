"""``make_engine`` on PostgreSQL: a pooled connection is pinged only after being idle (no extra round trip per
transaction under load), and one that died meanwhile (the server restarted, an admin killed it) is replaced before
any transaction sees it."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from bot.devtools.harness import POSTGRES_ADMIN
from bot.store import engine as engines
from bot.store import make_engine
from tests.conftest import _postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def _kill_connections_to(url: str) -> int:
    database = url.rsplit("/", 1)[-1]
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE datname = :name AND pid <> pg_backend_pid()"),
                                    {"name": database}).all())
    finally:
        admin.dispose()


def test_busy_connections_are_not_pinged_and_an_idle_dead_one_is_replaced(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(postgres_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    try:
        for _ in range(5):
            with engine.begin() as conn:
                conn.execute(text("SELECT 42"))
        assert statements == ["SELECT 42"] * 5  # no ping between transactions in steady use

        monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 0.2)
        assert _kill_connections_to(postgres_url) >= 1  # the pooled connection dies while idle
        time.sleep(0.3)
        with engine.begin() as conn:  # pinged, found dead, replaced: the transaction never notices
            assert conn.execute(text("SELECT 7")).scalar_one() == 7
    finally:
        engine.dispose()


def test_sqlite_writers_of_several_processes_take_turns(tmp_path: Path) -> None:
    """``Writers``: processes (``WEB_CONCURRENCY``) writing to one SQLite database queue on its lock file, one at a
    time, as threads of one process do on its lock."""
    import multiprocessing

    from bot.store.engine import Writers

    database = str(tmp_path / "bot.db")
    spans = tmp_path / "spans"

    def write(name: str) -> None:
        writers = Writers(database)
        for _ in range(5):
            with writers:
                started = time.monotonic()
                time.sleep(0.02)
                with spans.open("a") as f:
                    f.write(f"{name} {started} {time.monotonic()}\n")

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=write, args=(f"p{i}",)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0
    held = sorted((float(a), float(b)) for _, a, b in (line.split() for line in spans.read_text().splitlines()))
    assert len(held) == 15
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(held))  # never two at once


def test_sqlite_runs_in_wal_with_normal_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (FULL is 2)
    engine.dispose()


def test_a_sqlite_file_made_by_a_block_that_fails_is_removed_and_an_old_one_kept(tmp_path: Path) -> None:
    from bot.store.engine import undone_if_failed

    new = tmp_path / "new.db"
    with pytest.raises(RuntimeError), undone_if_failed(f"sqlite:///{new}"):
        engine = make_engine(f"sqlite:///{new}")
        with engine.begin() as conn:  # WAL: the file, its -wal and -shm
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        engine.dispose()
        assert new.exists()
        raise RuntimeError("the start failed after the file was made")
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old.db"
    make_engine(f"sqlite:///{old}").connect().close()
    with pytest.raises(RuntimeError), undone_if_failed(f"sqlite:///{old}"):
        raise RuntimeError("a failure after the file existed")
    assert old.exists()
