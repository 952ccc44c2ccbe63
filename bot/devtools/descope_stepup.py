"""The fake Descope's step-up: its signing keys, an authenticator app (TOTP) and emailed one-time codes, as Descope
documents them. A part of ``FakeDescope`` (its HTTP plumbing, authentication and faults are ``descope_api``'s).

- ``GET /v2/keys/<project ID>`` → ``{"keys": [JWK]}``: the public half of a per-instance RSA key (2048 bits, made on
  first use; :meth:`StepUp.rotate_keys` replaces it, and the old ``kid`` is no longer served).
- ``POST /v1/auth/totp/verify`` ``{"loginId", "code", "loginOptions"?}``: RFC 6238 (HMAC-SHA1, 30 s, 6 digits), the
  current step or one either side; a code (or an older one) is accepted once per user.
- ``POST /v1/auth/otp/signin/email`` ``{"loginId"}`` → ``{"maskedEmail"}``, mailing a 6-digit code to the outbox;
  ``POST /v1/auth/otp/verify/email`` ``{"loginId", "code"}``: the latest code mailed, within 5 minutes, once.

A good code answers ``{"sessionJwt", "refreshJwt", "user", "firstSeen"}``: the session JWT RS256 with ``amr`` and
``drn: "DS"``, the refresh JWT the fake's own HS256 with ``drn: "DSR"`` (so refresh and logout take it), in the body
or, with ``refresh_in_cookie``, only as the ``DSR`` cookie. Errors:
``E062108`` (400) an unknown login ID, ``E061102`` (401) a wrong, used or expired code, ``E011004`` (400) no
authenticator enrolled or no email, ``E011002`` (400) missing arguments, or ``loginOptions`` asking ``stepup``/``mfa``
(which need the user's refresh JWT). The codes' times (TOTP steps, an emailed code's expiry) come from ``clock``, an
authenticator's clock a test may move; the JWTs' from the real one (their receivers check them against it).
:meth:`StepUp.forge_next_session` makes the next session JWT a forgery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from ._base import Request, Response
from .descope_wire import (
    DEFAULT_REFRESH_SECONDS,
    KEYS,
    OTP_SIGNIN_EMAIL,
    OTP_VERIFY_EMAIL,
    TOTP_VERIFY,
    DescopeUser,
    Refusal,
    Signer,
    SigningKey,
    b64url,
    error,
    signing_input_of,
)

INVALID_CODE: Final = "E061102"  # Descope's "invalid one-time code" (the Go SDK's ErrInvalidOneTimeCode)
AUTH_USER_NOT_FOUND: Final = "E062108"  # an authentication call naming no user
SESSION_SECONDS: Final = 600
OTP_SECONDS: Final = 300
TOTP_STEP: Final = 30
STEPUP_PATHS: Final = frozenset({TOTP_VERIFY, OTP_SIGNIN_EMAIL, OTP_VERIFY_EMAIL})
FORGE_KINDS: Final = (
    "other_key", "unknown_kid", "wrong_sub", "wrong_iss", "expired", "no_amr", "alg_none", "hs256_public_key",
)


def totp(secret: str, at: float, *, digits: int = 6, step: int = TOTP_STEP) -> str:
    """The RFC 6238 code of a base32 ``secret`` at Unix time ``at``."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    return _hotp(key, int(at // step), digits)


