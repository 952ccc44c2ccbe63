"""How a command says it cannot go on: one clear line (or a list of problems) on stderr, and the exit status."""

from __future__ import annotations

import sys

CANNOT = 2  # the configuration, or something it names, is not usable: said, nothing done


def cannot_start(problem: object) -> int:
    print(f"impersonation-bot cannot start.\n{problem}", file=sys.stderr)
    return CANNOT


def unreachable_database(exc: Exception) -> int:
    """The database named by DATABASE_URL did not answer: one line, never the URL (it may hold a password)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return cannot_start(f"- DATABASE_URL: the database does not answer ({reason})")
