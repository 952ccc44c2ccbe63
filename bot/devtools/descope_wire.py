"""What the fake Descope speaks: its paths, the calls it records, its users, its error shape, and its tokens.

Errors are Descope's ``{"errorCode", "errorDescription", "errorMessage"}``; a :class:`Refusal` raised by an
endpoint becomes one. Impersonation and refresh tokens are HS256 JWTs signed by a :class:`Signer` with a random
per-instance secret (:func:`decode_claims` reads one without checking anything); the step-up session JWTs are RS256,
signed by a :class:`SigningKey` (an RSA pair per instance, which ``descope_stepup`` serves and uses).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._base import Response

IMPERSONATE = "/v1/mgmt/impersonate"
STOP_IMPERSONATION = "/v1/mgmt/stop/impersonation"
USER_LOAD = "/v1/mgmt/user"
USER_SEARCH = "/v2/mgmt/user/search"
REFRESH = "/v1/auth/refresh"
LOGOUT = "/v1/auth/logout"
KEYS = "/v2/keys/"  # + the project ID: the public keys that sign session JWTs
TOTP_VERIFY = "/v1/auth/totp/verify"
OTP_SIGNIN_EMAIL = "/v1/auth/otp/signin/email"
OTP_VERIFY_EMAIL = "/v1/auth/otp/verify/email"

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
    totp: bool = False  # an authenticator app is enrolled (FakeDescope.enroll_totp)

    @property
    def address(self) -> str | None:
        """Where codes are mailed: the email, else the login ID when it is an address."""
        return self.email or (self.login_id if "@" in self.login_id else None)

    def to_json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "loginIds": [self.login_id],
            "email": self.address or "",
            "verifiedEmail": self.address is not None,
            "TOTP": self.totp,
            "name": self.name if self.name is not None else self.login_id.split("@", 1)[0],
            "status": self.status,
            "userTenants": [{"tenantId": t, "tenantName": t.replace("-", " ").title(), "roleNames": []}
                            for t in self.tenants],
        }


@dataclass
class Fault:
    status: int
    retry_after: int | None
    body: dict[str, Any] | None
    remaining: int
    drop: bool = False


class Refusal(Exception):
    def __init__(self, status: int, code: str, description: str, message: str | None = None) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
        self.message = message or description

    def response(self) -> Response:
        return error(self.status, self.code, self.description, self.message)


def error(status: int, code: str, description: str, message: str | None = None) -> Response:
    return Response.json(
        {"errorCode": code, "errorDescription": description, "errorMessage": message or description},
        status=status,
    )


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def signing_input_of(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT's first two parts, ``<header>.<claims>``, compact JSON in base64url."""
    return ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _decode_part(jwt: str, index: int) -> dict[str, Any]:
    parts = jwt.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")
    try:
        value = json.loads(b64url_decode(parts[index]))
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


def fault_response(fault: Fault) -> Response:
    """The answer an injected fault gives: a dropped connection, or its status with Descope's error body."""
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


def refresh_seconds(value: Any) -> int:
    if value is None:
        return DEFAULT_REFRESH_SECONDS
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Refusal(400, "E011001", "Bad request", "refreshDuration must be a non-negative integer (seconds)")
    return value or DEFAULT_REFRESH_SECONDS


class Signer:
    """Signs and checks the fake's JWTs (HS256, a random secret per instance)."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = signing_input_of({"alg": "HS256", "typ": "JWT", "kid": "fake"}, claims)
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, jwt: str) -> dict[str, Any]:
        """Claims of a JWT this signer signed; ValueError if the signature does not match."""
        parts = jwt.split(".")
        if len(parts) != 3:
            raise ValueError("not a JWT")
        expected = b64url(hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            raise ValueError("bad signature")
        return decode_claims(jwt)


class SigningKey:
    """An RSA key pair (2048 bits) and its ``kid``: signs RS256 JWTs, publishes its public half as a JWK."""

    def __init__(self, kid: str | None = None) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid or "K" + secrets.token_hex(12)

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        n, e = (b64url(v.to_bytes((v.bit_length() + 7) // 8, "big")) for v in (numbers.n, numbers.e))
        return {"kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig", "n": n, "e": e}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = signing_input_of({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, claims)
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"
