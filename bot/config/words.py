"""Sentences about what was written wrong that the command line and Slack both say (``bot.slack.messages`` quotes them
for a person in Slack; ``reader`` and ``policy_file`` for an operator)."""

from __future__ import annotations

from bot.domain.durations import BadDuration, Problem


def duration_problem(bad: BadDuration) -> str:
    """Why ``bad.text`` is not a duration, and how to write one."""
    match bad.problem:
        case Problem.UNITS_OUT_OF_ORDER:
            return f"`{bad.text}` is not a duration: give hours, minutes, seconds once each, in that order"
        case Problem.TOO_LONG:
            return f"`{bad.text}` is not a sensible duration: it is longer than a year"
        case Problem.ZERO:
            return f"`{bad.text}` is not a duration: it must be longer than zero"
    return f"`{bad.text}` is not a duration: write it like `90s`, `15m`, `2h` or `1h30m`"
