"""``impersonation-bot migrate``: bring the database schema up to date and exit (the Procfile's ``release:`` step);
``migrated_engine`` serves the commands that need the database and no other setting (``audit``)."""

from __future__ import annotations

import argparse

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.cli.exits import cannot_start, unreachable_database
from bot.config import ConfigError, database_url_from_env, logging_from_env


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("migrate", help="apply the database migrations and exit",
                        description="Bring the database named by DATABASE_URL up to date (idempotent) and exit.")


def run(args: argparse.Namespace) -> int:
    from bot.server.logs import configure

    level, fmt = logging_from_env()
    configure(level, [], fmt)
    engine = migrated_engine()
    if isinstance(engine, int):
        return engine
    print("database is up to date")
    return 0


def migrated_engine() -> Engine | int:
    """The engine of DATABASE_URL with the schema brought up to date, or the exit code once the problem has been
    said."""
    from bot.store import make_engine
    from bot.store.engine import undone_if_failed
    from bot.store.migrate import migrate

    try:
        database_url = database_url_from_env()
    except ConfigError as exc:
        return cannot_start(exc.problems)
    engine = make_engine(database_url)
    try:
        with undone_if_failed(database_url):
            migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        return unreachable_database(exc)
    return engine
