"""A fake Descope management and authentication API on 127.0.0.1, for end-to-end tests and the demo.

Point the bot's ``DESCOPE_BASE_URI`` at :attr:`FakeDescope.url`. Implements what the bot uses:
``POST /v1/mgmt/impersonate``, ``POST /v1/mgmt/stop/impersonation``, ``GET /v1/mgmt/user``,
``POST /v2/mgmt/user/search`` and ``POST /v1/mgmt/audit/search`` (management key; the audit search rate limited, over
the trail the fake keeps: its impersonations and step-ups, and the logins a test records); ``POST /v1/auth/refresh``
and ``POST /v1/auth/logout`` (authenticated by the refresh JWT itself); the step-up, ``POST /v1/auth/totp/verify``,
``POST /v1/auth/otp/signin/email`` and ``POST /v1/auth/otp/verify/email`` (``Bearer <projectId>`` alone); and
``GET /v2/keys/<projectId>`` (public). Errors have Descope's shape ``{"errorCode", "errorDescription",
"errorMessage"}``. Impersonation and refresh JWTs are HS256-signed with a random per-instance secret
(:meth:`FakeDescope.verify` checks them; :func:`decode_claims` just decodes); step-up session JWTs are RS256 with
the instance's key. The wire (paths, calls, errors, tokens) is ``descope_wire``; the endpoints are
``descope_endpoints``, ``descope_stepup`` (TOTP, emailed codes, keys, forgeries) and ``descope_audit`` (the audit
trail, its search and its rate limit).

As documented, and as makes the bot's life harder: stop-impersonation revokes nothing (the token still
refreshes afterwards); only logout (or its own ``exp``) ends it, after which refresh answers 401.

Faults (:meth:`FakeDescope.fail_next`, :meth:`FakeDescope.drop_next`) and latency are keyed by path; for the key
set, by its full path (:attr:`FakeDescope.keys_path`) or by ``KEYS`` for any project. Latency is applied after the
call is recorded and before it is processed: a client that times out still leaves the server to finish (and mint)
on its own.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from bot.descope.users import NOBODY

from ._base import FakeServer, Request, Response, decode_json_object
from .descope_audit import AUDIT_PAGE, AUDIT_SEARCH, Audit
from .descope_endpoints import Endpoints
from .descope_stepup import FORGE_KINDS, STEPUP_PATHS, StepUp
from .descope_wire import (
    DEFAULT_REFRESH_SECONDS,
    IMPERSONATE,
    KEYS,
    LOGOUT,
    OTP_SIGNIN_EMAIL,
    OTP_VERIFY_EMAIL,
    REFRESH,
    STOP_IMPERSONATION,
    TOTP_VERIFY,
    USER_LOAD,
    USER_SEARCH,
    DescopeCall,
    DescopeUser,
    Fault,
    Refusal,
    Signer,
    decode_claims,
    decode_header,
    error,
    fault_response,
)

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_SEARCH",
    "DEFAULT_REFRESH_SECONDS",
    "FORGE_KINDS",
    "IMPERSONATE",
    "KEYS",
    "LOGOUT",
    "OTP_SIGNIN_EMAIL",
    "OTP_VERIFY_EMAIL",
    "REFRESH",
    "STOP_IMPERSONATION",
    "TOTP_VERIFY",
    "USER_LOAD",
    "USER_SEARCH",
    "DescopeCall",
    "DescopeUser",
    "FakeDescope",
    "decode_claims",
    "decode_header",
]


class FakeDescope(Audit, StepUp, Endpoints, FakeServer[DescopeCall]):
    """Fake Descope. ``with FakeDescope() as d: httpx.post(d.url + IMPERSONATE, ...)``."""

    def __init__(self, project_id: str = "P2test", management_key: str = "K-test") -> None:
        super().__init__()
        self.project_id = project_id
        self.management_key = management_key
        self.users: dict[str, DescopeUser] = {}  # by login ID
        self.tokens: dict[str, dict[str, Any]] = {}  # impersonation JWT -> claims + "stopped"
        self.minted: list[str] = []  # impersonation JWTs, in minting order
        self.stop_rejects_expired = False  # True: stopping an expired token answers 400, as a real IdP may
        self._signer = Signer()
        self._faults: dict[str, Fault] = {}
        self._limits: dict[str, int] = {}  # path -> calls a second (rate_limit)
        self._hits: dict[str, deque[float]] = {}  # path -> when the calls of the last second came
        self.limited: dict[str, int] = {}  # path -> how many calls its rate limit refused (429)
        self._init_stepup()
        self._init_audit()

    @property
    def url(self) -> str:
        """Base URL without trailing slash: ``http://127.0.0.1:PORT``."""
        return self.origin

    @property
    def keys_path(self) -> str:
        """``/v2/keys/<project ID>``: where the public keys are served."""
        return KEYS + self.project_id

    @property
    def auth_headers(self) -> dict[str, str]:
        """The headers a correct management client sends."""
        return {
            "Authorization": f"Bearer {self.project_id}:{self.management_key}",
            "x-descope-project-id": self.project_id,
            "Content-Type": "application/json",
        }

    # -- registry ------------------------------------------------------------------------------
    def add_user(
        self,
        login_id: str,
        *,
        user_id: str | None = None,
        email: str | None = None,
        can_impersonate: bool = False,
        consented: bool = True,
        tenants: Iterable[str] = (),
        name: str | None = None,
        status: str = "enabled",
    ) -> DescopeUser:
        """Register a user. ``user_id`` defaults to ``"U"`` + a short hash of the login ID."""
        uid = user_id or "U" + hashlib.sha256(login_id.encode("utf-8")).hexdigest()[:12]
        user = DescopeUser(login_id, uid, email, can_impersonate, consented, list(tenants), name, status)
        with self._lock:
            self.users[login_id] = user
        return user

    # -- fault injection -----------------------------------------------------------------------
    def rate_limit(self, path: str, per_second: int | None) -> None:
        """Allow ``path`` at most ``per_second`` calls in any second (``None``: no limit), as Descope's limits do:
        beyond, 429 ``E130429`` with ``Retry-After`` (whole seconds until a call may go again, at least 1)."""
        with self._lock:
            if per_second is None:
                self._limits.pop(path, None)
            else:
                self._limits[path] = per_second

    def _rate_limited(self, path: str) -> Response | None:
        with self._lock:
            limit = self._limits.get(path)
            if limit is None:
                return None
            now = time.monotonic()
            hits = self._hits.setdefault(path, deque())
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return None
            self.limited[path] = self.limited.get(path, 0) + 1
            wait = max(1, math.ceil(hits[0] + 1.0 - now))
        refused = error(429, "E130429", "Rate limit exceeded", "Too many requests")
        refused.headers["Retry-After"] = str(wait)
        return refused

    def fail_next(
        self,
        path: str,
        *,
        status: int = 503,
        count: int = 1,
        retry_after: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``count`` calls to ``path`` with ``status`` (429: E130429 body by default)."""
        with self._lock:
            self._faults[path] = Fault(status, retry_after, body, count)

    def drop_next(self, path: str, count: int = 1) -> None:
        """Close the connection without answering the next ``count`` calls to ``path``."""
        with self._lock:
            self._faults[path] = Fault(0, None, None, count, drop=True)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[path]
            return fault

    # -- queries -------------------------------------------------------------------------------
    def calls_to(self, path: str) -> list[DescopeCall]:
        return [c for c in self.calls if c.path == path]

    def calls_but_probes(self, path: str | None = None) -> list[DescopeCall]:
        """The calls (to ``path``) but the look-ups of ``NOBODY`` with which the bot's start asks whether Descope
        accepts its key, and the watch's searches of the audit: the calls a request, a click or the clock made."""
        return [c for c in self.calls if (path is None or c.path == path) and c.body.get("loginId") != NOBODY
                and c.path != AUDIT_SEARCH]

    def wait_for_call(
        self,
        path: str,
        where: Callable[[DescopeCall], bool] | None = None,
        timeout: float = 10.0,
    ) -> DescopeCall:
        def find() -> DescopeCall | None:
            for call in self.calls_to(path):
                if where is None or where(call):
                    return call
            return None

        return self.wait_for(find, timeout=timeout, message=path)

    def active_tokens(self) -> list[str]:
        """Minted impersonation JWTs not stopped (whether or not expired)."""
        with self._lock:
            return [jwt for jwt in self.minted if not self.tokens[jwt]["stopped"]]

    def is_stopped(self, jwt: str) -> bool:
        with self._lock:
            return bool(self.tokens[jwt]["stopped"])

    def is_revoked(self, jwt: str) -> bool:
        """Logged out (revoked); expiry aside."""
        with self._lock:
            return bool(self.tokens[jwt].get("revoked"))

    def revoke(self, jwt: str) -> None:
        """Log the token out from outside the bot (as another admin, or the user, could)."""
        with self._lock:
            self.tokens[jwt]["revoked"] = True

    def refresh(self, jwt: str) -> int:
        """What ``POST /v1/auth/refresh`` with this token answers now: its HTTP status (200 while it is alive)."""
        request = Request("POST", REFRESH, {}, {"authorization": f"Bearer {self.project_id}:{jwt}"}, b"{}")
        return self._auth_call(request).status

    def verify(self, jwt: str) -> dict[str, Any]:
        """Claims of a JWT this instance minted; ValueError if the signature does not match."""
        return self._signer.verify(jwt)

    def _describe(self, call: DescopeCall) -> str:
        return f"{call.verb} {call.path} -> {call.status if call.status is not None else 'dropped/pending'}"

    # -- HTTP ----------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        parsed = decode_json_object(request.body) if request.verb != "GET" else dict(request.query)
        body: dict[str, Any] = parsed if parsed is not None else {"_raw": request.body.decode("utf-8", "replace")}
        call = self._record(
            DescopeCall(path=request.path, body=body, headers=dict(request.headers), at=time.time(), verb=request.verb)
        )
        response = self._respond(call, request, parsed)
        with self._lock:
            call.status = None if response.drop else response.status
        return response

    def _faulted(self, call: DescopeCall, path: str) -> Response | None:
        """An injected fault's answer for this call (or the path's rate limit's), after the path's latency (``None``:
        no fault, answer it)."""
        limited = self._rate_limited(path)
        if limited is not None:
            call.failed = True
            return limited
        fault = self._take_fault(path)
        if fault is not None:
            call.failed = True
        self._sleep_latency(path)
        return None if fault is None else fault_response(fault)

    def _respond(self, call: DescopeCall, request: Request, body: dict[str, Any] | None) -> Response:
        if request.path in STEPUP_PATHS or request.path.startswith(KEYS):
            return self._stepup_call(call, request, body)
        if request.path in (REFRESH, LOGOUT):
            faulted = self._faulted(call, request.path)
            if faulted is not None:
                return faulted
            response = self._auth_call(request)
            call.failed = response.status >= 400
            return response
        if (
            request.header("authorization") != f"Bearer {self.project_id}:{self.management_key}"
            or request.header("x-descope-project-id") != self.project_id
        ):
            call.failed = True
            return error(401, "E011003", "Unauthorized", "Invalid management key or project ID")

        faulted = self._faulted(call, request.path)
        if faulted is not None:
            return faulted

        if request.verb == "POST" and request.path == AUDIT_SEARCH:
            limited = self._audit_rate_limited()
            if limited is not None:
                call.failed = True
                return limited
        if body is None:
            return error(400, "E011001", "Bad request", "Request body is not a JSON object")
        try:
            if request.verb == "POST" and request.path == AUDIT_SEARCH:
                return Response.json(self._audit_search(body))
            if request.verb == "POST" and request.path == IMPERSONATE:
                return Response.json(self._impersonate(body))
            if request.verb == "POST" and request.path == STOP_IMPERSONATION:
                return Response.json(self._stop(body))
            if request.verb == "GET" and request.path == USER_LOAD:
                return Response.json(self._load_user(body))
            if request.verb == "POST" and request.path == USER_SEARCH:
                return Response.json(self._search_users(body))
        except Refusal as refusal:
            return refusal.response()
        return error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")

    def _stepup_call(self, call: DescopeCall, request: Request, body: dict[str, Any] | None) -> Response:
        """The key set (public) and the step-up calls (``Authorization: Bearer <projectId>``, no management key)."""
        keys = request.path.startswith(KEYS)
        if not keys and request.header("authorization") != f"Bearer {self.project_id}":
            call.failed = True
            return error(401, "E011003", "Unauthorized", "Authentication calls take Bearer <projectId>")
        with self._lock:
            own_key = not keys or request.path in self._faults or request.path in self._latency
        faulted = self._faulted(call, request.path if own_key else KEYS)
        if faulted is not None:
            return faulted
        return self._stepup_answer(request, body, f"{self.url}/{self.project_id}")
