"""Alembic environment: runs the revisions in ``versions/`` against the bot's database.

The URL comes from the Alembic config (set by ``bot.store.migrate``) or, for the plain ``alembic`` CLI, from
``DATABASE_URL`` (as ``bot.config`` reads it). The connection may be handed in by the caller
(``config.attributes["connection"]``).
"""

from __future__ import annotations

from alembic import context

from bot.config import database_url_from_env
from bot.store import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or database_url_from_env()
    engine = make_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `impersonation-bot migrate`")
run()
