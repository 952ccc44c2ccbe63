"""What the bot's Slack calls retry, and how long they wait: the retry handlers the Web API client
(``bot.slack.client``) and the replies to a ``response_url`` (``bot.slack.reply``) share, and how a 429's wait is read.

slack-sdk retries only one connection error by default; the bot also retries rate limits (honouring ``Retry-After``: a
short one waited out in the thread, a longer one handed to the caller, ``IN_THREAD_WAIT``) and Slack's 5xx answers, so
a busy workspace delays a message instead of losing it; a post is never sent again after Slack may have acted on it
(``CREATING``, or what a handler is told counts as creating): a retried post is never posted twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.transport.retry_after import parse_retry_after
from bot.transport.urllib_kept import creates


def unheard(name: str) -> logging.Logger:
    """A logger for slack-sdk that logs nowhere, and above every level, so that slack-sdk does not even build its
    debug lines (it asks its logger's own level)."""
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.CRITICAL + 1)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


# CREATING: Web API methods that create something each time they are called. Sent again after Slack may have acted on
# them (an answer that never came back, a 500, 502 or 504), they could post twice: those are not retried here (the
# bot's Slack sync comes back to what did not get through). A 429 or 503 (Slack acted on nothing) and a failure to
# connect or send are.


class SentOnceConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """slack-sdk's, but a call that creates (``CREATING``, or whatever ``creating`` says) is retried only when it never
    reached Slack: a ``URLError`` (the transport's failure to connect or send: ``bot.transport.urllib_kept``), not a
    connection that broke while the answer was awaited."""

    def __init__(self, max_retry_count: int = 1, *, creating: Callable[[str], bool] = creates) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.creating = creating

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if self.creating(request.url) and not isinstance(error, URLError):
            return False
        return bool(super()._can_retry(state=state, request=request, response=response, error=error))


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's handler retries only 500 and 503; a 502 or 504 from Slack's edge is as transient. A call that
    creates (``CREATING``, or whatever ``creating`` says) only on 503 (refused unprocessed): after a 500, 502 or 504
    Slack may have posted."""

    def __init__(self, max_retry_count: int = 1, *, creating: Callable[[str], bool] = creates) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.creating = creating

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code < 500:
            return False
        return response.status_code == 503 or not self.creating(request.url)


#: The longest ``Retry-After`` a call waits out in its own thread (slack-sdk's handler sleeps that, and up to a second
#: more, per retry): a longer one is the caller's to wait (``notifier``: ``SlackUnavailable``), so that a worker thread
#: is never held for long by Slack's rate limit while a session's stop waits for it.
IN_THREAD_WAIT = 1
LONGEST_RETRY_AFTER = 300.0  # seconds: a longer Retry-After (a proxy's, a typo) is taken as this


def retry_after(headers: Mapping[str, Any]) -> float:
    """A 429's ``Retry-After`` (seconds, at most ``LONGEST_RETRY_AFTER``; 1 when Slack sent none, or nothing
    ``parse_retry_after`` reads), from slack-sdk's headers (a value may be a list of them)."""
    value = next((found for name, found in headers.items() if name.lower() == "retry-after"), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    seconds = parse_retry_after(None if value is None else str(value))
    return 1.0 if seconds is None else min(seconds, LONGEST_RETRY_AFTER)


def rate_limited(exc: SlackApiError) -> bool:
    """Whether Slack's error answer is its rate limit (a 429, or ``ratelimited`` however it came)."""
    return bool(exc.response.status_code == 429 or exc.response.get("error") == "ratelimited")


class BriefRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack-sdk's, but only a ``Retry-After`` of at most ``longest`` (``IN_THREAD_WAIT``) is waited out here, read as
    ``retry_after`` reads it (slack-sdk's own sleep takes only a whole number: "0.5" or a date raised)."""

    def __init__(self, max_retry_count: int = 1, *, longest: float = IN_THREAD_WAIT) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.longest = longest

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429 and retry_after(response.headers) <= self.longest

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        if response is None:  # as slack-sdk's: only an answer is waited out
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        time.sleep(retry_after(response.headers) + random.random())  # as slack-sdk's: spread by up to a second
        state.increment_current_attempt()


#: Retry handlers that never retry a 200 (slack-sdk's built-in ones and the bot's, by their exact class: a subclass may
#: retry what it likes): with only these, a 200 is the answer without asking them.
ERRORS_ONLY = frozenset({ConnectionErrorRetryHandler, RateLimitErrorRetryHandler, ServerErrorRetryHandler,
                         SentOnceConnectionErrorRetryHandler, AnyServerErrorRetryHandler, BriefRateLimitRetryHandler})


def handlers(*, creating: Callable[[str], bool] = creates, in_thread: float = IN_THREAD_WAIT) -> list[RetryHandler]:
    """The retry handlers of a Slack call: a connection error twice (for what ``creating`` says creates, only one
    that never reached Slack), a 429 of at most ``in_thread`` seconds three times, a 5xx twice (for what creates, a 503
    alone)."""
    return [SentOnceConnectionErrorRetryHandler(max_retry_count=2, creating=creating),
            BriefRateLimitRetryHandler(max_retry_count=3, longest=in_thread),
            AnyServerErrorRetryHandler(max_retry_count=2, creating=creating)]
