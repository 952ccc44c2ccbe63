"""The step-up (``bot.descope.stepup.StepUp``) through a real ``DescopeClient`` whose transport is
``httpx.MockTransport``: a code verified at Descope with the project ID alone as the bearer, the session it answers
checked against the project's keys (a real RSA key and its JWKS), and that session logged out whatever the checks
said."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.descope import DescopeClient, DescopeRefused, DescopeUnavailable
from bot.descope.session_jwt import SessionRejected
from bot.descope.stepup import CodeRejected
from tests.unit.descope.test_client import KEY, PROJECT, Sleeps, descope_error

LOGIN = "ada@corp.example"
USER_ID = "U2adaXYZ"
CODE = "482913"
REFRESH = "eyJhbGciOiJSUzI1NiJ9.eyJkcm4iOiJEU1IifQ.cmVmcmVzaC1zaWduYXR1cmU"
KEYS_PATH = f"/v2/keys/{PROJECT}"
TOTP_VERIFY = "/v1/auth/totp/verify"
EMAIL_VERIFY = "/v1/auth/otp/verify/email"
EMAIL_SIGNIN = "/v1/auth/otp/signin/email"
LOGOUT = "/v1/auth/logout"
LOAD_USER = "/v1/mgmt/user"


@pytest.fixture(scope="module")
def descope_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def session_jwt(key: rsa.RSAPrivateKey, *, kid: str = "k1", method: str = "totp", **over: Any) -> str:
    claims: dict[str, Any] = {"iss": f"https://api.descope.com/{PROJECT}", "sub": USER_ID,
                              "exp": int(time.time()) + 600, "iat": int(time.time()) - 5, "amr": [method]}
    claims.update(over)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


class FakeDescope:
    """Descope's step-up endpoints as a ``MockTransport`` handler, recording every request.

    ``verify`` is the answer to either verify call (a response, or a function of the request); the keys, the user
    and the mailed code's answer are Descope's as documented."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.requests: list[httpx.Request] = []
        self.keys = [{**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "RS256",
                      "use": "sig"}]
        self.user: httpx.Response = httpx.Response(200, json={"user": {"userId": USER_ID, "loginIds": [LOGIN],
                                                                       "email": LOGIN, "status": "enabled"}})
        self.verify: httpx.Response = httpx.Response(200, json={"sessionJwt": session_jwt(key),
                                                                "refreshJwt": REFRESH})
        self.key_set: httpx.Response | None = None  # another answer to the key set's GET

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == KEYS_PATH:
            return self.key_set or httpx.Response(200, json={"keys": self.keys})
        if request.method == "GET" and path == LOAD_USER:
            return self.user
        if request.method == "POST" and path in (TOTP_VERIFY, EMAIL_VERIFY):
            return self.verify
        if request.method == "POST" and path == LOGOUT:
            return httpx.Response(200, json={})
        if request.method == "POST" and path == EMAIL_SIGNIN:
            return httpx.Response(200, json={"maskedEmail": "a***@corp.example"})
        return httpx.Response(404, json={"errorCode": "E000404", "errorDescription": f"no route {path}"})

    def to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def logged_out(self) -> list[str]:
        """The bearer of each logout: ``<project>:<refresh JWT>``."""
        return [r.headers["Authorization"].removeprefix("Bearer ") for r in self.to(LOGOUT)]


@pytest.fixture
def descope(descope_key: rsa.RSAPrivateKey) -> FakeDescope:
    return FakeDescope(descope_key)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(descope: FakeDescope, sleeps: Sleeps) -> Iterator[DescopeClient]:
    with DescopeClient(PROJECT, KEY, transport=httpx.MockTransport(descope), sleep=sleeps) as made:
        yield made


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- a good code -----------------------------------------------------------------------------------------------------


def test_a_totp_code_is_verified_with_the_project_id_as_bearer_then_its_session_logged_out(
        client: DescopeClient, descope: FakeDescope) -> None:
    client.stepup.prove("totp", LOGIN, CODE)

    [verify] = descope.to(TOTP_VERIFY)
    assert body(verify) == {"loginId": LOGIN, "code": CODE}
    assert verify.headers["Authorization"] == f"Bearer {PROJECT}"  # an authentication call: no management key
    assert KEY not in str(verify.headers)
    [user] = descope.to(LOAD_USER)
    assert user.url.params["loginId"] == LOGIN
    assert descope.logged_out() == [f"{PROJECT}:{REFRESH}"]
    assert descope.to(EMAIL_VERIFY) == []
    assert [r.url.path for r in descope.requests].index(LOGOUT) == len(descope.requests) - 1  # closed last


def test_the_client_proves_through_its_step_up(client: DescopeClient, descope: FakeDescope) -> None:
    client.prove("totp", LOGIN, CODE)
    assert len(descope.to(TOTP_VERIFY)) == 1 and descope.logged_out() == [f"{PROJECT}:{REFRESH}"]


def test_a_refresh_jwt_sent_only_as_the_dsr_cookie_is_logged_out_too(
        client: DescopeClient, descope: FakeDescope, descope_key: rsa.RSAPrivateKey) -> None:
    descope.verify = httpx.Response(200, json={"sessionJwt": session_jwt(descope_key)},
                                    headers={"Set-Cookie": f"DSR={REFRESH}; Path=/; HttpOnly; Secure"})
    client.stepup.prove("totp", LOGIN, CODE)
    assert descope.logged_out() == [f"{PROJECT}:{REFRESH}"]


