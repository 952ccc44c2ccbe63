"""Which failures of the database mean it cannot be reached right now (a server stopped or restarting, the network,
a pool with no connection to give, SQLite's file locked beyond its timeout): ``unreachable``. Those are answered "try
again" at the edge (the request was not stored, nothing half done: each change is one transaction), counted by the
metrics, and the bot carries on once the database is back (the pool drops connections it found dead). A mistake in
what was asked (SQLite's "no such table", a constraint) is not one of them: it is a bug, logged with its traceback.

The drivers' exceptions, as SQLAlchemy wraps them (``DBAPIError.orig``)::

    sqlite3.OperationalError   unreachable when locked, busy, unable to open, or a disk I/O error
    psycopg.OperationalError   unreachable (the connection: refused, closed, timed out)
    psycopg.InterfaceError     unreachable (a connection already closed)
    sqlalchemy.exc.TimeoutError  unreachable (the pool had no connection to give in time)

``log_failure`` logs the exception being handled the way the bot's own work says it: the database out of reach in one
line (it says so at every turn until the database is back), anything else with its traceback.
"""

from __future__ import annotations

import logging
import sqlite3
import sys

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_SQLITE_UNREACHABLE = ("locked", "busy", "unable to open", "disk i/o")


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached, rather than a mistake in what was
    asked of it."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain of causes, not a cycle
        if seen is None:
            return False
        if isinstance(seen, PoolTimeout) or (isinstance(seen, DBAPIError) and seen.connection_invalidated):
            return True
        driver = seen.orig if isinstance(seen, DBAPIError) and seen.orig is not None else seen
        if isinstance(driver, sqlite3.OperationalError):
            return any(sign in str(driver).lower() for sign in _SQLITE_UNREACHABLE)
        if type(driver).__module__.startswith("psycopg") and \
                any(kind.__name__ in ("OperationalError", "InterfaceError") for kind in type(driver).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def log_failure(logger: logging.Logger, what: str, *args: object) -> None:
    """Log the exception being handled: ``what`` (``%`` ``args``), and then, the database out of reach, why in a few
    words; anything else, its traceback."""
    failure = sys.exc_info()[1]
    if failure is not None and unreachable(failure):
        logger.warning(what + ": the database cannot be reached (%s)", *args, type(failure).__name__, stacklevel=2)
    else:
        logger.exception(what, *args, stacklevel=2)