def _hotp(key: bytes, counter: int, digits: int = 6) -> str:
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def mask_email(address: str) -> str:
    """As Descope shows it: ``a***@acme.com``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def forge(kind: str, key: SigningKey, claims: dict[str, Any], project_id: str) -> str:
    """A session JWT tampered as ``kind`` (one of :data:`FORGE_KINDS`) instead of ``key.sign(claims)``."""
    header = {"kid": key.kid, "typ": "JWT"}
    if kind == "other_key":  # an attacker's key, passed off under the real kid
        return SigningKey(kid=key.kid).sign(claims)
    if kind == "unknown_kid":  # an attacker's key under its own kid
        return SigningKey().sign(claims)
    if kind == "wrong_sub":
        return key.sign({**claims, "sub": "U" + secrets.token_hex(6)})
    if kind == "wrong_iss":  # another project's
        return key.sign({**claims, "iss": claims["iss"].rsplit("/", 1)[0] + f"/{project_id}0ther"})
    if kind == "expired":
        return key.sign({**claims, "iat": claims["iat"] - 2 * SESSION_SECONDS, "exp": claims["iat"] - SESSION_SECONDS})
    if kind == "no_amr":
        return key.sign({k: v for k, v in claims.items() if k != "amr"})
    if kind == "alg_none":
        return signing_input_of({"alg": "none", **header}, claims) + "."
    if kind == "hs256_public_key":  # key confusion: HMAC keyed with the public key's PEM
        signing_input = signing_input_of({"alg": "HS256", **header}, claims)
        return f"{signing_input}.{b64url(hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest())}"
    raise ValueError(f"unknown forgery {kind!r}: one of {', '.join(FORGE_KINDS)}")


class StepUp:
    """``FakeDescope``'s step-up endpoints and their knobs (the state is the fake's; ``_init_stepup`` makes it)."""

    _lock: threading.RLock
    _signer: Signer
    project_id: str
    tokens: dict[str, dict[str, Any]]  # refresh JWTs, the step-up sessions' among them
    _by_login: Callable[[str], DescopeUser | None]
    _audit_stepup: Callable[[DescopeUser, str], None]  # descope_audit: a good code's LoginSucceed

    def _init_stepup(self) -> None:
        self.clock: Callable[[], float] = time.time  # the step-up's time: TOTP steps, code expiry, session JWTs
        self.refresh_in_cookie = False  # True: the refresh JWT comes only as the DSR cookie
        self._key: SigningKey | None = None
        self._totp: dict[str, str] = {}  # login ID -> base32 secret
        self._totp_used: dict[str, int] = {}  # login ID -> the last time step accepted
        self._outbox: dict[str, list[str]] = {}  # login ID -> codes mailed, oldest first
        self._pending: dict[str, tuple[str, float]] = {}  # login ID -> (latest code, mailed at)
        self._forge: str | None = None
        self._stepup_sessions: list[str] = []  # refresh JWTs issued

    # -- knobs and queries ---------------------------------------------------------------------
    def _signing_key(self) -> SigningKey:
        with self._lock:
            if self._key is None:
                self._key = SigningKey()
            return self._key

    def jwks(self) -> dict[str, Any]:
        """What ``GET /v2/keys/<project ID>`` answers."""
        return {"keys": [self._signing_key().jwk()]}

    def rotate_keys(self) -> str:
        """Replace the key pair; the old ``kid`` is no longer served. Returns the new ``kid``."""
        key = SigningKey()
        with self._lock:
            self._key = key
        return key.kid

    def _user(self, login_id: str) -> DescopeUser:
        with self._lock:
            user = self._by_login(login_id)
        if user is None:
            raise KeyError(f"no user {login_id!r}: add_user() first")
        return user

    def enroll_totp(self, login_id: str) -> str:
        """Enroll an authenticator app for the user: its base32 secret (a new one replaces the old)."""
        user = self._user(login_id)
        secret = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
        with self._lock:
            self._totp[user.login_id] = secret
            self._totp_used.pop(user.login_id, None)
            user.totp = True
        return secret

    def totp_code(self, login_id: str, at: float | None = None) -> str:
        """The code the user's authenticator app shows at ``at`` (default: ``clock()``)."""
        user = self._user(login_id)
        with self._lock:
            secret = self._totp.get(user.login_id)
        if secret is None:
            raise KeyError(f"{login_id!r} has no authenticator enrolled: enroll_totp() first")
        return totp(secret, self.clock() if at is None else at)

    def mailed(self, login_id: str) -> list[str]:
        """The codes mailed to the user, oldest first."""
        with self._lock:
            user = self._by_login(login_id)
            return list(self._outbox.get(user.login_id if user else login_id, []))

    def mailed_code(self, login_id: str) -> str | None:
        """The latest code mailed to the user (whether or not still good), or None."""
        codes = self.mailed(login_id)
        return codes[-1] if codes else None

    def forge_next_session(self, kind: str) -> None:
        """Make the next good verification answer a session JWT tampered as ``kind`` (:data:`FORGE_KINDS`); its
        refresh JWT is still a real one."""
        if kind not in FORGE_KINDS:
            raise ValueError(f"unknown forgery {kind!r}: one of {', '.join(FORGE_KINDS)}")
        with self._lock:
            self._forge = kind

    def stepup_sessions(self) -> list[str]:
        """The step-up refresh JWTs issued, oldest first."""
        with self._lock:
            return list(self._stepup_sessions)

    def open_stepup_sessions(self) -> list[str]:
        """The step-up refresh JWTs not logged out (whether or not expired)."""
        with self._lock:
            return [jwt for jwt in self._stepup_sessions if not self.tokens[jwt].get("revoked")]

    # -- HTTP ----------------------------------------------------------------------------------
    def _stepup_answer(self, request: Request, body: dict[str, Any] | None, issuer: str) -> Response:
        """The answer to a key-set or step-up call, once authenticated; ``issuer`` is the session JWTs' ``iss``."""
        if request.path.startswith(KEYS):
            if request.verb != "GET":
                return error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")
            if request.path.removeprefix(KEYS) != self.project_id:
                return error(400, "E011003", "Invalid request", "Unknown project ID")
            return Response.json(self.jwks())
        if request.verb != "POST":
            return error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")
        if body is None:
            return error(400, "E011001", "Bad request", "Request body is not a JSON object")
        try:
            if request.path == OTP_SIGNIN_EMAIL:
                return Response.json(self._mail_code(_text(body, "loginId")))
            if request.path == TOTP_VERIFY:
                user = self._check_totp(_text(body, "loginId"), _text(body, "code"), body.get("loginOptions"))
                return self._jwt_response(user, "totp", issuer)
            if request.path == OTP_VERIFY_EMAIL:
                user = self._check_mailed(_text(body, "loginId"), _text(body, "code"))
                return self._jwt_response(user, "email", issuer)
        except Refusal as refusal:
            return refusal.response()
        return error(404, "E011001", "Bad request", f"No such route: {request.verb} {request.path}")

    def _known(self, login_id: str) -> DescopeUser:  # with the lock held
        user = self._by_login(login_id)
        if user is None:
            raise Refusal(400, AUTH_USER_NOT_FOUND, "User not found", f"No user with login ID {login_id!r}")
        return user

    def _check_totp(self, login_id: str, code: str, options: Any) -> DescopeUser:
        if options is not None and not isinstance(options, dict):
            raise Refusal(400, "E011004", "Invalid arguments", "loginOptions must be an object")
        if options and (options.get("stepup") or options.get("mfa")):
            raise Refusal(400, "E011002", "Missing arguments", "loginOptions stepup/mfa need the user's refresh JWT")
        with self._lock:
            user = self._known(login_id)
            secret = self._totp.get(user.login_id)
            if secret is None:
                raise Refusal(400, "E011004", "TOTP not enrolled", f"{login_id!r} has no authenticator app enrolled")
            key, now = base64.b32decode(secret), int(self.clock() // TOTP_STEP)
            good = (s for s in (now - 1, now, now + 1) if hmac.compare_digest(_hotp(key, s).encode(), code.encode()))
            step = next(good, None)
            if step is None:
                raise Refusal(401, INVALID_CODE, "Invalid code", "Wrong or expired code")
            if step <= self._totp_used.get(user.login_id, -1):
                raise Refusal(401, INVALID_CODE, "Invalid code", "The code was already used")
            self._totp_used[user.login_id] = step
        return user

    def _mail_code(self, login_id: str) -> dict[str, Any]:
        with self._lock:
            user = self._known(login_id)
            if user.address is None:
                raise Refusal(400, "E011004", "Invalid arguments", f"{login_id!r} has no email address")
            code = f"{secrets.randbelow(1_000_000):06d}"
            self._outbox.setdefault(user.login_id, []).append(code)
            self._pending[user.login_id] = (code, self.clock())
        return {"maskedEmail": mask_email(user.address)}

    def _check_mailed(self, login_id: str, code: str) -> DescopeUser:
        with self._lock:
            user = self._known(login_id)
            pending = self._pending.get(user.login_id)
            if pending is None or not hmac.compare_digest(pending[0].encode(), code.encode()):
                raise Refusal(401, INVALID_CODE, "Invalid code", "Wrong code, or none pending")
            del self._pending[user.login_id]
            if self.clock() - pending[1] > OTP_SECONDS:
                raise Refusal(401, INVALID_CODE, "Invalid code", "The code has expired")
        return user

    def _jwt_response(self, user: DescopeUser, method: str, issuer: str) -> Response:
        with self._lock:
            kind, self._forge = self._forge, None
        key = self._signing_key()
        now = int(time.time())  # a session is issued on Descope's wall clock (``clock`` is the authenticators')
        claims = {"sub": user.user_id, "iss": issuer, "iat": now, "exp": now + SESSION_SECONDS, "amr": [method],
                  "drn": "DS"}
        session = key.sign(claims) if kind is None else forge(kind, key, claims, self.project_id)
        real_now = int(time.time())
        refresh_claims = {"sub": user.user_id, "iss": self.project_id, "iat": real_now,
                          "exp": real_now + DEFAULT_REFRESH_SECONDS, "amr": [method], "drn": "DSR",
                          "jti": secrets.token_hex(8)}
        refresh = self._signer.sign(refresh_claims)
        with self._lock:
            self.tokens[refresh] = {**refresh_claims, "stopped": False, "stopped_at": None, "stepup": True}
            self._stepup_sessions.append(refresh)
            self._audit_stepup(user, method)
            answer: dict[str, Any] = {"sessionJwt": session, "refreshJwt": refresh, "user": user.to_json(),
                                      "firstSeen": False}
        if not self.refresh_in_cookie:
            return Response.json(answer)
        del answer["refreshJwt"]
        return Response.json(answer, headers={"Set-Cookie": f"DSR={refresh}; Path=/; HttpOnly; Secure"})


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise Refusal(400, "E011002", "Missing arguments", f"{name} is required")
    if not isinstance(value, str):
        raise Refusal(400, "E011004", "Invalid arguments", f"{name} must be a string")
    return value