def test_an_emailed_code_is_verified_at_the_email_otp_endpoint(
        client: DescopeClient, descope: FakeDescope, descope_key: rsa.RSAPrivateKey) -> None:
    descope.verify = httpx.Response(200, json={"sessionJwt": session_jwt(descope_key, method="email"),
                                               "refreshJwt": REFRESH})
    client.stepup.prove("email", LOGIN, CODE)
    [verify] = descope.to(EMAIL_VERIFY)
    assert body(verify) == {"loginId": LOGIN, "code": CODE}
    assert verify.headers["Authorization"] == f"Bearer {PROJECT}"
    assert descope.to(TOTP_VERIFY) == [] and descope.logged_out() == [f"{PROJECT}:{REFRESH}"]


def test_the_keys_are_fetched_once_and_kept_across_proofs(client: DescopeClient, descope: FakeDescope) -> None:
    client.stepup.prove("totp", LOGIN, CODE)
    client.stepup.prove("totp", LOGIN, "104729")
    [keys] = descope.to(KEYS_PATH)
    assert keys.headers["Authorization"] == f"Bearer {PROJECT}"
    assert len(descope.to(TOTP_VERIFY)) == 2 and len(descope.logged_out()) == 2


# -- refusals --------------------------------------------------------------------------------------------------------


def test_a_code_descope_does_not_accept_is_rejected_without_ever_quoting_it(
        client: DescopeClient, descope: FakeDescope, sleeps: Sleeps) -> None:
    descope.verify = descope_error(401, "E061102", f"Invalid code {CODE}", f"the code {CODE} is wrong or expired")
    with pytest.raises(CodeRejected) as rejected:
        client.stepup.prove("totp", LOGIN, CODE)
    error = rejected.value
    assert (error.status, error.code) == (401, "E061102")
    assert isinstance(error, DescopeRefused) and not error.user_not_found
    assert CODE not in str(error) and CODE not in repr(error)
    assert len(descope.to(TOTP_VERIFY)) == 1 and sleeps == []
    assert descope.to(KEYS_PATH) == [] and descope.to(LOGOUT) == []  # no session was opened: nothing to close


def test_a_login_no_user_has_is_refused_as_user_not_found(client: DescopeClient, descope: FakeDescope) -> None:
    descope.user = descope_error(400, "E112102", "User not found")
    with pytest.raises(DescopeRefused) as refused:
        client.stepup.prove("totp", LOGIN, CODE)
    assert refused.value.user_not_found and not isinstance(refused.value, CodeRejected)
    assert descope.to(TOTP_VERIFY) == []  # the code was never spent


def test_a_session_signed_by_another_key_is_rejected_and_still_logged_out(
        client: DescopeClient, descope: FakeDescope, other_key: rsa.RSAPrivateKey) -> None:
    descope.verify = httpx.Response(200, json={"sessionJwt": session_jwt(other_key), "refreshJwt": REFRESH})
    with pytest.raises(SessionRejected) as rejected:
        client.stepup.prove("totp", LOGIN, CODE)
    assert rejected.value.reason == "bad signature"
    assert descope.logged_out() == [f"{PROJECT}:{REFRESH}"]


def test_a_session_for_another_user_is_rejected_and_logged_out(
        client: DescopeClient, descope: FakeDescope, descope_key: rsa.RSAPrivateKey) -> None:
    descope.verify = httpx.Response(200, json={"sessionJwt": session_jwt(descope_key, sub="U2mallory"),
                                               "refreshJwt": REFRESH})
    with pytest.raises(SessionRejected) as rejected:
        client.stepup.prove("totp", LOGIN, CODE)
    assert rejected.value.reason == "wrong subject"
    assert descope.logged_out() == [f"{PROJECT}:{REFRESH}"]


def test_a_key_set_out_of_reach_after_a_good_code_still_closes_the_session(
        client: DescopeClient, descope: FakeDescope) -> None:
    descope.key_set = httpx.Response(404, json={"errorCode": "E011003", "errorDescription": "no such project"})
    with pytest.raises(DescopeRefused):
        client.stepup.prove("totp", LOGIN, CODE)
    assert descope.logged_out() == [f"{PROJECT}:{REFRESH}"]  # the code is spent; its session must not live on


def test_a_refusal_that_is_not_about_the_code_is_no_wrong_code(client: DescopeClient, descope: FakeDescope) -> None:
    descope.verify = httpx.Response(400, json={"errorCode": "E011004", "errorDescription": "user has no TOTP"})
    with pytest.raises(DescopeRefused) as refused:
        client.stepup.prove("totp", LOGIN, CODE)
    assert not isinstance(refused.value, CodeRejected)  # an approver without an authenticator burns no strike


def test_a_500_on_verify_is_unavailable_and_never_retried(
        client: DescopeClient, descope: FakeDescope, sleeps: Sleeps) -> None:
    descope.verify = httpx.Response(500, json={"errorCode": "E000500", "errorDescription": "internal"})
    with pytest.raises(DescopeUnavailable):
        client.stepup.prove("totp", LOGIN, CODE)
    assert len(descope.to(TOTP_VERIFY)) == 1 and sleeps == []  # a code is single use: sending it again cannot help
    assert descope.to(LOGOUT) == []


# -- the emailed code ------------------------------------------------------------------------------------------------


def test_send_email_code_asks_descope_to_mail_one_and_answers_the_masked_address(
        client: DescopeClient, descope: FakeDescope) -> None:
    assert client.stepup.send_email_code(LOGIN) == "a***@corp.example"
    [signin] = descope.to(EMAIL_SIGNIN)
    assert body(signin) == {"loginId": LOGIN}
    assert signin.headers["Authorization"] == f"Bearer {PROJECT}"
    assert client.send_email_code(LOGIN) == "a***@corp.example"
