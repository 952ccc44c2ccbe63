"""``impersonation-bot migrate``: bring the database schema up to date and exit (the Procfile's ``release:`` step).
``current_engine`` serves ``audit``, which only reads: a database that is not there, or not migrated, is said, and
nothing is made or migrated for it."""

from __future__ import annotations

import argparse
import os

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
    engine.dispose()
    print("database is up to date")
    return 0


def migrated_engine() -> Engine | int:
    """The engine of DATABASE_URL with the schema brought up to date, or the exit code once the problem has been
    said (a SQLite file's folder that is not there, or not writable, among them)."""
    from bot.cli import ready
    from bot.store import make_engine
    from bot.store.engine import undone_if_failed
    from bot.store.migrate import migrate

    try:
        database_url = database_url_from_env()
    except ConfigError as exc:
        return cannot_start(exc.problems)
    reached = ready.database(database_url, first_start=True)
    if not reached.ok:
        return cannot_start([reached.problem])
    engine = make_engine(database_url)
    try:
        with undone_if_failed(database_url):
            migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        return unreachable_database(exc)
    return engine


def current_engine() -> Engine | int:
    """The engine of DATABASE_URL as it is, for a command that only reads (``audit``): a database that is not there
    or not at the bot's schema is said, and nothing is made or migrated."""
    from bot.cli import check_words as m
    from bot.store import make_engine
    from bot.store.migrate import HEAD, at_head

    try:
        database_url = database_url_from_env()
    except ConfigError as exc:
        return cannot_start(exc.problems)
    missing = missing_sqlite_file(database_url)
    if missing is not None:
        return cannot_start([f"{m.DATABASE_NO_FILE.format(path=missing)}; {m.DATABASE_NO_FILE_FIX}"])
    engine = make_engine(database_url)
    try:
        if not at_head(engine):
            engine.connect().close()  # an unreachable database is said as such, not as an old schema
            engine.dispose()
            return cannot_start([f"{m.DATABASE_UNMIGRATED.format(head=HEAD)}; {m.DATABASE_FIX}"])
    except OperationalError as exc:
        engine.dispose()
        return unreachable_database(exc)
    return engine


def missing_sqlite_file(url: str) -> str | None:
    """The path of the SQLite file ``url`` names when there is no such file (other databases: None)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    return path if path and path != ":memory:" and not os.path.exists(path) else None
