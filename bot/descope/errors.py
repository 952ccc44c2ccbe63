"""
Failures of the Descope client, typed so callers decide by *kind* rather than by status code:

* DescopeError               anything that went wrong; also an answer we cannot use
  x DescopeRefused           Descope answered 4xx (not 429): a decision, never retried; ``meaning()`` says which
                             (``Refusal``: the management key, no permission, no consent, unknown user, tenant …)
  x DescopeUnavailable       5xx, 429, timeouts, connection errors, after retries

Every error carries ``status``, ``code`` (Descope's ``errorCode``, e.g. ``E011004``),
``description`` and ``message``; ``str(error)`` is a one-line summary such as
``Descope refused (403 E011004): Impersonator is not allowed to impersonate``.

Secrets: request bodies (the stop call's body carries a JWT) and headers (the
management key) never reach exceptions, and text taken from a response is
scrubbed of the key and of any JWT the client sent (``_scrub``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Final, TypeVar

import httpx

from bot.transport.retry_after import whole_seconds

__all__ = ["USER_NOT_FOUND", "DescopeError", "DescopeRefused", "DescopeUnavailable", "Refusal"]

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


class Refusal(enum.StrEnum):
    """What a refusal means, for the caller to act on (``DescopeRefused.meaning``)."""

    MANAGEMENT_KEY = "management_key"  # 401: Descope did not accept the bot's management key
    NO_PERMISSION = "no_permission"  # 403: the impersonator lacks the Impersonate permission
    NO_CONSENT = "no_consent"  # the target has not consented to being impersonated
    UNKNOWN_USER = "unknown_user"  # no user with that login ID (``USER_NOT_FOUND``)
    NOT_IN_TENANT = "not_in_tenant"  # the user is not in the tenant the call named
    BAD_TENANT = "bad_tenant"  # a tenant problem, though the call named none
    REFUSED = "refused"  # anything else: Descope's own description is all there is


#: Descope's ``errorCode`` for a login ID no user has.
USER_NOT_FOUND: Final = "E112102"
#: Descope's ``errorCode``s for a refresh token that no longer works: revoked by a logout, expired.
TOKEN_DEAD: Final = frozenset({"E064001", "E061005"})


class DescopeRefused(DescopeError):
    """Descope answered with a 4xx other than 429: no permission, no consent, unknown user,
    wrong tenant, bad request. Retrying the same call will not help."""

    label = "Descope refused"

    @property
    def user_not_found(self) -> bool:
        return self.code == USER_NOT_FOUND or self.status == 404

    @property
    def refused_us(self) -> bool:
        """Descope refused the bot itself (401: its management key; 403: its rights), not what the call named: a
        rotated or under-privileged key, after which the thing asked about may still be as it was."""
        return self.status in (401, 403)

    @property
    def token_dead(self) -> bool:
        """The refresh token the call carried no longer works at Descope (``TOKEN_DEAD``)."""
        return self.code in TOKEN_DEAD

    def meaning(self, *, tenant_named: bool = False) -> Refusal:
        """What the refusal means, by its status, code and words (``tenant_named``: the call named a tenant)."""
        said = " ".join(part for part in (self.description, self.message) if part).lower()
        if self.status == 401:
            return Refusal.MANAGEMENT_KEY
        if self.status == 403 or "not allowed" in said or "permission" in said:
            return Refusal.NO_PERMISSION
        if "consent" in said:
            return Refusal.NO_CONSENT
        if self.user_not_found or "not found" in said or "no such user" in said:
            return Refusal.UNKNOWN_USER
        if "tenant" in said:
            return Refusal.NOT_IN_TENANT if tenant_named else Refusal.BAD_TENANT
        return Refusal.REFUSED


class DescopeUnavailable(DescopeError):
    """Descope could not be reached or was overloaded (5xx, 429, timeouts, connection errors)
    and retries were exhausted or the server asked to wait longer than we are willing to.

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one (for a call held at the gate, the wait
    for its turn there; when ``booked``, for the turn booked for it). ``maybe_done`` is true
    when the request may have reached Descope and been acted on before the answer was lost (a timeout,
    a dropped connection, a 500/502/504 …). ``booked``: a call put off by Descope's rate limit whose turn, in
    ``retry_after`` seconds, is kept for it (made again then, it goes without queueing: ``transport.gate``).
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
        booked: bool = False,
    ) -> None:
        super().__init__(description, status=status, code=code, message=message)
        self.retry_after = retry_after
        self.attempts = attempts
        self.maybe_done = maybe_done
        self.booked = booked

    def __str__(self) -> str:
        text = super().__str__()
        notes = []
        if self.attempts is not None:
            notes.append(f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}")
        if self.retry_after is not None:
            notes.append(f"retry after {whole_seconds(self.retry_after)}s")
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
