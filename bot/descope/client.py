"""
The Descope management API client: the HTTP calls this bot needs.

It speaks exactly the wire format of Descope's official SDKs (their headers, paths and body fields) with httpx: the
requests a synchronous ``httpx.Client`` builds, handed to its transport directly (``exchange.Exchange``):

* ``impersonate``         ``POST /v1/mgmt/impersonate``       -> the impersonation JWT
* ``stop_impersonation``  ``POST /v1/mgmt/stop/impersonation``  (ends the impersonation; revokes nothing)
* ``logout``              ``POST /v1/auth/logout``              (revokes a refresh JWT, authenticated by it)
* ``refresh``             ``POST /v1/auth/refresh``             (whether a refresh JWT still works; the answer dropped)
* ``load_user``           ``GET  /v1/mgmt/user?loginId=...``  -> the ``user`` object, read (``users.User``)
* ``send_email_code``, ``prove``   a second factor, verified at Descope and checked here (``stepup``)
* ``search_audit``        ``POST /v1/mgmt/audit/search``         -> Descope's audit records (``audit``: paged)

Base URL: the argument (``DESCOPE_BASE_URI``, the SDKs' variable, read by ``bot.config``), else derived from the
project ID by ``default_base_url``.

Failures raise the typed errors of ``bot.descope.errors``; retries follow ``bot.descope.retry``; a 429 holds the path
for every call that shares the client's turns (``bot.transport.gate``).
Secrets: request bodies and headers (the management key) never reach exceptions or logs.
Retries are logged at WARNING (logger ``bot.descope``) with the method, the path (no query
string: it holds a login ID), the status or exception class, the attempt number and the delay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import httpx

from bot.descope.audit import AUDIT_SEARCH_PATH, AuditRecord, search
from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable, _error, _json_object, _scrub
from bot.descope.exchange import Exchange
from bot.descope.retry import _MAYBE_DONE, _UNSENT, DEFAULT_RETRY, RETRY_STATUSES, RetryPolicy, parse_retry_after
from bot.descope.stepup import StepUp
from bot.descope.users import User, user_of
from bot.transport.gate import Board, Gate
from bot.transport.httpx_kept import KeptConnections

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "USER_AGENT", "DescopeClient", "default_base_url"]

log = logging.getLogger("bot.descope")  # the name it had as one module: log configs and filters rely on it

USER_AGENT: Final = "impersonation-bot/0.1"
DEFAULT_BASE_URL: Final = "https://api.descope.com"
DEFAULT_TIMEOUT: Final = 10.0  # seconds per try

#: The name of the call being made (``_counted``), for what a 429 is counted against.
_CALLING: ContextVar[str] = ContextVar("descope_call", default="other")

IMPERSONATE_PATH: Final = "/v1/mgmt/impersonate"
#: The longest wait for Descope's rate limit the impersonate call does in its thread (seconds): a longer one is the
#: caller's, who puts the activation off (``workflows.sessions``) until the turn booked for it (``booking``), so that a
#: queue of approvals behind the limit holds no worker thread while a session's stop may wait for one.
IMPERSONATE_PATIENCE: Final = 1.0  # (below the gate's spacing when nothing passed: after a 429, a put-off)
STOP_IMPERSONATION_PATH: Final = "/v1/mgmt/stop/impersonation"
LOAD_USER_PATH: Final = "/v1/mgmt/user"
LOGOUT_PATH: Final = "/v1/auth/logout"
REFRESH_PATH: Final = "/v1/auth/refresh"


def default_base_url(project_id: str) -> str:
    """The API base URL the official SDKs derive from a project ID (regional for long IDs)."""
    if len(project_id) >= 32:
        return f"https://api.{project_id[1:5]}.descope.com"
    return DEFAULT_BASE_URL


class DescopeClient:
    """Management API client. Thread-safe (one shared ``httpx.Client``); close it when done."""

    def __init__(
        self,
        project_id: str,
        management_key: str,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_call: Callable[[str, str], None] | None = None,
        on_limited: Callable[[str], None] | None = None,
        keep_alive: bool = True,
        gate: Board | None = None,
    ) -> None:
        if not project_id:
            raise ValueError("a Descope project ID is required")
        if not management_key:
            raise ValueError("a Descope management key is required")
        if not base_url:
            base_url = default_base_url(project_id)
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"Descope base URL must start with https:// or http://: {base_url!r}")

        self.project_id = project_id
        self.base_url = base_url
        self.retry = retry
        self._management_key = management_key
        self._sleep = sleep
        self._on_call = on_call  # told (call, result) once per API call: bot.server.metrics counts them
        self._on_limited = on_limited  # told (call) at each 429 Descope answers
        self._gate = Gate(sleep=sleep, board=gate)  # a 429 on a path holds every call to it (``gate``: in every
        # process that shares that board; by default in this process)
        self.stepup = StepUp(self)  # the authentication calls a second factor needs, and Descope's key set
        if transport is None and keep_alive:
            transport = KeptConnections()  # else (a proxy: ``Settings.proxied``) httpx's own transport, which reads it
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {project_id}:{management_key}",
            "x-descope-project-id": project_id,
            "User-Agent": USER_AGENT,
        }
        self._exchange = Exchange(base_url, headers, timeout, transport)

    def __repr__(self) -> str:
        return f"DescopeClient(project_id={self.project_id!r}, base_url={self.base_url!r})"

    # -- lifecycle

    def close(self) -> None:
        self._exchange.close()

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
        booking: str | None = None,
    ) -> str:
        """Mint a refresh JWT that lets ``impersonator_id`` act as ``login_id``.

        ``refresh_duration`` (seconds) bounds the token's own lifetime; 0 means the project's
        default, which is rarely what a time-boxed grant wants. ``booking``: the caller's name at the gate (a request
        ID): a turn at Descope's rate limit further off than ``IMPERSONATE_PATIENCE`` is booked for it
        (``DescopeUnavailable.booked``), and taken when it calls again.
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
        with self._counted("impersonate"):
            answer = self._call("POST", IMPERSONATE_PATH, json=body, idempotent=False,
                                patience=IMPERSONATE_PATIENCE, booking=booking)
        jwt = answer.get("jwt")
        if not isinstance(jwt, str) or not jwt:
            raise DescopeError("impersonate answered without a jwt", status=200)
        return jwt

    def stop_impersonation(self, jwt: str) -> None:
        """End an impersonation. Descope answers with the original actor's JWT; we drop it."""
        body = {"jwt": jwt, "customClaims": None, "selectedTenant": None, "refreshDuration": None}
        with self._counted("stop"):
            self._call("POST", STOP_IMPERSONATION_PATH, json=body, secrets=(jwt,), parse=False)

    def logout(self, refresh_jwt: str) -> None:
        """Revoke a refresh JWT (what the SDKs' ``logout(refresh_token)`` sends: body ``{}``, the token itself
        as the bearer). Session JWTs already derived from it live until their own expiry."""
        with self._counted("logout"):
            self._call("POST", LOGOUT_PATH, json={}, secrets=(refresh_jwt,), parse=False,
                       headers={"Authorization": f"Bearer {self.project_id}:{refresh_jwt}"})

    def refresh(self, refresh_jwt: str) -> str | None:
        """Refresh with a refresh JWT (the SDKs' ``refresh_session``): returns when Descope still accepts it, raises
        ``DescopeRefused`` when it does not (revoked, expired). This is how the bot asks whether a revocation it
        could not confirm took effect: the session JWT answered is dropped unread; a new refresh JWT (a project that
        rotates them) is answered, for the caller to revoke too."""
        with self._counted("refresh"):
            answer = self._call("POST", REFRESH_PATH, json={}, secrets=(refresh_jwt,),
                                headers={"Authorization": f"Bearer {self.project_id}:{refresh_jwt}"})
        rotated = answer.get("refreshJwt")
        return rotated if isinstance(rotated, str) and rotated and rotated != refresh_jwt else None

    def load_user(self, login_id: str, *, timeout: float | None = None) -> User:
        """The user (name, status, tenants: ``users.User``). With ``timeout``: one attempt, answered or abandoned
        within that many seconds (a check that must not hold anyone up)."""
        with self._counted("load_user"):
            answer = self._call("GET", LOAD_USER_PATH, params={"loginId": login_id}, timeout=timeout)
        user = answer.get("user")
        if not isinstance(user, dict):
            raise DescopeError("user lookup answered without a user object", status=200)
        return user_of(user)

    def search_audit(self, actions: Sequence[str], since: datetime, until: datetime, *,
                     methods: Sequence[str] | None = None) -> list[AuditRecord]:
        """Descope's audit records of ``actions`` (by ``methods``, when given) between two moments (``audit.search``:
        paged)."""
        def call(body: dict[str, Any]) -> dict[str, Any]:
            with self._counted("audit_search"):
                return self._call("POST", AUDIT_SEARCH_PATH, json=body)
        return search(call, actions, since, until, methods=methods)

    def send_email_code(self, login_id: str) -> str:
        """The step-up by email: Descope mails ``login_id`` a code (``stepup.StepUp.send_email_code``)."""
        return self.stepup.send_email_code(login_id)

    def prove(self, method: str, login_id: str, code: str) -> None:
        """``login_id`` proves themselves with ``code`` (``stepup.StepUp.prove``)."""
        self.stepup.prove(method, login_id, code)

    # -- machinery

    @contextmanager
    def _counted(self, call: str) -> Iterator[None]:
        """Tell ``on_call`` how the call ended: ok, refused (4xx), unavailable (outage) or error (and ``on_limited``,
        within it, of each 429 by the call's name)."""
        named = _CALLING.set(call)
        result = "error"
        try:
            yield
            result = "ok"
        except DescopeRefused:
            result = "refused"
            raise
        except DescopeUnavailable:
            result = "unavailable"
            raise
        finally:
            _CALLING.reset(named)
            if self._on_call is not None:
                self._on_call(call, result)

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
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        patience: float | None = None,
        booking: str | None = None,
    ) -> dict[str, Any]:
        """One logical call with retries; returns the JSON object of a 2xx answer (``{}`` unless
        ``parse``). ``secrets`` are scrubbed, with the management key, from any error text.
        A call that is not ``idempotent`` is not retried after a transport error that may have
        come after Descope received it (only connection failures are). ``headers`` override the
        client's own; a ``timeout`` makes it a single attempt bounded by that many seconds. ``patience``: the longest
        wait for Descope's rate limit (a 429's ``Retry-After``, the path's turn) done here, instead of
        ``max_retry_after``; ``booking``: the caller's name, for a longer wait to book its turn (``transport.gate``)."""
        secrets = (self._management_key, *secrets)
        response = self._send(method, path, json=json, params=params, secrets=secrets, idempotent=idempotent,
                              headers=headers, timeout=timeout, patience=patience, booking=booking)
        return _json_object(response, secrets) if parse else {}

    def _send(
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
        """``_call``'s retries, answering the 2xx response itself (its cookies, for the step-up's refresh JWT)."""
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
                        self._on_limited(_CALLING.get())
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
