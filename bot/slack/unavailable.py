"""Slack's own failures and its rate limit, told from its refusals.

A 429 the client did not wait out in its thread (``bot.slack.client``: a ``Retry-After`` over a second), a 5xx, a
broken or refused connection: nothing about the call is wrong, and it may be made again later. ``unavailable`` says
which of an exception is such a failure (as ``workflows.ports.SlackUnavailable``, with the wait Slack asked for);
``unavailable_as_such`` raises it so, for the notifier's and the directory's calls. The rest (``SlackApiError`` with
``ok: false``: a refusal) is raised as it came.
"""

from __future__ import annotations

import functools
import http.client
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from slack_sdk.errors import SlackApiError

from bot.slack.retries import rate_limited, retry_after
from bot.workflows.ports import SlackUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def unavailable(exc: BaseException) -> SlackUnavailable | None:
    """``exc`` as Slack being unavailable or rate-limiting the bot, or ``None`` when it is something else."""
    if isinstance(exc, SlackUnavailable):
        return exc
    if isinstance(exc, SlackApiError):
        if rate_limited(exc):
            wait = retry_after(exc.response.headers)
            return SlackUnavailable(f"Slack asked to wait {wait:.0f} s", retry_after=wait)
        if exc.response.status_code >= 500:
            return SlackUnavailable(f"Slack answered {exc.response.status_code}")
        return None
    if isinstance(exc, OSError | http.client.HTTPException):  # urllib's URLError is an OSError
        return SlackUnavailable(type(exc).__name__)
    return None


def unavailable_as_such(call: Callable[P, T]) -> Callable[P, T]:
    """Slack's own failures and its rate limit raised by ``call`` as ``SlackUnavailable``: to be tried again later,
    not a refusal."""

    @functools.wraps(call)
    def tried(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return call(*args, **kwargs)
        except (SlackApiError, OSError, http.client.HTTPException) as exc:
            failed = unavailable(exc)
            if failed is None:
                raise
            raise failed from exc

    return tried
