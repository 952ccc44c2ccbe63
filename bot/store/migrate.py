"""Run the Alembic migrations programmatically (at start, and for ``python -m bot migrate``).

Idempotent: at head it does nothing. Safe with replicas on PostgreSQL: an advisory lock makes the
second process wait for the first instead of racing it.

A database already at ``HEAD`` (every start but the first after an upgrade) is only read: Alembic, which brings
Mako and Pygments with it, is imported only when there is something to migrate, about 11 MiB less in every serving
process (issue 13's memory goal). ``HEAD`` is the newest revision in ``migrations/versions``; a unit test keeps it
equal to Alembic's own head.
"""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

MIGRATIONS = files("bot.store") / "migrations"  # package data: found the same from a checkout or an installed wheel
HEAD = "0016"
_LOCK_KEY = 0x1D35C0DE


def at_head(engine: Engine) -> bool:
    """Whether the database's Alembic revision is ``HEAD`` (false for a new, empty database)."""
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()) == [HEAD]
    except DBAPIError:  # no alembic_version table yet
        return False


def migrate(engine: Engine) -> None:
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
