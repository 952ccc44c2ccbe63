"""
Local verification of the session JWT Descope answers to a step-up (a TOTP or email-OTP code verification).

The bot trusts a step-up only once the token proves itself. ``verify_session`` checks, in this order, and stops at
the first failure with ``SessionRejected(reason)``:

1. the text is a JWT whose header is a JSON object                              ("malformed")
2. the header's ``alg`` is exactly RS256, decided before any key is touched, so
   ``none`` and HS256-keyed-with-the-public-key (key confusion) never get a say   ("algorithm none is not accepted")
3. the header's ``kid`` names one of Descope's keys (``KeySet``); ``jku``, ``jwk``
   and ``x5u`` headers are ignored: keys come only from Descope's key endpoint   ("unknown signing key")
4. the RS256 signature, by PyJWT (``algorithms=["RS256"]`` once more)           ("bad signature")
5. ``exp`` present and not past (``now`` and ``leeway`` injectable); ``nbf``
   when present                                                                 ("expired", "not yet valid")
6. ``iss``: the project ID, or an http(s) URL whose path ends in ``/<project ID>`` ("wrong issuer")
7. the subject: ``dsub`` when present (it names the user), else ``sub``         ("wrong subject")
8. ``amr``: a list that holds the step-up's method (``totp``, ``email``)        ("no totp in amr")

Claims are checked here rather than by PyJWT so that ``now`` can be injected and every failure has our own reason.
A reason never contains the token. Trouble with the key set itself is not the token's fault: whatever ``fetch``
raises, and ``KeySetMalformed`` for an answer without a ``"keys"`` list, propagate from ``KeySet`` (and so from
``verify_session``) for the caller to answer "try again". A failed fetch leaves the cache and its clock untouched.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from jwt.types import Options

__all__ = ["KeySet", "KeySetMalformed", "SessionRejected", "verify_session"]

_ALG: Final = "RS256"
_MIN_BITS: Final = 2048
# Everything but the signature: claims are checked below, with our clock and our reasons.
_PYJWT_OPTIONS: Final[Options] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class SessionRejected(Exception):
    """The session JWT failed a check; ``reason`` is a short phrase for the audit trail and logs (never the token)."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySetMalformed(ValueError):
    """Descope's key endpoint answered something other than ``{"keys": [...]}``."""


class KeySet:
    """Descope's public keys (GET /v2/keys/<project ID> → {"keys": [JWK, ...]}), cached by kid; fetched on first use,
    and again on an unknown kid at most once every ``refetch_after`` seconds (30).

    Only RSA signing keys are kept (kty RSA, alg RS256 or absent, use "sig" or absent, 2048 bits or more); other
    entries are skipped, not fatal. A refetch replaces the cache, so a key Descope retired stops verifying. The 30 s
    are counted from the last successful fetch, the first one included. The lock is held during a fetch, so callers
    racing on the same unknown kid wait for one fetch instead of each making their own.
    """

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        refetch_after: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self._monotonic = monotonic
        self._refetch_after = refetch_after
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> RSAPublicKey | None:
        """The key named ``kid``, refetching the set if it is unknown and the last fetch is old enough."""
        with self._lock:
            if kid not in self._keys and (
                self._fetched_at is None or self._monotonic() - self._fetched_at >= self._refetch_after
            ):
                self._refresh()
            return self._keys.get(kid)

    def count(self) -> int:
        """How many usable RS256 keys are cached (fetching first if never fetched); for the setup doctor."""
        with self._lock:
            if self._fetched_at is None:
                self._refresh()
            return len(self._keys)

    def _refresh(self) -> None:  # under the lock
        answer = self._fetch()
        entries = answer.get("keys") if isinstance(answer, Mapping) else None
        if not isinstance(entries, list):
            raise KeySetMalformed('the key set is malformed (no "keys" list)')
        keys: dict[str, RSAPublicKey] = {}
        for entry in entries:
            parsed = _usable(entry)
            if parsed is not None and parsed[0] not in keys:
                keys[parsed[0]] = parsed[1]
        self._keys = keys
        self._fetched_at = self._monotonic()


def _usable(entry: object) -> tuple[str, RSAPublicKey] | None:
    """``(kid, key)`` for an RSA signing JWK, else None."""
    if not isinstance(entry, Mapping):
        return None
    kid = entry.get("kid")
    signing = entry.get("kty") == "RSA" and entry.get("alg", _ALG) == _ALG and entry.get("use", "sig") == "sig"
    if not (signing and isinstance(kid, str) and kid):
        return None
    try:
        key = RSAAlgorithm.from_jwk(dict(entry))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    if isinstance(key, RSAPrivateKey):  # a JWK carrying "d": keep only its public half
        key = key.public_key()
    return (kid, key) if key.key_size >= _MIN_BITS else None


def verify_session(
    token: str,
    *,
    keys: KeySet,
    project_id: str,
    subject: str,
    method: str,
    now: float | None = None,
    leeway: float = 0,
    max_age: float | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` once every check passes; raises SessionRejected(reason) otherwise. ``max_age``: the
    session must also have been issued (``iat``) at most that many seconds ago: a session just opened, not an older
    one of the same person's replayed."""
    if not (project_id and subject and method):
        raise ValueError("project_id, subject and method must not be empty")
    header = _header(token)
    alg = header.get("alg")
    if alg != _ALG:
        raise SessionRejected(f"algorithm {_printable(alg)} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SessionRejected("unknown signing key (no kid)")
    key = keys.key(kid)
    if key is None:
        raise SessionRejected("unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[_ALG], options=_PYJWT_OPTIONS)
    except jwt.InvalidSignatureError:
        raise SessionRejected("bad signature") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise SessionRejected("malformed") from None

    moment = time.time() if now is None else now
    exp = claims.get("exp")
    if not _is_number(exp):
        raise SessionRejected("missing or malformed exp")
    if exp <= moment - leeway:
        raise SessionRejected("expired")
    nbf = claims.get("nbf", moment)
    if not _is_number(nbf) or nbf > moment + leeway:
        raise SessionRejected("not yet valid")
    if max_age is not None:
        iat = claims.get("iat")
        if not _is_number(iat) or not moment - max_age - leeway <= iat <= moment + leeway:
            raise SessionRejected("not issued just now")
    if not _issuer_ok(claims.get("iss"), project_id):
        raise SessionRejected("wrong issuer")
    actual = claims["dsub"] if "dsub" in claims else claims.get("sub")
    if actual != subject:
        raise SessionRejected("wrong subject")
    amr = claims.get("amr")
    if not isinstance(amr, list):
        raise SessionRejected("no amr claim")
    if method not in amr:
        raise SessionRejected(f"no {method} in amr")
    return claims


def _header(token: object) -> dict[str, Any]:
    if not isinstance(token, str):
        raise SessionRejected("malformed")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise SessionRejected("malformed")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SessionRejected("malformed") from None
    if not isinstance(header, dict):
        raise SessionRejected("malformed")
    return header


def _printable(alg: object) -> str:
    """The header's ``alg`` as safe, short text for a reason (``missing`` if absent)."""
    if alg is None:
        return "missing"
    text = alg if isinstance(alg, str) else type(alg).__name__
    return re.sub(r"[^A-Za-z0-9_+-]", "?", text[:16]) or "(empty)"


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _issuer_ok(iss: object, project_id: str) -> bool:
    if not isinstance(iss, str):
        return False
    if iss == project_id:
        return True
    url = urlsplit(iss)
    simple = url.scheme in ("https", "http") and bool(url.netloc) and not (url.query or url.fragment)
    return simple and url.path.endswith("/" + project_id)
