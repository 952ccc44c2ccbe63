"""
A small, typed client for the parts of Descope's management API this bot needs.

It speaks exactly the wire format of Descope's official SDKs (headers, paths, body
fields; see ``/work/shared/reference/descope.md``) over a synchronous ``httpx.Client``:

* ``impersonate``         ``POST /v1/mgmt/impersonate``       -> the impersonation JWT
* ``stop_impersonation``  ``POST /v1/mgmt/stop/impersonation``
* ``load_user``           ``GET  /v1/mgmt/user?loginId=...``  -> the ``user`` object

Base URL: the explicit argument, else ``$DESCOPE_BASE_URI`` (the SDKs' variable), else
derived from the project ID by ``default_base_url``.

Failures are typed, so callers decide by *kind* rather than by status code:

* DescopeError               anything that went wrong; also an answer we cannot use
  x DescopeRefused           Descope answered 4xx (not 429): a decision, never retried
  x DescopeUnavailable       5xx, 429, timeouts, connection errors, after retries

Every error carries ``status``, ``code`` (Descope's ``errorCode``, e.g. ``E011004``),
``description`` and ``message``; ``str(error)`` is a one-line summary such as
``Descope refused (403 E011004): Impersonator is not allowed to impersonate``.

Retries (``RetryPolicy``): up to ``attempts`` tries in total for the 5xx statuses in
``RETRY_STATUSES``, for 429 and for ``httpx.TransportError``; the wait is
``Retry-After`` when the server sent one (seconds or HTTP-date), else exponential backoff
with full jitter. A ``Retry-After`` longer than ``max_retry_after`` is not waited: the
client gives up at once and hands the delay to the caller as
``DescopeUnavailable.retry_after``, so a scheduler can come back later instead of
blocking a thread. Unlike the official SDKs this retries 429 and network errors too: the
bot must stop sessions on time. Impersonate is not idempotent (each call mints a token),
so it is retried only when the request surely never reached Descope (no connection) or
Descope answered with a retryable status; a timeout or a dropped connection after the
request was sent fails at once, rather than risk minting a second token nobody holds.

Secrets: request bodies (the stop call's body carries a JWT) and headers (the
management key) never reach exceptions or logs, and text taken from a response is
scrubbed of the key and of any JWT this client sent. Retries are logged at WARNING
with the method, the path (no query string: it holds a login ID), the status or
exception class, the attempt number and the delay.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx

__all__ = [
    "RETRY_STATUSES",
    "DescopeClient",
    "DescopeError",
    "DescopeRefused",
    "DescopeUnavailable",
    "RetryPolicy",
    "default_base_url",
]

log = logging.getLogger(__name__)

USER_AGENT: Final = "impersonation-bot/0.1"
DEFAULT_BASE_URL: Final = "https://api.descope.com"
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 524, 530})
# Of those, the answers after which Descope may still have acted (the origin got the request and timed
# out, crashed, or answered something a gateway could not pass on): a call that is not idempotent is not
# retried on them. What stays retryable for it: 429 and 503 (refused, not processed), 521/522/530 (the
# origin was never reached).
_MAYBE_DONE: Final = frozenset({500, 502, 504, 520, 524})
# Transport errors that happen before a request leaves this process: safe to retry any call.
_UNSENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

IMPERSONATE_PATH: Final = "/v1/mgmt/impersonate"
STOP_IMPERSONATION_PATH: Final = "/v1/mgmt/stop/impersonation"
LOAD_USER_PATH: Final = "/v1/mgmt/user"

_MAX_TEXT: Final = 200
_REDACTED: Final = "[redacted]"


def default_base_url(project_id: str) -> str:
    """The API base URL the official SDKs derive from a project ID (regional for long IDs)."""
    if len(project_id) >= 32:
        return f"https://api.{project_id[1:5]}.descope.com"
    return DEFAULT_BASE_URL


# --- errors ------------------------------------------------------------------------------------


class DescopeError(Exception):
    """Base of all errors from this client; raised as-is for answers we cannot use."""

    label = "Descope error"

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.message = message

    def __str__(self) -> str:
        tags = " ".join(part for part in (_str_or_none(self.status), self.code) if part)
        text = f"{self.label} ({tags})" if tags else self.label
        text = f"{text}: {self.description}"
        if self.message and self.message != self.description:
            text = f"{text} ({self.message})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class DescopeRefused(DescopeError):
    """Descope answered with a 4xx other than 429: no permission, no consent, unknown user,
    wrong tenant, bad request. Retrying the same call will not help."""

    label = "Descope refused"


class DescopeUnavailable(DescopeError):
    """Descope could not be reached or was overloaded (5xx, 429, timeouts, connection errors)
    and retries were exhausted or the server asked to wait longer than we are willing to.

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one. ``maybe_done`` is true
    when the request may have reached Descope and been acted on before the answer was lost (a timeout,
    a dropped connection, a 500/502/504 …).
    """

    label = "Descope unavailable"

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        attempts: int | None = None,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(description, status=status, code=code, message=message)
        self.retry_after = retry_after
        self.attempts = attempts
        self.maybe_done = maybe_done

    def __str__(self) -> str:
        text = super().__str__()
        notes = []
        if self.attempts is not None:
            notes.append(f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}")
        if self.retry_after is not None:
            notes.append(f"retry after {self.retry_after:g}s")
        return f"{text} [{', '.join(notes)}]" if notes else text


def _str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)


# --- retry policy --------------------------------------------------------------------------------


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

    def backoff(self, retry: int) -> float:
        """Full-jitter exponential backoff before retry number ``retry`` (0 for the first)."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


DEFAULT_RETRY: Final = RetryPolicy()


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


