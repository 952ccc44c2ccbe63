"""
Failures of the Descope client, typed so callers decide by *kind* rather than by status code:

* DescopeError               anything that went wrong; also an answer we cannot use
  x DescopeRefused           Descope answered 4xx (not 429): a decision, never retried
  x DescopeUnavailable       5xx, 429, timeouts, connection errors, after retries

Every error carries ``status``, ``code`` (Descope's ``errorCode``, e.g. ``E011004``),
``description`` and ``message``; ``str(error)`` is a one-line summary such as
``Descope refused (403 E011004): Impersonator is not allowed to impersonate``.

Secrets: request bodies (the stop call's body carries a JWT) and headers (the
management key) never reach exceptions, and text taken from a response is
scrubbed of the key and of any JWT the client sent (``_scrub``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, TypeVar

import httpx

__all__ = ["DescopeError", "DescopeRefused", "DescopeUnavailable"]

_MAX_TEXT: Final = 200
_REDACTED: Final = "[redacted]"


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


# --- building errors from answers ----------------------------------------------------------------


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
