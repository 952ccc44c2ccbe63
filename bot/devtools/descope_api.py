"""A fake Descope management API on 127.0.0.1, for end-to-end tests.

Point the bot's ``DESCOPE_BASE_URI`` at :attr:`FakeDescope.url`. Implements what the bot uses:
``POST /v1/mgmt/impersonate``, ``POST /v1/mgmt/stop/impersonation``, ``GET /v1/mgmt/user`` and
``POST /v2/mgmt/user/search`` (management key), and ``POST /v1/auth/refresh`` and ``POST /v1/auth/logout``
(authenticated by the refresh JWT itself), with Descope's error shape
``{"errorCode", "errorDescription", "errorMessage"}``. Minted JWTs are HS256-signed with a random
per-instance secret (:meth:`FakeDescope.verify` checks them; :func:`decode_claims` just decodes).

As documented, and as makes the bot's life harder: stop-impersonation revokes nothing (the token still
refreshes afterwards); only logout (or its own ``exp``) ends it, after which refresh answers 401.

Latency (:meth:`FakeDescope.set_latency`) is applied after the call is recorded and before it is
processed: a client that times out still leaves the server to finish (and mint) on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ._base import FakeServer, Request, Response, decode_json_object

__all__ = [
    "DEFAULT_REFRESH_SECONDS",
    "IMPERSONATE",
    "LOGOUT",
    "REFRESH",
    "STOP_IMPERSONATION",
    "USER_LOAD",
    "USER_SEARCH",
    "DescopeCall",
    "DescopeUser",
    "FakeDescope",
    "decode_claims",
    "decode_header",
]

IMPERSONATE = "/v1/mgmt/impersonate"
STOP_IMPERSONATION = "/v1/mgmt/stop/impersonation"
USER_LOAD = "/v1/mgmt/user"
USER_SEARCH = "/v2/mgmt/user/search"
REFRESH = "/v1/auth/refresh"
LOGOUT = "/v1/auth/logout"

#: exp when refreshDuration is 0/absent (Descope's default refresh-token lifetime: 4 weeks).
DEFAULT_REFRESH_SECONDS = 2_419_200


@dataclass
class DescopeCall:
    path: str  # without the query string
    body: dict[str, Any]  # JSON body; for GET, the query parameters
    headers: dict[str, str]  # lower-cased names
    at: float  # time.time() when received
    failed: bool = False  # unauthorised, injected fault, or dropped connection
    verb: str = "POST"
    status: int | None = None  # HTTP status answered (None while pending or when dropped)


@dataclass
class DescopeUser:
    login_id: str
    user_id: str
    email: str | None = None
    can_impersonate: bool = False
    consented: bool = True
    tenants: list[str] = field(default_factory=list)
    name: str | None = None  # default: the login ID's local part
    status: str = "enabled"  # enabled | disabled | invited | expired

    def to_json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "loginIds": [self.login_id],
            "email": self.email or "",
            "verifiedEmail": self.email is not None,
            "name": self.name if self.name is not None else self.login_id.split("@", 1)[0],
            "status": self.status,
            "userTenants": [{"tenantId": t, "tenantName": t.replace("-", " ").title(), "roleNames": []}
                            for t in self.tenants],
        }


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    body: dict[str, Any] | None
    remaining: int
    drop: bool = False


class _Refusal(Exception):
    def __init__(self, status: int, code: str, description: str, message: str | None = None) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
        self.message = message or description

    def response(self) -> Response:
        return _error(self.status, self.code, self.description, self.message)


def _error(status: int, code: str, description: str, message: str | None = None) -> Response:
    return Response.json(
        {"errorCode": code, "errorDescription": description, "errorMessage": message or description},
        status=status,
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _decode_part(jwt: str, index: int) -> dict[str, Any]:
    parts = jwt.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")
    try:
        value = json.loads(_b64url_decode(parts[index]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a JWT: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError("not a JWT: segment is not a JSON object")
    return value


def decode_claims(jwt: str) -> dict[str, Any]:
    """The JWT's claims, WITHOUT verifying anything. Raises ValueError if it is not a JWT."""
    return _decode_part(jwt, 1)


def decode_header(jwt: str) -> dict[str, Any]:
    """The JWT's header, without verification."""
    return _decode_part(jwt, 0)


