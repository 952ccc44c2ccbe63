"""The fake Descope's step-up, over HTTP as the bot meets it: the key set, TOTP and emailed codes, the JWT response
(refresh JWT in the body or the DSR cookie), logout of a step-up session, the forged session JWTs, and faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from bot.devtools import FakeDescope
from bot.devtools.descope_api import (
    FORGE_KINDS,
    KEYS,
    LOGOUT,
    OTP_SIGNIN_EMAIL,
    OTP_VERIFY_EMAIL,
    REFRESH,
    STOP_IMPERSONATION,
    TOTP_VERIFY,
    USER_LOAD,
    decode_header,
)
from bot.devtools.descope_stepup import totp

ALICE = "alice@acme.com"
T0 = 1_700_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeDescope]:
    with FakeDescope() as fake:
        fake.add_user(ALICE, user_id="U-alice")
        fake.add_user("bob", user_id="U-bob", email="bob@corp.example")
        fake.add_user("nomail", user_id="U-nomail")
        yield fake


@pytest.fixture
def client(fake: FakeDescope) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.project_id}"}, timeout=5) as c:
        yield c


def served_key(client: httpx.Client, fake: FakeDescope) -> tuple[str, Any]:
    (entry,) = client.get(fake.keys_path, headers={"Authorization": ""}).json()["keys"]
    return entry["kid"], jwt.PyJWK(entry).key


def decode(token: str, key: Any, fake: FakeDescope) -> dict[str, Any]:
    """PyJWT's full check, as the bot would make it."""
    return jwt.decode(token, key, algorithms=["RS256"], issuer=f"{fake.url}/{fake.project_id}",
                      options={"require": ["exp", "iat", "iss", "sub", "amr"]})


def verify_totp(client: httpx.Client, fake: FakeDescope, login: str = ALICE, code: str | None = None,
                **extra: Any) -> httpx.Response:
    return client.post(TOTP_VERIFY, json={"loginId": login, "code": code or fake.totp_code(login), **extra})


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code
    return str(body["errorMessage"])


# -- keys ----------------------------------------------------------------------------------------------------------
def test_keys_are_public_and_verify_a_good_session(fake: FakeDescope, client: httpx.Client) -> None:
    answer = httpx.get(fake.url + fake.keys_path)
    assert answer.status_code == 200
    (entry,) = answer.json()["keys"]
    assert {k: entry[k] for k in ("kty", "alg", "use")} == {"kty": "RSA", "alg": "RS256", "use": "sig"}
    assert jwt.PyJWK(entry).key.key_size == 2048
    fake.enroll_totp(ALICE)
    session = verify_totp(client, fake).json()["sessionJwt"]
    assert decode_header(session) == {"alg": "RS256", "kid": entry["kid"], "typ": "JWT"}
    claims = decode(session, jwt.PyJWK(entry).key, fake)
    assert claims["sub"] == "U-alice" and claims["amr"] == ["totp"] and claims["drn"] == "DS"
    assert claims["exp"] - claims["iat"] == 600 and abs(claims["iat"] - time.time()) < 5
    assert fake.calls_to(fake.keys_path)[0].status == 200


def test_keys_of_another_project_are_refused(fake: FakeDescope, client: httpx.Client) -> None:
    refused(client.get(KEYS + "P2other"), 400, "E011003")


def test_rotated_keys_serve_only_the_new_kid(fake: FakeDescope, client: httpx.Client) -> None:
    old_kid, old_key = served_key(client, fake)
    new_kid = fake.rotate_keys()
    kid, key = served_key(client, fake)
    assert kid == new_kid != old_kid
    fake.enroll_totp(ALICE)
    session = verify_totp(client, fake).json()["sessionJwt"]
    assert decode_header(session)["kid"] == new_kid and decode(session, key, fake)["sub"] == "U-alice"
    with pytest.raises(jwt.InvalidSignatureError):
        decode(session, old_key, fake)


# -- authentication -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [TOTP_VERIFY, OTP_SIGNIN_EMAIL, OTP_VERIFY_EMAIL])
@pytest.mark.parametrize("bearer", [None, "Bearer P2other", "Bearer {pid}:K-test", "{pid}"])
def test_authentication_calls_take_the_project_id_alone(fake: FakeDescope, path: str, bearer: str | None) -> None:
    headers = {} if bearer is None else {"Authorization": bearer.format(pid=fake.project_id)}
    refused(httpx.post(fake.url + path, json={"loginId": ALICE, "code": "123456"}, headers=headers), 401, "E011003")
    assert fake.calls_to(path)[-1].failed
    assert fake.mailed(ALICE) == []


