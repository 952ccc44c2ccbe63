"""``Retry-After`` read as seconds from now (RFC 9110: delta-seconds or an HTTP-date), for both clients: the Descope
client's retries and turns (``bot.descope.retry``, ``bot.transport.gate``) and the Slack client's rate-limit handling
(``bot.slack.retries``); and such a wait as said to people (``whole_seconds``)."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP-date; None if absent/garbled."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" zones parse as naive; HTTP-dates are GMT
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)


def whole_seconds(seconds: float) -> str:
    """A wait as said to people: whole seconds, rounded up (a turn's wait of 599.998 s is 600 s, not 599.998 and not,
    for a float's noise, 601); an absurd one as it came."""
    return str(math.ceil(round(seconds, 3))) if seconds < 1e9 else f"{seconds:g}"