class FakeDescope(FakeServer[DescopeCall]):
    """Fake Descope management API. ``with FakeDescope() as d: httpx.post(d.url + IMPERSONATE, ...)``."""

    def __init__(self, project_id: str = "P2test", management_key: str = "K-test") -> None:
        super().__init__()
        self.project_id = project_id
        self.management_key = management_key
        self.users: dict[str, DescopeUser] = {}  # by login ID
        self.tokens: dict[str, dict[str, Any]] = {}  # impersonation JWT -> claims + "stopped"
        self.minted: list[str] = []  # impersonation JWTs, in minting order
        self.stop_rejects_expired = False  # True: stopping an expired token answers 400, as a real IdP may
        self._secret = secrets.token_bytes(32)
        self._faults: dict[str, _Fault] = {}

    @property
    def url(self) -> str:
        """Base URL without trailing slash: ``http://127.0.0.1:PORT``."""
        return self.origin

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

    def _by_login(self, login_id: str) -> DescopeUser | None:
        """A user by login ID, case-insensitively, as Descope matches them (call with the lock held)."""
        user = self.users.get(login_id)
        if user is None:
            user = next((u for key, u in self.users.items() if key.lower() == login_id.lower()), None)
        return user

    def find_user(self, ident: str) -> DescopeUser | None:
        """A user by login ID, email or user ID (the way impersonators are looked up)."""
        with self._lock:
            if ident in self.users:
                return self.users[ident]
            for user in self.users.values():
                if ident in (user.email, user.user_id):
                    return user
        return None

    # -- fault injection -----------------------------------------------------------------------
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
            self._faults[path] = _Fault(status, retry_after, body, count)

    def drop_next(self, path: str, count: int = 1) -> None:
        """Close the connection without answering the next ``count`` calls to ``path``."""
        with self._lock:
            self._faults[path] = _Fault(0, None, None, count, drop=True)

    def _take_fault(self, path: str) -> _Fault | None:
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
        parts = jwt.split(".")
        if len(parts) != 3:
            raise ValueError("not a JWT")
        expected = _b64url(hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            raise ValueError("bad signature")
        return decode_claims(jwt)

    def _describe(self, call: DescopeCall) -> str:
        return f"{call.verb} {call.path} -> {call.status if call.status is not None else 'dropped/pending'}"

    # -- HTTP ----------------------------------------------------------------------------------
    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "HS256", "typ": "JWT", "kid": "fake"}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

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

    def _respond(self, call: DescopeCall, request: Request, body: dict[str, Any] | None) -> Response:
        if request.path in (REFRESH, LOGOUT):
            fault = self._take_fault(request.path)
            if fault is not None:
                call.failed = True
            self._sleep_latency(request.path)
            if fault is not None:
                return self._fault_response(fault)
            response = self._auth_call(request)
            call.failed = response.status >= 400
            return response
        if (
            request.header("authorization") != f"Bearer {self.project_id}:{self.management_key}"
            or request.header("x-descope-project-id") != self.project_id
        ):
            call.failed = True
            return _error(401, "E011003", "Unauthorized", "Invalid management key or project ID")

        fault = self._take_fault(request.path)
        if fault is not None:
            call.failed = True
        self._sleep_latency(request.path)
        if fault is not None:
            return self._fault_response(fault)

        if body is None:
            return _error(400, "E011001", "Bad request", "Request body is not a JSON object")
        try:
            if request.verb == "POST" and request.path == IMPERSONATE:
                return Response.json(self._impersonate(body))
            if request.verb == "POST" and request.path == STOP_IMPERSONATION:
                return Response.json(self._stop(body))
            if request.verb == "GET" and request.path == USER_LOAD:
                return Response.json(self._load_user(body))
            if request.verb == "POST" and request.path == USER_SEARCH:
                return Response.json(self._search_users(body))
        except _Refusal as refusal:
            return refusal.response()
        return _error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")

    def _fault_response(self, fault: _Fault) -> Response:
        if fault.drop:
            return Response.dropped()
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        body = fault.body
        if body is None:
            if fault.status == 429:
                body = {
                    "errorCode": "E130429",
                    "errorDescription": "Rate limit exceeded",
                    "errorMessage": "Too many requests",
                }
            else:
                try:
                    phrase = HTTPStatus(fault.status).phrase
                except ValueError:
                    phrase = "Error"
                body = {"errorCode": f"E{fault.status:06d}", "errorDescription": phrase, "errorMessage": phrase}
        return Response.json(body, status=fault.status, headers=headers)

    # -- endpoints -----------------------------------------------------------------------------
    def _impersonate(self, body: dict[str, Any]) -> dict[str, Any]:
        login_id, impersonator_id = body.get("loginId"), body.get("impersonatorId")
        if not isinstance(login_id, str) or not login_id or not isinstance(impersonator_id, str) or not impersonator_id:
            raise _Refusal(400, "E011002", "Missing arguments", "loginId and impersonatorId are required")
        custom_claims = body.get("customClaims")
        if custom_claims is not None and not isinstance(custom_claims, dict):
            raise _Refusal(400, "E011004", "Invalid arguments", "customClaims must be an object")
        tenant = body.get("selectedTenant") or None
        if tenant is not None and not isinstance(tenant, str):
            raise _Refusal(400, "E011004", "Invalid arguments", "selectedTenant must be a string")
        refresh = _refresh_seconds(body.get("refreshDuration"))

        with self._lock:
            target = self._by_login(login_id)
        if target is None:
            raise _Refusal(400, "E112102", "User not found", f"No user with login ID {login_id!r}")
        actor = self.find_user(impersonator_id)
        if actor is None or not actor.can_impersonate:
            raise _Refusal(
                403,
                "E011004",
                "Impersonator is not allowed to impersonate",
                f"{impersonator_id!r} is unknown or lacks the Impersonate permission",
            )
        if body.get("validateConsent") is True and not target.consented:
            raise _Refusal(400, "E011004", "Impersonation consent not given", f"{login_id!r} has not consented")
        if tenant is not None and tenant not in target.tenants:
            raise _Refusal(
                400, "E011004", "User is not a member of the selected tenant", f"{login_id!r} not in {tenant!r}"
            )

        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": target.user_id,
            "iss": self.project_id,
            "iat": now,
            "exp": now + refresh,
            "act": {"sub": actor.user_id, "loginId": impersonator_id},
            "jti": secrets.token_hex(8),
        }
        if tenant is not None:
            claims["dct"] = tenant
        if custom_claims is not None:
            claims["nsec"] = custom_claims
        jwt = self._sign(claims)
        with self._lock:
            self.tokens[jwt] = {**claims, "stopped": False, "stopped_at": None}
            self.minted.append(jwt)
        return {"jwt": jwt}

    def _stop(self, body: dict[str, Any]) -> dict[str, Any]:
        jwt = body.get("jwt")
        if not isinstance(jwt, str) or not jwt:
            raise _Refusal(400, "E011002", "Missing arguments", "jwt is required")
        with self._lock:
            record = self.tokens.get(jwt)
            if record is None:
                raise _Refusal(400, "E011004", "Invalid arguments", "Unknown or malformed impersonation token")
            if self.stop_rejects_expired and not record["stopped"] and record["exp"] <= time.time():
                raise _Refusal(400, "E011004", "Invalid arguments", "Impersonation token expired")
            if not record["stopped"]:
                record["stopped"] = True
                record["stopped_at"] = time.time()
            actor_sub = str(record["act"]["sub"])
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": actor_sub,
            "iss": self.project_id,
            "iat": now,
            "exp": now + _refresh_seconds(body.get("refreshDuration")),
            "jti": secrets.token_hex(8),
        }
        tenant = body.get("selectedTenant")
        if isinstance(tenant, str) and tenant:
            claims["dct"] = tenant
        if isinstance(body.get("customClaims"), dict):
            claims["nsec"] = body["customClaims"]
        return {"jwt": self._sign(claims)}

    def _auth_call(self, request: Request) -> Response:
        """Refresh or logout, authenticated by the refresh JWT: ``Bearer <projectId>:<jwt>`` (the Python SDK
        may append ``:<managementKey>``)."""
        if request.verb != "POST":
            return _error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")
        bearer = (request.header("authorization") or "").removeprefix("Bearer ")
        project, _, rest = bearer.partition(":")
        jwt = rest.split(":", 1)[0]
        with self._lock:
            record = self.tokens.get(jwt) if project == self.project_id else None
            if record is None:
                return _error(401, "E061001", "Unauthorized", "Invalid or unknown refresh token")
            if record.get("revoked"):
                return _error(401, "E064001", "Token expired by logout", "The refresh token was revoked")
            if record["exp"] <= time.time():
                return _error(401, "E061005", "Token expired", "The refresh token has expired")
            if request.path == LOGOUT:
                record["revoked"] = True
                return Response.json({})
            claims = {"sub": record["sub"], "iss": self.project_id, "iat": int(time.time()),
                      "exp": min(int(record["exp"]), int(time.time()) + 600), "act": record["act"]}
        return Response.json({"sessionJwt": self._sign(claims)})

    def _load_user(self, query: dict[str, Any]) -> dict[str, Any]:
        login_id, user_id = query.get("loginId"), query.get("userId")
        if not login_id and not user_id:
            raise _Refusal(400, "E011002", "Missing arguments", "loginId is required")
        with self._lock:
            user = self._by_login(str(login_id)) if login_id else None
            if user is None and user_id:
                user = next((u for u in self.users.values() if u.user_id == user_id), None)
        if user is None:
            raise _Refusal(400, "E112102", "User not found", f"No user with login ID {login_id or user_id!r}")
        return {"user": user.to_json()}

    def _search_users(self, body: dict[str, Any]) -> dict[str, Any]:
        emails = body.get("emails") or []
        login_ids = body.get("loginIds") or []
        limit = body.get("limit") or 100
        with self._lock:
            found = [
                u
                for u in self.users.values()
                if (not emails or u.email in emails) and (not login_ids or u.login_id in login_ids)
            ]
        return {"users": [u.to_json() for u in found[: int(limit)]], "total": len(found)}


def _refresh_seconds(value: Any) -> int:
    if value is None:
        return DEFAULT_REFRESH_SECONDS
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Refusal(400, "E011001", "Bad request", "refreshDuration must be a non-negative integer (seconds)")
    return value or DEFAULT_REFRESH_SECONDS
