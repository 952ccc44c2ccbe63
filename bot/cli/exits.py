"""How a command says it cannot go on: one clear line (or, for several problems, one line each) on stderr, and the
exit status. The sentences themselves are the callers' (``check_words`` for what the doctor also says)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.cli import check_words as m

CANNOT = 2  # the configuration, or something it names, is not usable: said, nothing done


def cannot_start(problems: Sequence[str]) -> int:
    """``impersonation-bot cannot start: <the problem>``, or the problems listed under that line."""
    if len(problems) == 1:
        print(f"impersonation-bot cannot start: {problems[0]}", file=sys.stderr)
    else:
        print("impersonation-bot cannot start:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
    return CANNOT


def unreachable_database(exc: Exception) -> int:
    """The database named by DATABASE_URL did not answer: one line, never the URL (it may hold a password)."""
    return cannot_start([database_silent(exc)])


def database_silent(exc: Exception) -> str:
    return f"{m.DATABASE_SILENT.format(reason=database_reason(exc))}; {m.DATABASE_SILENT_FIX}"


def database_reason(exc: Exception) -> str:
    """The driver's first line about a database that did not answer (never the URL: it may hold a password)."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
