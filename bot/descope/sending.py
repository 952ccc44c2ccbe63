"""One logical call to Descope (``Sender.send``): its turn at the rate-limit gate (``bot.transport.gate``), its attempts
and their retries (``bot.descope.retry``), and its answer or the typed error (``bot.descope.errors``). The client
(``bot.descope.client``) names the calls and reads their answers; this module makes them.

A 429 holds the path for every call that shares the client's turns; a wait longer than the call's ``patience`` is the
caller's (``DescopeUnavailable`` with the wait), its turn booked when the caller names itself (``booking``). A call
that may have been acted on is never sent twice unless it is idempotent. Retries are logged at WARNING (logger
``bot.descope``) with the method, the path (no query string: it holds a login ID), the status or exception class,
the attempt number and the delay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

import httpx

from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable, _error, _scrub
from bot.descope.exchange import Exchange
from bot.descope.retry import _MAYBE_DONE, _UNSENT, RETRY_STATUSES, RetryPolicy, parse_retry_after
from bot.transport.gate import Gate

log = logging.getLogger("bot.descope")  # the client's name when it was one module: log configs rely on it

#: The name of the call being made (``DescopeClient._counted``), for what a 429 is counted against.
CALLING: ContextVar[str] = ContextVar("descope_call", default="other")


class Sender:
    """Makes the calls on ``exchange``, taking turns at ``gate``, retrying by ``retry`` (sleeping with ``sleep``);
    ``on_limited`` is told the call's name (``CALLING``) at each 429 Descope answers."""

    def __init__(self, exchange: Exchange, gate: Gate, retry: RetryPolicy, management_key: str, *,
                 sleep: Callable[[float], None], on_limited: Callable[[str], None] | None = None) -> None:
        self.retry = retry
        self._exchange = exchange
        self._gate = gate
        self._management_key = management_key
        self._sleep = sleep
        self._on_limited = on_limited

    def send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        idempotent: bool = True,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        patience: float | None = None,
        booking: str | None = None,
    ) -> httpx.Response:
        """One logical call: its turn at the gate, its attempts and their retries; the 2xx response itself (its
        cookies: the step-up's refresh JWT), else the typed error. ``secrets`` are scrubbed, with the management key,
        from any error text. A call that is not ``idempotent`` is not retried after a transport error that may have
        come after Descope received it (only connection failures are). ``headers`` override the client's own; a
        ``timeout`` makes it a single attempt bounded by that many seconds. ``patience``: the longest wait for
        Descope's rate limit (a 429's ``Retry-After``, the path's turn) done here, instead of ``max_retry_after``;
        ``booking``: the caller's name, for a longer wait to book its turn (``transport.gate``)."""
        secrets = (self._management_key, *secrets)
        policy = self.retry
        attempts = 1 if timeout is not None else policy.attempts
        patience = 0.0 if timeout is not None else policy.max_retry_after if patience is None else patience
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            # its turn at a path Descope rate-limited: waited here, unless it is far off (or the call answers Slack)
            if self._gate.turn(path, at_most=patience, who=booking) is None:  # (booked for ``booking``, if named)
                booked = self._booked(path, booking, book=False)
                raise DescopeUnavailable(f"{path} is rate-limited: Descope asked to wait", attempts=attempt - 1,
                                         retry_after=self._gate.left(path) if booked is None else booked,
                                         status=429, booked=booked is not None)
            try:
                response = self._exchange.send(method, path, params, json, headers, timeout)
            except httpx.UnsupportedProtocol as exc:  # misconfiguration: retrying cannot help
                raise DescopeError(f"{type(exc).__name__}: {_scrub(str(exc), secrets)}") from exc
            except httpx.TransportError as exc:
                what = f"{type(exc).__name__}: {_scrub(str(exc), secrets)}".rstrip(": ")
                sent = not isinstance(exc, _UNSENT)
                if last or (sent and not idempotent):
                    raise DescopeUnavailable(what, attempts=attempt, maybe_done=sent) from exc
                delay = policy.backoff(attempt - 1)
                self._log_retry(method, path, type(exc).__name__, attempt, delay)
                self._sleep(delay)
                continue
            except httpx.HTTPError as exc:  # e.g. DecodingError: a broken answer, not an outage
                raise DescopeError(f"{type(exc).__name__}: {_scrub(str(exc), secrets)}") from exc

            status = response.status_code
            if status < 500 and status != 429:  # answered (a refusal too): what the rate limit let through
                self._gate.passed(path)
            if response.is_success:
                return response
            if status in RETRY_STATUSES and (idempotent or status not in _MAYBE_DONE):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status == 429:  # this call and every other to the path wait their turns (the next loop's)
                    retry_after = self._gate.refused(path, retry_after)
                    if self._on_limited is not None:
                        self._on_limited(CALLING.get())
                too_long = retry_after is not None and retry_after > (
                    patience if status == 429 else policy.max_retry_after)
                if last or too_long:  # a long Retry-After is the caller's to wait, not a thread's
                    booked = self._booked(path, booking, book=True) if too_long and status == 429 else None
                    raise _error(DescopeUnavailable, response, secrets, attempts=attempt, booked=booked is not None,
                                 retry_after=retry_after if booked is None else booked)
                delay = retry_after if retry_after is not None else policy.backoff(attempt - 1)
                self._log_retry(method, path, str(status), attempt, delay)
                if status != 429:
                    self._sleep(delay)
                continue
            if 400 <= status < 500:
                raise _error(DescopeRefused, response, secrets)
            if status >= 500:  # not retried (501, 505, … or, for a non-idempotent call, _MAYBE_DONE)
                raise _error(DescopeUnavailable, response, secrets, attempts=attempt, maybe_done=status in _MAYBE_DONE)
            raise _error(DescopeError, response, secrets)  # 1xx/3xx: nothing we can use
        raise AssertionError("unreachable: the loop always returns or raises")  # pragma: no cover

    def _booked(self, path: str, booking: str | None, *, book: bool) -> float | None:
        """The seconds until ``booking``'s turn at ``path``, booked now (``book``) or by ``Gate.turn``; ``None``: the
        caller named none, or the gate had no place free (said in the log: it comes back unbooked, spread)."""
        if booking is None:
            return None
        booked = self._gate.book(path, booking) if book else self._gate.booked(path, booking)
        if booked is None:
            log.warning("Descope's rate limit on %s: no place free to book %s's turn; it waits unbooked", path, booking)
        return booked

    def _log_retry(self, method: str, path: str, what: str, attempt: int, delay: float) -> None:
        log.warning(
            "Descope %s %s failed (%s) on attempt %d/%d; retrying in %.2fs",
            method,
            path,
            what,
            attempt,
            self.retry.attempts,
            delay,
        )