# --- the client ----------------------------------------------------------------------------------


class DescopeClient:
    """Management API client. Thread-safe (one shared ``httpx.Client``); close it when done."""

    def __init__(
        self,
        project_id: str,
        management_key: str,
        base_url: str | None = None,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not project_id:
            raise ValueError("a Descope project ID is required")
        if not management_key:
            raise ValueError("a Descope management key is required")
        if not base_url:
            base_url = os.environ.get("DESCOPE_BASE_URI") or default_base_url(project_id)
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"Descope base URL must start with https:// or http://: {base_url!r}")

        self.project_id = project_id
        self.base_url = base_url
        self.retry = retry
        self._management_key = management_key
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {project_id}:{management_key}",
                "x-descope-project-id": project_id,
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"DescopeClient(project_id={self.project_id!r}, base_url={self.base_url!r})"

    # -- lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- API

    def impersonate(
        self,
        *,
        login_id: str,
        impersonator_id: str,
        validate_consent: bool,
        refresh_duration: int,
        selected_tenant: str | None = None,
        custom_claims: dict[str, Any] | None = None,
    ) -> str:
        """Mint a refresh JWT that lets ``impersonator_id`` act as ``login_id``.

        ``refresh_duration`` (seconds) bounds the token's own lifetime; 0 means the project's
        default, which is rarely what a time-boxed grant wants.
        """
        if refresh_duration < 0:
            raise ValueError("refresh_duration must not be negative")
        body = {
            "loginId": login_id,
            "impersonatorId": impersonator_id,
            "validateConsent": validate_consent,
            "customClaims": custom_claims,
            "selectedTenant": selected_tenant,
            "refreshDuration": refresh_duration,
            "stepup": None,
        }
        answer = self._call("POST", IMPERSONATE_PATH, json=body, idempotent=False)
        jwt = answer.get("jwt")
        if not isinstance(jwt, str) or not jwt:
            raise DescopeError("impersonate answered without a jwt", status=200)
        return jwt

    def stop_impersonation(self, jwt: str) -> None:
        """End an impersonation. Descope answers with the original actor's JWT; we drop it."""
        body = {"jwt": jwt, "customClaims": None, "selectedTenant": None, "refreshDuration": None}
        self._call("POST", STOP_IMPERSONATION_PATH, json=body, secrets=(jwt,), parse=False)

    def load_user(self, login_id: str) -> dict[str, Any]:
        """The ``user`` object (``userId``, ``loginIds``, ``email``, ``status``, ``userTenants`` …)."""
        answer = self._call("GET", LOAD_USER_PATH, params={"loginId": login_id})
        user = answer.get("user")
        if not isinstance(user, dict):
            raise DescopeError("user lookup answered without a user object", status=200)
        return user

    # -- machinery

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
        parse: bool = True,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One logical call with retries; returns the JSON object of a 2xx answer (``{}`` unless
        ``parse``). ``secrets`` are scrubbed, with the management key, from any error text.
        A call that is not ``idempotent`` is not retried after a transport error that may have
        come after Descope received it (only connection failures are)."""
        secrets = (self._management_key, *secrets)
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            last = attempt == policy.attempts
            try:
                response = self._http.request(method, path, json=json, params=params)
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
            if response.is_success:
                return _json_object(response, secrets) if parse else {}
            if status in RETRY_STATUSES and (idempotent or status not in _MAYBE_DONE):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                too_long = retry_after is not None and retry_after > policy.max_retry_after
                if last or too_long:  # a long Retry-After is the caller's to wait, not a thread's
                    raise _error(
                        DescopeUnavailable, response, secrets, retry_after=retry_after, attempts=attempt
                    )
                delay = retry_after if retry_after is not None else policy.backoff(attempt - 1)
                self._log_retry(method, path, str(status), attempt, delay)
                self._sleep(delay)
                continue
            if 400 <= status < 500:
                raise _error(DescopeRefused, response, secrets)
            if status >= 500:  # not retried (501, 505, … or, for a non-idempotent call, _MAYBE_DONE)
                raise _error(DescopeUnavailable, response, secrets, attempts=attempt, maybe_done=status in _MAYBE_DONE)
            raise _error(DescopeError, response, secrets)  # 1xx/3xx: nothing we can use
        raise AssertionError("unreachable: the loop always returns or raises")  # pragma: no cover

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


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _json_object(response: httpx.Response, secrets: Iterable[str]) -> dict[str, Any]:
    if not response.content.strip():
        return {}
    try:
        data = response.json()
    except ValueError as exc:
        raise DescopeError(
            f"answer is not JSON: {_scrub(response.text[:_MAX_TEXT], secrets)!r}",
            status=response.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise DescopeError(
            f"answer is not a JSON object but {type(data).__name__}", status=response.status_code
        )
    return data


_E = TypeVar("_E", bound=DescopeError)


def _error(kind: type[_E], response: httpx.Response, secrets: Iterable[str], **extra: Any) -> _E:
    """Build ``kind`` from Descope's ``{"errorCode", "errorDescription", "errorMessage"}``;
    tolerate any other body (first 200 characters, or the reason phrase)."""
    secrets = tuple(secrets)
    code = description = message = None
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = _opt_str(data.get("errorCode"))
        description = _opt_str(data.get("errorDescription"))
        message = _opt_str(data.get("errorMessage"))
    if not description:
        description = message or " ".join(response.text[:_MAX_TEXT].split())
        if description == message:
            message = None
    if not description:
        description = response.reason_phrase or "no details"
    return kind(
        _scrub(description, secrets),
        status=response.status_code,
        code=_scrub(code, secrets) if code else None,
        message=_scrub(message, secrets) if message else None,
        **extra,
    )


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
