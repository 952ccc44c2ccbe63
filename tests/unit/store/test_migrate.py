"""``bot.store.migrate``: ``HEAD`` is Alembic's head; a new database is migrated to it; a database already there is left
alone without Alembic even being imported (the serving processes' memory)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.store import make_engine
from bot.store.migrate import HEAD, MIGRATIONS, at_head, migrate

ROOT = Path(__file__).resolve().parents[3]


def test_head_is_the_newest_revision() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD], \
        "a new revision in migrations/versions: set bot.store.migrate.HEAD to it"


def test_a_new_database_is_migrated_to_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine) and "requests" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
    engine.dispose()


def test_a_database_at_head_is_left_alone_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    check = ("import sys; from bot.store.migrate import migrate; from bot.store import make_engine; "
             f"migrate(make_engine({url!r})); print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('alembic', 'mako', 'pygments')))")
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
