"""Durations as people write them: ``90s``, ``15m``, ``2h``, ``1h30m``.

One parser serves the environment (``DEFAULT_DURATION`` …) and the slash command, so a window reads
the same everywhere. ``format_duration`` writes a ``timedelta`` back in the same notation.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta

_PART = re.compile(r"(\d+)([hms])")
_WHOLE = re.compile(r"(?:\d+[hms])+")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
MAX_SECONDS = 366 * 24 * 3600


def looks_like_duration(text: str) -> bool:
    """True for anything shaped like a duration (even out of policy): digits followed by a unit."""
    return bool(_WHOLE.fullmatch(text.strip().lower()))


class Problem(enum.StrEnum):
    """What is wrong with a duration as written."""

    NOT_A_DURATION = "not_a_duration"  # not digits and units at all
    UNITS_OUT_OF_ORDER = "units_out_of_order"  # a unit twice, or minutes before hours …
    TOO_LONG = "too_long"  # longer than a year
    ZERO = "zero"


class BadDuration(ValueError):
    """``text`` is not a duration (``problem`` says why; the words are the reader's: ``bot.config.words``)."""

    def __init__(self, text: str, problem: Problem) -> None:
        super().__init__(f"{problem}: {text!r}")
        self.text = text
        self.problem = problem


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text. Raises ``BadDuration``."""
    cleaned = text.strip().lower()
    if not _WHOLE.fullmatch(cleaned):
        raise BadDuration(text, Problem.NOT_A_DURATION)
    units = [unit for _, unit in _PART.findall(cleaned)]
    if len(set(units)) != len(units) or units != sorted(units, key="hms".index):
        raise BadDuration(text, Problem.UNITS_OUT_OF_ORDER)
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(cleaned))
    if seconds > MAX_SECONDS:
        raise BadDuration(text, Problem.TOO_LONG)
    if seconds <= 0:
        raise BadDuration(text, Problem.ZERO)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """``timedelta(seconds=5400)`` → ``1h30m``."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if seconds or not out:
        out += f"{seconds}s"
    return out
