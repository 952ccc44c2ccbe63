"""Which failures of the database mean it cannot be reached right now (a server stopped or restarting, the network,
SQLite's file locked beyond its timeout): ``unreachable``. Those are answered "try again" at the edge (the request was
not stored, nothing half done: each change is one transaction), counted by the metrics, and the bot carries on once
the database is back (the pool drops connections it found dead)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_UNREACHABLE = frozenset({"OperationalError", "InterfaceError"})


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached, rather than a mistake in what was
    asked of it."""
    seen: BaseException | None = exc
    while seen is not None:
        # SQLAlchemy's wrappers, or the driver's own (PEP 249 names them alike: a pool's connect raises those)
        if isinstance(seen, OperationalError | InterfaceError) or \
                any(kind.__name__ in _UNREACHABLE for kind in type(seen).__mro__):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
        if seen is exc:
            break
    return False
