"""
When and how long the Descope client retries.

Retries (``RetryPolicy``): up to ``attempts`` tries in total for the 5xx statuses in
``RETRY_STATUSES``, for 429 and for ``httpx.TransportError``; the wait is
``Retry-After`` when the server sent one (seconds or HTTP-date), else exponential backoff
with full jitter; a 429's is the call's turn at its path (``bot.transport.gate``: at least a
second). A ``Retry-After`` longer than ``max_retry_after`` is not waited: the
client gives up at once and hands the delay to the caller as
``DescopeUnavailable.retry_after``, so a scheduler can come back later instead of
blocking a thread. Unlike the official SDKs this retries 429 and network errors too: the
bot must stop sessions on time. Impersonate is not idempotent (each call mints a token),
so it is retried only when the request surely never reached Descope (no connection) or
Descope answered with a retryable status; a timeout or a dropped connection after the
request was sent fails at once, rather than risk minting a second token nobody holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

import httpx

from bot.transport.retry_after import parse_retry_after

__all__ = ["DEFAULT_RETRY", "RETRY_STATUSES", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524, 530})
# Of those, the answers after which Descope may still have acted (the origin got the request and timed
# out, crashed, or answered something a gateway could not pass on): a call that is not idempotent is not
# retried on them. What stays retryable for it: 429 and 503 (refused, not processed), 521/522/530 (the
# origin was never reached).
_MAYBE_DONE: Final = frozenset({500, 502, 504, 520, 524})
# Transport errors that happen before a request leaves this process: safe to retry any call.
_UNSENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``attempts`` counts all tries, the first included."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def longest(self, timeout: float) -> float:
        """The most seconds one logical call can take, every try timing out after ``timeout`` and every wait the
        longest allowed: the bound on when Descope may still act on a call sent now."""
        return self.attempts * timeout + (self.attempts - 1) * max(self.max_retry_after, self.max_delay)

    def backoff(self, retry: int) -> float:
        """Full-jitter exponential backoff before retry number ``retry`` (0 for the first)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


DEFAULT_RETRY: Final = RetryPolicy()
