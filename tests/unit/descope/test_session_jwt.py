"""Local verification of Descope's step-up session JWT: keys, algorithms, claims, and the key set's refetch pacing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bot.descope.session_jwt import KeySet, KeySetMalformed, SessionRejected, verify_session

PROJECT = "P2abcDEF"
USER = "U2userXYZ"
NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


def jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256", "use": "sig", **extra}


class Fetcher:
    """A fake GET /v2/keys: answers ``keys`` (mutable), counts calls."""

    def __init__(self, *entries: Any) -> None:
        self.keys: list[Any] = list(entries)
        self.calls = 0

    def __call__(self) -> Mapping[str, Any]:
        self.calls += 1
        return {"keys": list(self.keys)}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": f"https://api.descope.com/{PROJECT}",
        "sub": USER,
        "exp": int(NOW) + 600,
        "iat": int(NOW) - 5,
        "amr": ["totp"],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: rsa.RSAPrivateKey, kid: str | None = "k1", **over: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**over), key, algorithm="RS256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_built(header: Mapping[str, Any], body: Mapping[str, Any], sign_with: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signing_input}.{b64(sign_with(signing_input.encode()))}"


def verify(token: str, keys: KeySet, **over: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"project_id": PROJECT, "subject": USER, "method": "totp", "now": NOW, **over}
    return verify_session(token, keys=keys, **kwargs)


def rejected(token: str, keys: KeySet, **over: Any) -> str:
    """The reason ``token`` is rejected for; also checks the token never shows in the exception."""
    with pytest.raises(SessionRejected) as info:
        verify(token, keys, **over)
    error = info.value
    if token:
        assert token not in str(error) and token not in repr(error) and token not in error.reason
    assert str(error) == error.reason
    assert error.__cause__ is None
    return error.reason


@pytest.fixture
def keys(rsa_keys: list[rsa.RSAPrivateKey]) -> KeySet:
    return KeySet(Fetcher(jwk(rsa_keys[0], "k1")))


def test_a_good_token_passes_and_its_claims_are_returned(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    result = verify(sign(rsa_keys[0]), keys)
    assert result["sub"] == USER and result["amr"] == ["totp"]
    assert verify(sign(rsa_keys[0], aud=PROJECT, nbf=int(NOW) - 5), keys)["aud"] == PROJECT  # aud is not ours to check


def test_email_method_and_bare_project_id_issuer(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    token = sign(rsa_keys[0], iss=PROJECT, amr=["email", "mfa"])
    assert verify(token, keys, method="email")["iss"] == PROJECT


def test_expired(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert "expired" in rejected(sign(rsa_keys[0], exp=int(NOW) - 1), keys)
    assert "expired" in rejected(sign(rsa_keys[0], exp=int(NOW)), keys)
    assert verify(sign(rsa_keys[0], exp=int(NOW) - 1), keys, leeway=5)  # within leeway


def test_expiry_is_required(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    token = jwt.encode({k: v for k, v in claims().items() if k != "exp"}, rsa_keys[0], "RS256", {"kid": "k1"})
    assert "exp" in rejected(token, keys)
    assert "exp" in rejected(sign(rsa_keys[0], exp="tomorrow"), keys)


def test_not_before_in_the_future(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert "not yet valid" in rejected(sign(rsa_keys[0], nbf=int(NOW) + 60), keys)


@pytest.mark.parametrize(
    "iss",
    [
        "P2other",
        "https://api.descope.com/P2other",
        f"https://api.descope.com/{PROJECT}/extra",
        f"https://evil.example/?p=/{PROJECT}",
        f"https://evil.example/x#/{PROJECT}",
        f"https://api.descope.com/not{PROJECT}",
        f"{PROJECT}.evil.example",
        f"/{PROJECT}",
        f"ftp://host/{PROJECT}",
        "",
    ],
)
def test_wrong_issuer(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet, iss: str) -> None:
    assert "wrong issuer" in rejected(sign(rsa_keys[0], iss=iss), keys)


def test_an_issuer_that_is_not_a_string(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    def rs256(data: bytes) -> bytes:
        return rsa_keys[0].sign(data, padding.PKCS1v15(), hashes.SHA256())

    token = hand_built({"alg": "RS256", "kid": "k1"}, claims(iss=[PROJECT]), rs256)
    assert "wrong issuer" in rejected(token, keys)


def test_issuer_is_required(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    token = jwt.encode({k: v for k, v in claims().items() if k != "iss"}, rsa_keys[0], "RS256", {"kid": "k1"})
    assert "wrong issuer" in rejected(token, keys)


@pytest.mark.parametrize("iss", [f"https://api.descope.com/{PROJECT}", f"https://auth.acme.com/v1/{PROJECT}"])
def test_issuer_as_url_passes(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet, iss: str) -> None:
    assert verify(sign(rsa_keys[0], iss=iss), keys)["iss"] == iss


def test_wrong_subject(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert "wrong subject" in rejected(sign(rsa_keys[0], sub="U2someoneElse"), keys)
    assert "wrong subject" in rejected(sign(rsa_keys[0], sub=None), keys)


def test_dsub_is_honoured_over_sub(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert verify(sign(rsa_keys[0], sub="U2impersonator", dsub=USER), keys)["dsub"] == USER
    assert "wrong subject" in rejected(sign(rsa_keys[0], sub=USER, dsub="U2someoneElse"), keys)


def test_amr_must_hold_the_method(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert "amr" in rejected(sign(rsa_keys[0], amr=None), keys)
    assert "amr" in rejected(sign(rsa_keys[0], amr="totp"), keys)
    assert rejected(sign(rsa_keys[0], amr=["email"]), keys) == "no totp in amr"
    assert rejected(sign(rsa_keys[0], amr=["totp"]), keys, method="email") == "no email in amr"


def test_unknown_kid_refetches_at_most_once_per_30_seconds(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch, clock = Fetcher(jwk(rsa_keys[0], "k1")), Clock()
    keys = KeySet(fetch, monotonic=clock)
    assert keys.key("k1") is not None and fetch.calls == 1  # first use
    assert keys.key("k1") is not None and fetch.calls == 1  # cached
    clock.t += 5
    assert keys.key("k2") is None and fetch.calls == 1  # the first fetch counts: 5 s is too fresh to refetch
    clock.t += 25
    assert "unknown signing key" in rejected(sign(rsa_keys[1], kid="k2"), keys)
    assert fetch.calls == 2  # refetched once for the unknown kid
    clock.t += 29.9
    assert "unknown signing key" in rejected(sign(rsa_keys[1], kid="k3"), keys)
    assert fetch.calls == 2  # within 30 s of the last fetch: no refetch
    clock.t += 0.1
    assert "unknown signing key" in rejected(sign(rsa_keys[1], kid="k3"), keys)
    assert fetch.calls == 3  # 30 s later: refetched


def test_a_key_that_appears_after_a_refetch_verifies(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch, clock = Fetcher(jwk(rsa_keys[0], "k1")), Clock()
    keys = KeySet(fetch, monotonic=clock)
    assert keys.count() == 1
    fetch.keys.append(jwk(rsa_keys[1], "k2"))
    clock.t += 30
    assert verify(sign(rsa_keys[1], kid="k2"), keys)["sub"] == USER
    assert fetch.calls == 2 and keys.count() == 2


def test_a_refetch_drops_retired_keys(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch, clock = Fetcher(jwk(rsa_keys[0], "k1")), Clock()
    keys = KeySet(fetch, monotonic=clock)
    assert keys.key("k1") is not None
    fetch.keys = [jwk(rsa_keys[1], "k2")]
    clock.t += 30
    assert keys.key("k2") is not None and keys.key("k1") is None


def test_forged_signature_with_the_right_kid(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert rejected(sign(rsa_keys[2], kid="k1"), keys) == "bad signature"
    good = sign(rsa_keys[0])
    head, _body, sig = good.split(".")
    tampered_body = b64(json.dumps(claims(sub="U2attacker")).encode())
    assert rejected(f"{head}.{tampered_body}.{sig}", keys) == "bad signature"


def test_alg_none_is_refused_before_any_key_use(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch = Fetcher(jwk(rsa_keys[0], "k1"))
    keys = KeySet(fetch)
    token = hand_built({"alg": "none", "kid": "k1", "typ": "JWT"}, claims(), lambda _: b"")
    assert token.endswith(".")
    assert rejected(token, keys) == "algorithm none is not accepted"
    assert fetch.calls == 0
    assert "algorithm" in rejected(hand_built({"alg": "None", "kid": "k1"}, claims(), lambda _: b""), keys)
    assert "algorithm missing" in rejected(hand_built({"kid": "k1"}, claims(), lambda _: b""), keys)


def test_hs256_keyed_with_the_public_key_is_refused(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch = Fetcher(jwk(rsa_keys[0], "k1"))
    keys = KeySet(fetch)
    pem = (
        rsa_keys[0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = hand_built(
        {"alg": "HS256", "kid": "k1"}, claims(), lambda data: hmac.new(pem, data, hashlib.sha256).digest()
    )
    assert rejected(token, keys) == "algorithm HS256 is not accepted"
    assert fetch.calls == 0


def test_a_hostile_alg_value_is_not_echoed_verbatim(keys: KeySet) -> None:
    token = hand_built({"alg": "RS256\n" + "x" * 500, "kid": "k1"}, claims(), lambda _: b"sig")
    reason = rejected(token, keys)
    assert "\n" not in reason and len(reason) < 60


def test_kid_missing(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    assert "unknown signing key" in rejected(sign(rsa_keys[0], kid=None), keys)
    assert "unknown signing key" in rejected(sign(rsa_keys[0], kid=""), keys)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "garbage",
        "a.b.c",
        "..",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9..sig",
        f"{b64(b'[1]')}.{b64(b'{}')}.x",
        b64(bytes([255, 254])) + ".e30.x",
    ],
)
def test_malformed_strings(keys: KeySet, token: str) -> None:
    assert rejected(token, keys) == "malformed"


def test_a_body_that_is_not_json_is_malformed(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    header = b64(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    assert rejected(f"{header}.{b64(b'not json')}.{b64(b'sig')}", keys) in ("malformed", "bad signature")


def test_ec_and_encryption_keys_are_ignored(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec1", "alg": "ES256"}
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    fetch = Fetcher(
        jwk(rsa_keys[0], "k1"),
        ec_jwk,
        jwk(rsa_keys[1], "enc1", use="enc"),
        jwk(rsa_keys[2], "rs512", alg="RS512"),
        jwk(small, "small"),
        {"kty": "RSA", "kid": "broken", "n": "!!"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},  # no kid
        "not a dict",
    )
    keys = KeySet(fetch)
    assert keys.count() == 1
    assert "unknown signing key" in rejected(sign(rsa_keys[1], kid="enc1"), keys)
    assert "unknown signing key" in rejected(sign(rsa_keys[2], kid="rs512"), keys)
    assert verify(sign(rsa_keys[0]), keys)["sub"] == USER


def test_a_jwk_without_alg_or_use_is_kept(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    bare = {k: v for k, v in jwk(rsa_keys[0], "k1").items() if k not in ("alg", "use")}
    assert verify(sign(rsa_keys[0]), KeySet(Fetcher(bare)))["sub"] == USER


@pytest.mark.parametrize("answer", [{}, {"keys": None}, {"keys": {"k1": {}}}, [], "garbage", None])
def test_a_garbage_key_set_raises_key_set_malformed(rsa_keys: list[rsa.RSAPrivateKey], answer: Any) -> None:
    keys = KeySet(lambda: answer)
    with pytest.raises(KeySetMalformed):
        verify(sign(rsa_keys[0]), keys)
    with pytest.raises(ValueError):
        keys.count()


def test_a_failed_fetch_propagates_and_is_retried_next_time(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    outcomes: list[Any] = [ConnectionError("down"), {"keys": [jwk(rsa_keys[0], "k1")]}]

    def fetch() -> Mapping[str, Any]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    keys = KeySet(fetch, monotonic=Clock())
    with pytest.raises(ConnectionError):
        verify(sign(rsa_keys[0]), keys)
    assert verify(sign(rsa_keys[0]), keys)["sub"] == USER  # at once, not 30 s later


def test_count_fetches_only_when_never_fetched(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch = Fetcher(jwk(rsa_keys[0], "k1"), jwk(rsa_keys[1], "k2"))
    keys = KeySet(fetch)
    assert keys.count() == 2 and keys.count() == 2
    assert fetch.calls == 1


def test_concurrent_lookups_of_an_unknown_kid_fetch_once(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fetch = Fetcher(jwk(rsa_keys[0], "k1"))
    keys = KeySet(fetch, monotonic=Clock())
    start = threading.Barrier(8)

    def look() -> None:
        start.wait()
        keys.key("nope")

    threads = [threading.Thread(target=look) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetch.calls == 1


def test_empty_expectations_are_a_programming_error(rsa_keys: list[rsa.RSAPrivateKey], keys: KeySet) -> None:
    with pytest.raises(ValueError):
        verify(sign(rsa_keys[0]), keys, subject="")


def test_a_session_issued_long_ago_is_refused_where_a_fresh_one_is_asked() -> None:
    """A replayed session of the same person (still unexpired) is not the one a code just opened."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = KeySet(lambda: {"keys": [{**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k"}]})
    now = 1_800_000_000.0

    def issued(at: float) -> str:
        claims = {"sub": "U1", "iss": "P2x", "iat": at, "exp": at + 3600, "amr": ["totp"]}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k"})

    check = {"keys": keys, "project_id": "P2x", "subject": "U1", "method": "totp", "now": now, "leeway": 30.0}
    assert verify_session(issued(now - 5), **check, max_age=120)["sub"] == "U1"  # type: ignore[arg-type]
    assert verify_session(issued(now - 600), **check)["sub"] == "U1"  # type: ignore[arg-type]  # no max_age: any
    for at in (now - 600, now + 300):
        with pytest.raises(SessionRejected) as rejected:
            verify_session(issued(at), **check, max_age=120)  # type: ignore[arg-type]
        assert rejected.value.reason == "not issued just now"
