"""The Alembic revisions build exactly the schema the code's models describe, on both backends, and
every revision can be undone and redone (an operator rolling back a release must be able to)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.store import Base, make_engine
from bot.store.migrate import MIGRATIONS, migrate


def _config(conn: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_migrations_match_the_models_and_run_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)  # at head: nothing to do, nothing fails
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            command.downgrade(_config(conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("requests")}
        assert "ix_requests_requester_state" in indexes
    finally:
        engine.dispose()