# -- TOTP -------------------------------------------------------------------------------------------------------------
def test_totp_is_rfc_6238() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert [totp(secret, t) for t in (59, 1111111109, 1234567890, 2000000000)] == [
        "287082", "081804", "005924", "279037"]


def test_a_good_totp_code_answers_the_jwt_response(fake: FakeDescope, client: httpx.Client) -> None:
    secret = fake.enroll_totp(ALICE)
    assert len(base64.b32decode(secret)) == 20
    assert fake.totp_code(ALICE) == totp(secret, time.time())
    answer = verify_totp(client, fake, loginOptions={"customClaims": {"k": "v"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"sessionJwt", "refreshJwt", "user", "firstSeen"} and body["firstSeen"] is False
    assert body["user"]["userId"] == "U-alice" and body["user"]["TOTP"] is True
    refresh = fake.verify(body["refreshJwt"])
    assert refresh["drn"] == "DSR" and refresh["sub"] == "U-alice"
    assert fake.stepup_sessions() == fake.open_stepup_sessions() == [body["refreshJwt"]]
    assert fake.active_tokens() == []  # no impersonation


def test_totp_takes_the_current_step_and_one_either_side(fake: FakeDescope, client: httpx.Client) -> None:
    fake.clock = lambda: T0
    fake.enroll_totp(ALICE)
    for at in (T0 - 30, T0, T0 + 30):  # oldest first: each is newer than the one used before
        assert verify_totp(client, fake, code=fake.totp_code(ALICE, at)).status_code == 200
    fake.enroll_totp("bob")
    for at in (T0 - 60, T0 + 60):
        assert refused(verify_totp(client, fake, "bob", fake.totp_code("bob", at)), 401, "E061102")
    assert fake.stepup_sessions() and len(fake.stepup_sessions()) == 3


def test_a_wrong_totp_code_is_refused(fake: FakeDescope, client: httpx.Client) -> None:
    fake.enroll_totp(ALICE)
    wrong = f"{(int(fake.totp_code(ALICE)) + 1) % 1_000_000:06d}"
    refused(verify_totp(client, fake, code=wrong), 401, "E061102")
    refused(verify_totp(client, fake, code="not-a-code"), 401, "E061102")
    assert fake.stepup_sessions() == []


def test_a_used_totp_code_or_an_older_one_is_refused(fake: FakeDescope, client: httpx.Client) -> None:
    fake.clock = lambda: T0
    fake.enroll_totp(ALICE)
    code = fake.totp_code(ALICE)
    assert verify_totp(client, fake, code=code).status_code == 200
    assert "already used" in refused(verify_totp(client, fake, code=code), 401, "E061102")
    assert "already used" in refused(verify_totp(client, fake, code=fake.totp_code(ALICE, T0 - 30)), 401, "E061102")
    assert len(fake.stepup_sessions()) == 1


def test_totp_refusals_for_the_user(fake: FakeDescope, client: httpx.Client) -> None:
    assert "no authenticator" in refused(verify_totp(client, fake, code="123456"), 400, "E011004")
    refused(verify_totp(client, fake, "nobody@acme.com", "123456"), 400, "E062108")
    refused(client.post(TOTP_VERIFY, json={"loginId": ALICE}), 400, "E011002")
    refused(client.post(TOTP_VERIFY, json={"loginId": ALICE, "code": 123456}), 400, "E011004")
    fake.enroll_totp(ALICE)
    refused(verify_totp(client, fake, loginOptions={"stepup": True}), 400, "E011002")
    with pytest.raises(KeyError):
        fake.enroll_totp("nobody@acme.com")
    with pytest.raises(KeyError):
        fake.totp_code("bob")


def test_the_user_object_shows_totp_and_the_verified_email(fake: FakeDescope) -> None:
    def user(login: str) -> dict[str, Any]:
        answer = httpx.get(fake.url + USER_LOAD, params={"loginId": login}, headers=fake.auth_headers)
        return dict(answer.json()["user"])

    assert user(ALICE)["TOTP"] is False
    assert (user(ALICE)["email"], user(ALICE)["verifiedEmail"]) == (ALICE, True)
    assert (user("bob")["email"], user("bob")["verifiedEmail"]) == ("bob@corp.example", True)
    assert user("nomail")["verifiedEmail"] is False
    fake.enroll_totp(ALICE)
    assert user(ALICE)["TOTP"] is True


# -- email OTP ---------------------------------------------------------------------------------------------------------
def sign_in(client: httpx.Client, login: str = ALICE) -> httpx.Response:
    return client.post(OTP_SIGNIN_EMAIL, json={"loginId": login})


def verify_mailed(client: httpx.Client, code: str | None, login: str = ALICE) -> httpx.Response:
    return client.post(OTP_VERIFY_EMAIL, json={"loginId": login, "code": code})


def test_email_sign_in_masks_the_address_and_mails_a_code(fake: FakeDescope, client: httpx.Client) -> None:
    assert sign_in(client).json() == {"maskedEmail": "a***@acme.com"}
    assert sign_in(client, "bob").json() == {"maskedEmail": "b***@corp.example"}
    code = fake.mailed_code(ALICE)
    assert code is not None and len(code) == 6 and code.isdigit()
    assert fake.mailed(ALICE) == [code] and fake.mailed("ALICE@acme.com") == [code]
    refused(sign_in(client, "nomail"), 400, "E011004")
    refused(sign_in(client, "nobody@acme.com"), 400, "E062108")
    assert fake.mailed_code("nobody@acme.com") is None


def test_the_mailed_code_verifies_once(fake: FakeDescope, client: httpx.Client) -> None:
    sign_in(client)
    code = fake.mailed_code(ALICE)
    answer = verify_mailed(client, code)
    assert answer.status_code == 200, answer.text
    _, key = served_key(client, fake)
    assert decode(answer.json()["sessionJwt"], key, fake)["amr"] == ["email"]
    assert answer.json()["user"]["TOTP"] is False
    refused(verify_mailed(client, code), 401, "E061102")


def test_a_wrong_mailed_code_is_refused_and_the_right_one_still_works(fake: FakeDescope, client: httpx.Client) -> None:
    refused(verify_mailed(client, "123456"), 401, "E061102")  # none mailed yet
    sign_in(client)
    code = fake.mailed_code(ALICE)
    assert code is not None
    refused(verify_mailed(client, f"{(int(code) + 1) % 1_000_000:06d}"), 401, "E061102")
    refused(verify_mailed(client, None), 400, "E011002")
    refused(verify_mailed(client, code, "nobody@acme.com"), 400, "E062108")
    assert verify_mailed(client, code).status_code == 200


def test_a_newer_mail_invalidates_the_older_code(fake: FakeDescope, client: httpx.Client) -> None:
    sign_in(client)
    sign_in(client)
    older, newer = fake.mailed(ALICE)
    if older != newer:  # one chance in a million that they are the same
        refused(verify_mailed(client, older), 401, "E061102")
    assert verify_mailed(client, newer).status_code == 200


def test_a_mailed_code_expires_after_five_minutes(fake: FakeDescope, client: httpx.Client) -> None:
    now = [T0]
    fake.clock = lambda: now[0]
    sign_in(client)
    now[0] = T0 + 299
    assert verify_mailed(client, fake.mailed_code(ALICE)).status_code == 200
    sign_in(client)
    now[0] += 301
    assert "expired" in refused(verify_mailed(client, fake.mailed_code(ALICE)), 401, "E061102")


# -- the refresh JWT --------------------------------------------------------------------------------------------------
def test_the_refresh_jwt_can_come_only_as_the_dsr_cookie(fake: FakeDescope, client: httpx.Client) -> None:
    fake.refresh_in_cookie = True
    fake.enroll_totp(ALICE)
    answer = verify_totp(client, fake)
    assert answer.status_code == 200 and "refreshJwt" not in answer.json()
    (refresh,) = fake.stepup_sessions()
    assert answer.headers["set-cookie"] == f"DSR={refresh}; Path=/; HttpOnly; Secure"


def test_logout_closes_the_stepup_session(fake: FakeDescope, client: httpx.Client) -> None:
    fake.enroll_totp(ALICE)
    refresh = verify_totp(client, fake).json()["refreshJwt"]
    assert fake.refresh(refresh) == 200
    bearer = {"Authorization": f"Bearer {fake.project_id}:{refresh}"}
    assert client.post(LOGOUT, json={}, headers=bearer).status_code == 200
    assert fake.open_stepup_sessions() == [] and fake.stepup_sessions() == [refresh]
    refused(client.post(REFRESH, json={}, headers=bearer), 401, "E064001")


def test_a_stepup_refresh_jwt_is_no_impersonation_to_stop(fake: FakeDescope, client: httpx.Client) -> None:
    fake.enroll_totp(ALICE)
    refresh = verify_totp(client, fake).json()["refreshJwt"]
    answer = httpx.post(fake.url + STOP_IMPERSONATION, json={"jwt": refresh}, headers=fake.auth_headers)
    refused(answer, 400, "E011004")


# -- forgeries --------------------------------------------------------------------------------------------------------
REJECTED_AS: dict[str, type[jwt.PyJWTError] | None] = {
    "other_key": jwt.InvalidSignatureError,
    "unknown_kid": jwt.InvalidSignatureError,
    "wrong_sub": None,  # genuine: only its sub differs
    "wrong_iss": jwt.InvalidIssuerError,
    "expired": jwt.ExpiredSignatureError,
    "no_amr": jwt.MissingRequiredClaimError,
    "alg_none": jwt.InvalidAlgorithmError,
    "hs256_public_key": jwt.InvalidAlgorithmError,
}


def test_every_forgery_is_tested() -> None:
    assert set(REJECTED_AS) == set(FORGE_KINDS)


@pytest.mark.parametrize("kind", FORGE_KINDS)
def test_each_forgery_fails_verification_with_the_served_key(
        fake: FakeDescope, client: httpx.Client, kind: str) -> None:
    kid, key = served_key(client, fake)
    fake.enroll_totp(ALICE)
    fake.forge_next_session(kind)
    body = verify_totp(client, fake).json()
    forged = body["sessionJwt"]
    assert fake.verify(body["refreshJwt"])["sub"] == "U-alice"  # the refresh JWT is a real one
    rejection = REJECTED_AS[kind]
    if rejection is None:
        assert decode(forged, key, fake)["sub"] != "U-alice"
    else:
        with pytest.raises(rejection):
            decode(forged, key, fake)
    assert (decode_header(forged)["kid"] == kid) is (kind != "unknown_kid")
    next_code = fake.totp_code(ALICE, time.time() + 30)  # the next step's: the next verification is genuine again
    assert decode(verify_totp(client, fake, code=next_code).json()["sessionJwt"], key, fake)["sub"] == "U-alice"


def test_the_algorithm_forgeries_are_what_a_naive_verifier_accepts(fake: FakeDescope, client: httpx.Client) -> None:
    _, key = served_key(client, fake)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fake.enroll_totp(ALICE)
    fake.clock = lambda: T0
    tokens = {}
    for at, kind in ((T0 - 30, "alg_none"), (T0, "hs256_public_key")):
        fake.forge_next_session(kind)
        tokens[kind] = verify_totp(client, fake, code=fake.totp_code(ALICE, at)).json()["sessionJwt"]
    head, claims, signature = tokens["alg_none"].split(".")
    assert decode_header(tokens["alg_none"])["alg"] == "none" and signature == ""
    head, claims, signature = tokens["hs256_public_key"].split(".")
    expected = hmac.new(pem, f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert decode_header(tokens["hs256_public_key"])["alg"] == "HS256"
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected


def test_an_unknown_forgery_is_an_error(fake: FakeDescope) -> None:
    with pytest.raises(ValueError, match="unknown forgery"):
        fake.forge_next_session("rot13")


# -- faults -----------------------------------------------------------------------------------------------------------
def test_faults_and_latency_apply_to_the_stepup_paths(fake: FakeDescope, client: httpx.Client) -> None:
    fake.enroll_totp(ALICE)
    fake.fail_next(TOTP_VERIFY, status=503)
    code = fake.totp_code(ALICE)
    refused(verify_totp(client, fake, code=code), 503, "E000503")
    assert verify_totp(client, fake, code=code).status_code == 200  # the fault consumed nothing
    fake.drop_next(OTP_SIGNIN_EMAIL)
    with pytest.raises(httpx.TransportError):
        sign_in(client)
    assert fake.calls_to(OTP_SIGNIN_EMAIL)[-1].status is None and fake.mailed(ALICE) == []
    fake.fail_next(KEYS, status=429, retry_after=2)  # any project's key set
    answer = client.get(fake.keys_path)
    assert refused(answer, 429, "E130429") and answer.headers["retry-after"] == "2"
    fake.fail_next(fake.keys_path, status=500)
    refused(client.get(fake.keys_path), 500, "E000500")
    fake.set_latency(OTP_VERIFY_EMAIL, 0.2)
    started = time.monotonic()
    verify_mailed(client, "123456")
    assert time.monotonic() - started >= 0.2
