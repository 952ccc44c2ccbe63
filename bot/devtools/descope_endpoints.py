"""The fake Descope's endpoints: impersonate, stop impersonation, load and search users, and refresh and
logout (authenticated by the refresh JWT itself: an impersonation's or a step-up session's). A part of
``FakeDescope``, as Descope behaves: stopping an impersonation revokes nothing; only logout (or its own ``exp``) ends
the token, after which refresh answers 401. The step-up endpoints are ``descope_stepup``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.descope.errors import USER_NOT_FOUND

from ._base import Request, Response
from .descope_wire import LOGOUT, DescopeUser, Refusal, Signer, error, refresh_seconds


class Endpoints:
    """``FakeDescope``'s handlers (the state is the fake's)."""

    _lock: threading.RLock
    _signer: Signer
    project_id: str
    users: dict[str, DescopeUser]  # by login ID
    tokens: dict[str, dict[str, Any]]  # refresh JWT (impersonation, step-up) -> claims + "stopped"
    minted: list[str]
    stop_rejects_expired: bool
    _audit_impersonation: Callable[[DescopeUser, DescopeUser, str, str | None], None]  # descope_audit

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


    def _impersonate(self, body: dict[str, Any]) -> dict[str, Any]:
        login_id, impersonator_id = body.get("loginId"), body.get("impersonatorId")
        if not isinstance(login_id, str) or not login_id or not isinstance(impersonator_id, str) or not impersonator_id:
            raise Refusal(400, "E011002", "Missing arguments", "loginId and impersonatorId are required")
        custom_claims = body.get("customClaims")
        if custom_claims is not None and not isinstance(custom_claims, dict):
            raise Refusal(400, "E011004", "Invalid arguments", "customClaims must be an object")
        tenant = body.get("selectedTenant") or None
        if tenant is not None and not isinstance(tenant, str):
            raise Refusal(400, "E011004", "Invalid arguments", "selectedTenant must be a string")
        refresh = refresh_seconds(body.get("refreshDuration"))

        with self._lock:
            target = self._by_login(login_id)
        if target is None:
            raise Refusal(400, USER_NOT_FOUND, "User not found", f"No user with login ID {login_id!r}")
        actor = self.find_user(impersonator_id)
        if actor is None or not actor.can_impersonate:
            raise Refusal(
                403,
                "E011004",
                "Impersonator is not allowed to impersonate",
                f"{impersonator_id!r} is unknown or lacks the Impersonate permission",
            )
        if body.get("validateConsent") is True and not target.consented:
            raise Refusal(400, "E011004", "Impersonation consent not given", f"{login_id!r} has not consented")
        if tenant is not None and tenant not in target.tenants:
            raise Refusal(
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
        jwt = self._signer.sign(claims)
        with self._lock:
            self.tokens[jwt] = {**claims, "stopped": False, "stopped_at": None}
            self.minted.append(jwt)
        self._audit_impersonation(target, actor, impersonator_id, tenant)
        return {"jwt": jwt}

    def _stop(self, body: dict[str, Any]) -> dict[str, Any]:
        jwt = body.get("jwt")
        if not isinstance(jwt, str) or not jwt:
            raise Refusal(400, "E011002", "Missing arguments", "jwt is required")
        with self._lock:
            record = self.tokens.get(jwt)
            if record is None or "act" not in record:  # a step-up session's is no impersonation
                raise Refusal(400, "E011004", "Invalid arguments", "Unknown or malformed impersonation token")
            if self.stop_rejects_expired and not record["stopped"] and record["exp"] <= time.time():
                raise Refusal(400, "E011004", "Invalid arguments", "Impersonation token expired")
            if not record["stopped"]:
                record["stopped"] = True
                record["stopped_at"] = time.time()
            actor_sub = str(record["act"]["sub"])
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": actor_sub,
            "iss": self.project_id,
            "iat": now,
            "exp": now + refresh_seconds(body.get("refreshDuration")),
            "jti": secrets.token_hex(8),
        }
        tenant = body.get("selectedTenant")
        if isinstance(tenant, str) and tenant:
            claims["dct"] = tenant
        if isinstance(body.get("customClaims"), dict):
            claims["nsec"] = body["customClaims"]
        return {"jwt": self._signer.sign(claims)}

    def _auth_call(self, request: Request) -> Response:
        """Refresh or logout, authenticated by the refresh JWT: ``Bearer <projectId>:<jwt>`` (the Python SDK
        may append ``:<managementKey>``)."""
        if request.verb != "POST":
            return error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")
        bearer = (request.header("authorization") or "").removeprefix("Bearer ")
        project, _, rest = bearer.partition(":")
        jwt = rest.split(":", 1)[0]
        with self._lock:
            record = self.tokens.get(jwt) if project == self.project_id else None
            if record is None:
                return error(401, "E061001", "Unauthorized", "Invalid or unknown refresh token")
            if record.get("revoked"):
                return error(401, "E064001", "Token expired by logout", "The refresh token was revoked")
            if record["exp"] <= time.time():
                return error(401, "E061005", "Token expired", "The refresh token has expired")
            if request.path == LOGOUT:
                record["revoked"] = True
                return Response.json({})
            claims = {"sub": record["sub"], "iss": self.project_id, "iat": int(time.time()),
                      "exp": min(int(record["exp"]), int(time.time()) + 600)}
            claims.update({k: record[k] for k in ("act", "amr") if k in record})
        return Response.json({"sessionJwt": self._signer.sign(claims)})

    def _load_user(self, query: dict[str, Any]) -> dict[str, Any]:
        login_id, user_id = query.get("loginId"), query.get("userId")
        if not login_id and not user_id:
            raise Refusal(400, "E011002", "Missing arguments", "loginId is required")
        with self._lock:
            user = self._by_login(str(login_id)) if login_id else None
            if user is None and user_id:
                user = next((u for u in self.users.values() if u.user_id == user_id), None)
        if user is None:
            raise Refusal(400, USER_NOT_FOUND, "User not found", f"No user with login ID {login_id or user_id!r}")
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

