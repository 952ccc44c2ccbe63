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

Each call is made by ``bot.descope.sending`` (its turn at the rate-limit gate, its retries, the typed errors of
``bot.descope.errors``). Secrets: request bodies and headers (the management key) never reach exceptions or logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

import httpx

from bot.descope.audit import AUDIT_SEARCH_PATH, AuditRecord, search
from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable, _json_object
from bot.descope.exchange import Exchange
from bot.descope.retry import DEFAULT_RETRY, RetryPolicy
from bot.descope.sending import CALLING, Sender
from bot.descope.stepup import StepUp
from bot.descope.users import User, user_of
from bot.transport.board import Board
from bot.transport.gate import Gate
from bot.transport.httpx_kept import KeptConnections

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "USER_AGENT", "DescopeClient", "default_base_url"]

USER_AGENT: Final = "impersonation-bot/0.1"
DEFAULT_BASE_URL: Final = "https://api.descope.com"
DEFAULT_TIMEOUT: Final = 10.0  # seconds per try

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
        self._management_key = management_key
        self._on_call = on_call  # told (call, result) once per API call: bot.server.metrics counts them
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
        # A 429 on a path holds every call to it (``gate``: in every process that shares that board; by default in
        # this process); ``on_limited`` is told (call) at each 429 Descope answers.
        self.sender = Sender(self._exchange, Gate(sleep=sleep, board=gate), retry, management_key, sleep=sleep,
                             on_limited=on_limited)

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
        named = CALLING.set(call)
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
            CALLING.reset(named)
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
        """One logical call (``sending.Sender.send``: its turn, its retries, the arguments); returns the JSON object of
        a 2xx answer (``{}`` unless ``parse``)."""
        secrets = (self._management_key, *secrets)
        response = self.sender.send(method, path, json=json, params=params, secrets=secrets, idempotent=idempotent,
                                    headers=headers, timeout=timeout, patience=patience, booking=booking)
        return _json_object(response, secrets) if parse else {}
