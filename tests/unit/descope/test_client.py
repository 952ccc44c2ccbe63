"""The Descope management client over ``httpx.MockTransport``: wire format, retries, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from bot.descope import (
    DescopeClient,
    DescopeError,
    DescopeRefused,
    DescopeUnavailable,
    Refusal,
    RetryPolicy,
    User,
    default_base_url,
    parse_retry_after,
)
from bot.descope.client import IMPERSONATE_PATIENCE, USER_AGENT
from bot.descope.retry import DEFAULT_RETRY

PROJECT = "P2abcDEFghiJKLmnoPQRstuVWXyz0123"  # 32 chars: a regional project ID
SHORT_PROJECT = "P2abcDEFghi"
KEY = "K2mgmt-key-very-secret-0123456789"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2lnbmF0dXJlLXNlY3JldA"

Handler = Callable[[httpx.Request], httpx.Response]
Make = Callable[..., "DescopeClient"]


class Recorder:
    """A MockTransport handler that plays a script of answers and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def _no_base_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESCOPE_BASE_URI", raising=False)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make(sleeps: Sleeps) -> Iterator[Make]:
    clients: list[DescopeClient] = []

    def factory(handler: Handler, **kwargs: Any) -> DescopeClient:
        kwargs.setdefault("sleep", sleeps)
        client = DescopeClient(PROJECT, KEY, transport=httpx.MockTransport(handler), **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def ok_jwt() -> httpx.Response:
    return httpx.Response(200, json={"jwt": JWT})


def descope_error(
    status: int, code: str, description: str, message: str | None = None, **kwargs: Any
) -> httpx.Response:
    body: dict[str, Any] = {"errorCode": code, "errorDescription": description}
    if message is not None:
        body["errorMessage"] = message
    return httpx.Response(status, json=body, **kwargs)


def impersonate(client: DescopeClient, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "login_id": "jane@acme.com",
        "impersonator_id": "bo@support.example",
        "validate_consent": True,
        "refresh_duration": 1800,
    }
    args.update(overrides)
    return client.impersonate(**args)


# --- wire format ---------------------------------------------------------------------------------


def test_impersonate_sends_the_sdk_wire_format(make: Make) -> None:
    rec = Recorder(ok_jwt())
    client = make(rec)

    jwt = impersonate(client, selected_tenant="acme-eu", custom_claims={"ticket": "SUP-123"})

    assert jwt == JWT
    [request] = rec.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://api.{PROJECT[1:5]}.descope.com/v1/mgmt/impersonate"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{KEY}"
    assert request.headers["x-descope-project-id"] == PROJECT
    assert request.headers["User-Agent"].startswith("impersonation-bot/")
    assert rec.bodies == [
        {
            "loginId": "jane@acme.com",
            "impersonatorId": "bo@support.example",
            "validateConsent": True,
            "customClaims": {"ticket": "SUP-123"},
            "selectedTenant": "acme-eu",
            "refreshDuration": 1800,
            "stepup": None,
        }
    ]


def test_impersonate_optional_fields_are_null(make: Make) -> None:
    rec = Recorder(ok_jwt())
    impersonate(make(rec), validate_consent=False)
    body = rec.bodies[0]
    assert body["customClaims"] is None
    assert body["selectedTenant"] is None
    assert body["validateConsent"] is False
    assert body["stepup"] is None


def test_stop_impersonation_sends_the_sdk_wire_format(make: Make) -> None:
    rec = Recorder(httpx.Response(200, json={"jwt": "actor-jwt"}))
    make(rec).stop_impersonation(JWT)

    [request] = rec.requests
    assert request.method == "POST"
    assert request.url.path == "/v1/mgmt/stop/impersonation"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{KEY}"
    assert request.headers["x-descope-project-id"] == PROJECT
    assert rec.bodies == [{"jwt": JWT, "customClaims": None, "selectedTenant": None, "refreshDuration": None}]


def test_stop_impersonation_does_not_need_a_body(make: Make) -> None:
    make(Recorder(httpx.Response(200, text="OK"))).stop_impersonation(JWT)


def test_load_user(make: Make) -> None:
    user = {"userId": "U2x", "loginIds": ["jane+x@acme.com"], "email": "jane+x@acme.com", "status": "disabled",
            "givenName": "Jane", "familyName": "Doe",
            "userTenants": [{"tenantId": "acme-eu", "tenantName": "Acme EU"}, {"tenantId": "acme-us"}, "junk", {}]}
    rec = Recorder(httpx.Response(200, json={"user": user}))

    assert make(rec).load_user("jane+x@acme.com") == User(user_id="U2x", name="Jane Doe", status="disabled",
                                                          tenants=(("acme-eu", "Acme EU"), ("acme-us", None)))

    [request] = rec.requests
    assert request.method == "GET"
    assert request.url.path == "/v1/mgmt/user"
    assert request.url.params["loginId"] == "jane+x@acme.com"  # the "+" survives encoding
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{KEY}"
    assert request.headers["x-descope-project-id"] == PROJECT


def test_logout_revokes_with_the_token_itself_as_the_bearer(make: Make) -> None:
    rec = Recorder(httpx.Response(200, json={}))
    make(rec).logout(JWT)

    [request] = rec.requests
    assert request.method == "POST"
    assert request.url.path == "/v1/auth/logout"
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{JWT}"  # the SDKs' logout(refresh_token)
    assert KEY not in request.headers["Authorization"]
    assert request.headers["x-descope-project-id"] == PROJECT
    assert rec.bodies == [{}]


def test_a_call_is_sent_as_httpx_s_client_sends_it(make: Make) -> None:
    """Straight to the transport, the request is still the client's: its headers and httpx's defaults, the JSON body
    as httpx encodes it, the client's timeout for every phase, and no header twice (one replaced by the call's own)."""
    rec = Recorder(httpx.Response(200, json={}))
    make(rec, timeout=7.0).logout(JWT)
    [request] = rec.requests
    expected = httpx.Request("POST", "https://x.test", json={}, headers={"Accept": "*/*"})
    assert request.content == expected.content and request.headers["Content-Length"] == str(len(expected.content))
    assert request.headers["Content-Type"] == "application/json" and request.headers["User-Agent"] == USER_AGENT
    assert {"accept", "accept-encoding", "connection"} <= set(request.headers.keys())
    assert len(request.headers.get_list("Authorization")) == 1
    assert request.extensions["timeout"] == {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}


def test_the_call_s_request_line_is_httpx_s_own(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    """Whoever turns on httpx's log (the bot does at DEBUG) reads the line httpx's client would have written."""
    with caplog.at_level(logging.INFO, logger="httpx"):
        with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, json={}))) as plain:
            plain.post(f"{default_base_url(PROJECT)}/v1/auth/logout", json={})
        make(Recorder(httpx.Response(200, json={}))).logout(JWT)
    theirs, ours = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert ours == theirs and ours.startswith("HTTP Request: POST https://")
    assert JWT not in caplog.text


def test_a_closed_client_sends_nothing(make: Make) -> None:
    rec = Recorder(httpx.Response(200, json={}))
    client = make(rec)
    client.close()
    with pytest.raises(RuntimeError):
        client.logout(JWT)
    assert rec.requests == []


def test_logout_of_a_dead_token_is_refused_with_401_and_never_echoes_it(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(descope_error(401, "E064001", f"Token expired by logout {JWT}"))
    with pytest.raises(DescopeRefused) as info:
        make(rec).logout(JWT)
    assert info.value.status == 401 and info.value.code == "E064001"
    assert JWT not in str(info.value) and len(rec.requests) == 1 and sleeps == []


def test_refresh_asks_with_the_token_itself_and_drops_the_answer(make: Make) -> None:
    rec = Recorder(httpx.Response(200, json={"sessionJwt": "a.b.c"}))
    assert make(rec).refresh(JWT) is None  # no rotation
    assert make(Recorder(httpx.Response(200, json={"sessionJwt": "a.b.c", "refreshJwt": "n.e.w"}))).refresh(JWT) == \
        "n.e.w"  # a rotating project's new refresh token, for the caller to revoke
    [request] = rec.requests
    assert (request.method, request.url.path) == ("POST", "/v1/auth/refresh")
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{JWT}" and rec.bodies == [{}]
    rec = Recorder(descope_error(401, "E061005", f"Token expired {JWT}"))
    with pytest.raises(DescopeRefused) as info:
        make(rec).refresh(JWT)
    assert info.value.code == "E061005" and JWT not in str(info.value)


def test_logout_outages_are_retried(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(503), httpx.Response(200, json={}))
    make(rec).logout(JWT)
    assert len(rec.requests) == 2 and len(sleeps) == 1


def test_load_user_with_a_timeout_tries_once(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(503), httpx.Response(200, json={"user": {}}))
    with pytest.raises(DescopeUnavailable):
        make(rec).load_user("jane@acme.com", timeout=1.5)
    assert len(rec.requests) == 1 and sleeps == []
    rec = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(DescopeUnavailable):
        make(rec).load_user("jane@acme.com", timeout=1.5)
    assert len(rec.requests) == 1 and rec.requests[0].extensions["timeout"]["read"] == 1.5


def test_load_user_unknown_is_refused(make: Make) -> None:
    rec = Recorder(descope_error(400, "E112102", "User not found"))
    with pytest.raises(DescopeRefused) as info:
        make(rec).load_user("nobody@acme.com")
    assert info.value.code == "E112102"
    assert len(rec.requests) == 1


# --- base URL ------------------------------------------------------------------------------------


def test_default_base_url() -> None:
    assert default_base_url(SHORT_PROJECT) == "https://api.descope.com"
    assert default_base_url(PROJECT) == "https://api.2abc.descope.com"
    assert default_base_url("x" * 31) == "https://api.descope.com"


@pytest.mark.parametrize(
    ("project", "env", "explicit", "expected"),
    [
        (SHORT_PROJECT, None, None, "https://api.descope.com"),
        (PROJECT, None, None, "https://api.2abc.descope.com"),
        (PROJECT, "https://auth.example.com/", None, "https://api.2abc.descope.com"),  # only config reads it
        (PROJECT, None, "http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        (SHORT_PROJECT, None, "https://eu.example.com", "https://eu.example.com"),
    ],
)
def test_base_url_resolution(
    monkeypatch: pytest.MonkeyPatch, project: str, env: str | None, explicit: str | None, expected: str
) -> None:
    if env is not None:
        monkeypatch.setenv("DESCOPE_BASE_URI", env)
    rec = Recorder(ok_jwt())
    with DescopeClient(project, KEY, explicit, transport=httpx.MockTransport(rec)) as client:
        assert client.base_url == expected
        impersonate(client)
    assert str(rec.requests[0].url) == f"{expected}/v1/mgmt/impersonate"


# --- retries -------------------------------------------------------------------------------------


def test_503_then_success_is_retried(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(503, text="Service Unavailable"), ok_jwt())
    assert impersonate(make(rec)) == JWT
    assert len(rec.requests) == 2
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.2
    assert rec.bodies[0] == rec.bodies[1]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520, 521, 522, 524, 530])
def test_5xx_forever_gives_up_after_all_attempts(make: Make, sleeps: Sleeps, status: int) -> None:
    rec = Recorder(httpx.Response(status, text="<html>bad gateway</html>"))
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=3.0)

    with pytest.raises(DescopeUnavailable) as info:
        make(rec, retry=policy).stop_impersonation(JWT)

    assert len(rec.requests) == 5
    assert len(sleeps) == 4  # no sleep after the last try
    caps = [1.0, 2.0, 3.0, 3.0]  # base * 2**n, capped by max_delay
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))
    assert info.value.status == status
    assert info.value.retry_after is None
    assert info.value.description == "<html>bad gateway</html>"


def test_default_policy_tries_four_times(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(500))
    with pytest.raises(DescopeUnavailable) as info:
        make(rec).stop_impersonation(JWT)
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    assert "4 attempts" in str(info.value)
    assert info.value.description == "Internal Server Error"  # empty body: the reason phrase


def test_unlisted_5xx_is_unavailable_without_retry(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(501))
    with pytest.raises(DescopeUnavailable):
        impersonate(make(rec))
    assert len(rec.requests) == 1
    assert sleeps == []


def test_429_with_short_retry_after_is_waited(make: Make, sleeps: Sleeps) -> None:
    limited = descope_error(429, "E130429", "Rate limit exceeded", headers={"Retry-After": "1"})
    rec = Recorder(limited, ok_jwt())
    assert impersonate(make(rec)) == JWT
    assert sleeps == pytest.approx([1.0], abs=0.05)  # its turn at the path, after the hold (bot.transport.gate)
    assert len(rec.requests) == 2


def test_an_impersonate_call_put_off_books_its_turn_and_those_after_it_book_theirs_unsent(make: Make,
                                                                                      sleeps: Sleeps) -> None:
    """Named (``booking``: the request), a call Descope put off for longer than it waits in its thread has its turn
    kept for it, at Descope's time; the next, put off too without being sent, gets the turn after it: when they are
    made again they go one at a time, at the pace Descope allowed, none holding a thread meanwhile."""
    limited = descope_error(429, "E130429", "Rate limit exceeded", headers={"Retry-After": "30"})
    rec = Recorder(limited, ok_jwt())
    client = make(rec)
    with pytest.raises(DescopeUnavailable) as first:
        impersonate(client, booking="R1")
    with pytest.raises(DescopeUnavailable) as second:
        impersonate(client, booking="R2")
    assert first.value.booked and first.value.retry_after == pytest.approx(30, abs=0.1)
    assert "retry after 30s" in str(first.value)  # what a request failed for it says: whole seconds
    assert second.value.booked and second.value.retry_after is not None
    assert 30.5 < second.value.retry_after < 32  # a turn later, at the rate that passed (none: one a second)
    assert len(rec.requests) == 1 and sleeps == []
    with pytest.raises(DescopeUnavailable) as unnamed:  # not booked: the caller spreads its own wait
        impersonate(client)
    assert not unnamed.value.booked and unnamed.value.retry_after is not None and unnamed.value.retry_after > 31


def test_429_with_long_retry_after_gives_up_at_once(make: Make, sleeps: Sleeps) -> None:
    limited = descope_error(429, "E130429", "Rate limit exceeded", headers={"Retry-After": "120"})
    rec = Recorder(limited, ok_jwt())
    with pytest.raises(DescopeUnavailable) as info:
        impersonate(make(rec))
    assert info.value.retry_after == 120
    assert info.value.status == 429
    assert info.value.code == "E130429"
    assert sleeps == []
    assert len(rec.requests) == 1
    assert "retry after 120s" in str(info.value)


def test_impersonate_waits_out_only_a_short_retry_after_in_its_thread(make: Make, sleeps: Sleeps) -> None:
    """Longer, the activation is put off with the requester told (``workflows.sessions``), not held unseen; a stop
    waits up to the policy's ``max_retry_after`` as before."""
    limited = descope_error(429, "E130429", "Rate limit exceeded", headers={"Retry-After": "8"})
    rec = Recorder(limited, ok_jwt())
    client = make(rec)
    with pytest.raises(DescopeUnavailable) as info:
        impersonate(client)
    assert (info.value.status, info.value.retry_after, info.value.maybe_done) == (429, 8, False)
    assert sleeps == [] and len(rec.requests) == 1
    with pytest.raises(DescopeUnavailable) as held:  # the path is held: the next call is not even sent
        impersonate(client)
    assert held.value.status == 429 and held.value.retry_after is not None and held.value.retry_after > 7
    assert sleeps == [] and len(rec.requests) == 1

    unavailable = Recorder(httpx.Response(503, headers={"Retry-After": "8"}), ok_jwt())  # not a rate limit:
    assert impersonate(make(unavailable)) == JWT  # waited out in the thread as before (up to max_retry_after)
    assert sleeps == pytest.approx([8.0], abs=0.05)
    sleeps.clear()

    stop = Recorder(descope_error(429, "E130429", "Rate limit exceeded", headers={"Retry-After": "8"}),
                    httpx.Response(200, json={}))
    make(stop).stop_impersonation(JWT)
    assert sleeps == pytest.approx([8.0], abs=0.05) and len(stop.requests) == 2
    assert IMPERSONATE_PATIENCE < 8 <= DEFAULT_RETRY.max_retry_after


def test_429_without_retry_after_waits_a_second(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(429), ok_jwt())
    assert impersonate(make(rec)) == JWT
    assert sleeps == pytest.approx([1.0], abs=0.05)


def test_429_forever_keeps_the_last_retry_after(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(DescopeUnavailable) as info:
        make(rec, retry=RetryPolicy(attempts=3)).stop_impersonation(JWT)
    assert len(sleeps) == 2 and all(slept >= 0.95 for slept in sleeps)  # each Retry-After honoured
    assert info.value.retry_after == 1


def test_retry_after_http_date(make: Make, sleeps: Sleeps) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    rec = Recorder(httpx.Response(429, headers={"Retry-After": soon}), httpx.Response(200, json={}))
    make(rec).stop_impersonation(JWT)
    assert len(sleeps) == 1
    assert 7 <= sleeps[0] <= 10

    rec = Recorder(httpx.Response(503, headers={"Retry-After": later}))
    with pytest.raises(DescopeUnavailable) as info:
        impersonate(make(rec))
    assert info.value.retry_after is not None
    assert 3500 <= info.value.retry_after <= 3600
    assert len(sleeps) == 1  # nothing more was waited


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_transport_errors_are_retried(make: Make, sleeps: Sleeps, exc: Exception) -> None:
    rec = Recorder(exc, httpx.Response(200, json={}))
    make(rec).stop_impersonation(JWT)
    assert len(rec.requests) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("first", [httpx.ConnectError("[Errno 111] Connection refused"),
                                   httpx.ConnectTimeout("timed out"), httpx.Response(503), httpx.Response(429),
                                   httpx.Response(521), httpx.Response(522)])
def test_impersonate_is_retried_when_descope_surely_did_not_act(make: Make, sleeps: Sleeps,
                                                                 first: httpx.Response | Exception) -> None:
    rec = Recorder(first, ok_jwt())
    assert impersonate(make(rec)) == JWT
    assert len(rec.requests) == 2


@pytest.mark.parametrize("first", [httpx.ReadTimeout("timed out"),
                                   httpx.RemoteProtocolError("Server disconnected without sending a response."),
                                   httpx.Response(500), httpx.Response(502), httpx.Response(504),
                                   httpx.Response(520), httpx.Response(524)])
def test_impersonate_is_not_retried_when_descope_may_have_minted(make: Make, sleeps: Sleeps,
                                                                  first: httpx.Response | Exception) -> None:
    """A retry after the request may have been processed could mint a second token nobody holds."""
    rec = Recorder(first, ok_jwt())
    with pytest.raises(DescopeUnavailable) as info:
        impersonate(make(rec))
    assert len(rec.requests) == 1
    assert sleeps == []
    assert info.value.maybe_done  # so the requester can be told a token may exist, unreceived


def test_an_unreachable_descope_did_surely_nothing(make: Make, sleeps: Sleeps) -> None:
    with pytest.raises(DescopeUnavailable) as info:
        impersonate(make(Recorder(httpx.ConnectError("[Errno 111] Connection refused"))))
    assert not info.value.maybe_done


def test_connection_errors_forever(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(DescopeUnavailable) as info:
        make(rec).stop_impersonation(JWT)
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "ConnectError" in str(info.value)
    assert JWT not in str(info.value)


def test_retries_are_logged_without_secrets(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, json={}))
    with caplog.at_level(logging.WARNING, logger="bot.descope"):
        make(rec).stop_impersonation(JWT)
    assert len(caplog.records) == 2
    first, second = (r.getMessage() for r in caplog.records)
    assert "POST /v1/mgmt/stop/impersonation" in first
    assert "503" in first and "attempt 1/4" in first
    assert "ConnectError" in second and "attempt 2/4" in second
    for record in caplog.records:
        assert record.levelno == logging.WARNING
        assert JWT not in record.getMessage()
        assert KEY not in record.getMessage()


def test_retry_log_omits_the_query_string(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(httpx.Response(502), httpx.Response(200, json={"user": {"userId": "U1"}}))
    with caplog.at_level(logging.WARNING, logger="bot.descope"):
        make(rec).load_user("jane@acme.com")
    assert "jane@acme.com" not in caplog.text
    assert "GET /v1/mgmt/user" in caplog.text


# --- refusals and unusable answers ---------------------------------------------------------------


def test_403_is_refused_once(make: Make, sleeps: Sleeps) -> None:
    rec = Recorder(descope_error(403, "E011004", "Impersonator is not allowed to impersonate"))
    with pytest.raises(DescopeRefused) as info:
        impersonate(make(rec))
    err = info.value
    assert isinstance(err, DescopeError)
    assert not isinstance(err, DescopeUnavailable)
    assert (err.status, err.code, err.description, err.message) == (
        403,
        "E011004",
        "Impersonator is not allowed to impersonate",
        None,
    )
    assert str(err) == "Descope refused (403 E011004): Impersonator is not allowed to impersonate"
    assert len(rec.requests) == 1
    assert sleeps == []


def test_error_message_is_kept(make: Make) -> None:
    rec = Recorder(descope_error(400, "E011002", "Missing arguments", "The user did not consent"))
    with pytest.raises(DescopeRefused) as info:
        impersonate(make(rec))
    assert info.value.message == "The user did not consent"
    assert str(info.value) == "Descope refused (400 E011002): Missing arguments (The user did not consent)"


def test_non_json_400(make: Make) -> None:
    rec = Recorder(httpx.Response(400, text="<html><body>Bad Request" + "x" * 500 + "</body></html>"))
    with pytest.raises(DescopeRefused) as info:
        impersonate(make(rec))
    err = info.value
    assert err.status == 400
    assert err.code is None
    assert err.description.startswith("<html><body>Bad Request")
    assert len(err.description) == 200
    assert str(err).startswith("Descope refused (400): <html>")
    assert "\n" not in str(err)


def test_empty_404_uses_the_reason_phrase(make: Make) -> None:
    with pytest.raises(DescopeRefused) as info:
        make(Recorder(httpx.Response(404))).load_user("jane@acme.com")
    assert str(info.value) == "Descope refused (404): Not Found"


def test_success_without_jwt_is_an_error(make: Make) -> None:
    with pytest.raises(DescopeError) as info:
        impersonate(make(Recorder(httpx.Response(200, json={"token": "x"}))))
    assert type(info.value) is DescopeError
    assert "jwt" in str(info.value)


@pytest.mark.parametrize("answer", [httpx.Response(200, text="<html>"), httpx.Response(200, json=["jwt"])])
def test_success_with_unusable_body_is_an_error(make: Make, answer: httpx.Response) -> None:
    with pytest.raises(DescopeError) as info:
        impersonate(make(Recorder(answer)))
    assert type(info.value) is DescopeError


def test_load_user_without_user_is_an_error(make: Make) -> None:
    with pytest.raises(DescopeError):
        make(Recorder(httpx.Response(200, json={"users": []}))).load_user("jane@acme.com")


def test_redirect_is_not_followed(make: Make) -> None:
    rec = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.example/"}))
    with pytest.raises(DescopeError) as info:
        impersonate(make(rec))
    assert type(info.value) is DescopeError
    assert len(rec.requests) == 1


# --- secrets -------------------------------------------------------------------------------------


def echo(status: int) -> Handler:
    """A hostile server that echoes the request (headers and body) into its error answer."""

    def handler(request: httpx.Request) -> httpx.Response:
        text = f"{request.headers['Authorization']} {request.content.decode()}"
        body = {"errorCode": text, "errorDescription": text, "errorMessage": text}
        return httpx.Response(status, json=body)

    return handler


@pytest.mark.parametrize("status", [400, 403, 503])
def test_errors_never_carry_the_jwt_or_the_key(make: Make, status: int) -> None:
    client = make(Recorder(echo(status)), retry=RetryPolicy(attempts=1))
    with pytest.raises(DescopeError) as info:
        client.stop_impersonation(JWT)
    err = info.value
    texts = (str(err), repr(err), err.description, err.code or "", err.message or "", *map(str, err.args))
    for text in texts:
        assert JWT not in text
        assert KEY not in text
    assert "[redacted]" in str(err)


def test_non_json_echo_is_scrubbed(make: Make) -> None:
    rec = Recorder(lambda request: httpx.Response(400, content=request.content))
    with pytest.raises(DescopeRefused) as info:
        make(rec).stop_impersonation(JWT)
    assert JWT not in str(info.value)


def test_client_repr_hides_the_key(make: Make) -> None:
    client = make(Recorder(ok_jwt()))
    assert KEY not in repr(client)
    assert PROJECT in repr(client)


# --- construction --------------------------------------------------------------------------------


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    fields = (policy.attempts, policy.base_delay, policy.max_delay, policy.max_retry_after)
    assert fields == (4, 0.2, 5.0, 30.0)
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_bad_base_url_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        DescopeClient(PROJECT, KEY, "api.descope.com")


def test_context_manager_closes(make: Make) -> None:
    rec = Recorder(ok_jwt())
    with make(rec) as client:
        impersonate(client)
    with pytest.raises(RuntimeError):
        impersonate(client)


@pytest.mark.parametrize(("status", "code", "said", "tenant", "meaning"), [
    (401, "E011003", "Unauthorized", False, Refusal.MANAGEMENT_KEY),
    (403, "E011004", "Impersonator is not allowed to impersonate", False, Refusal.NO_PERMISSION),
    (400, "E011004", "Impersonation consent not given", False, Refusal.NO_CONSENT),
    (400, "E112102", "User not found", False, Refusal.UNKNOWN_USER),
    (404, None, "Nothing here", False, Refusal.UNKNOWN_USER),
    (400, "E011004", "User is not a member of the selected tenant", True, Refusal.NOT_IN_TENANT),
    (400, "E011004", "Bad tenant", False, Refusal.BAD_TENANT),
    (400, "E011001", "Request body is malformed", False, Refusal.REFUSED),
])
def test_a_refusal_says_what_it_means(status: int, code: str | None, said: str, tenant: bool,
                                      meaning: Refusal) -> None:
    refused = DescopeRefused(said, status=status, code=code)
    assert refused.meaning(tenant_named=tenant) is meaning
    assert refused.user_not_found is (code == "E112102" or status == 404)


@pytest.mark.parametrize(("status", "code", "refused_us", "token_dead"), [
    (401, "E011003", True, False),  # the management key
    (403, "E011004", True, False),  # the bot's rights
    (401, "E064001", True, True),  # a refresh token revoked by a logout (it authenticates the call)
    (401, "E061005", True, True),  # expired
    (400, "E011004", False, False),  # the token itself turned down (unknown, already stopped)
])
def test_a_refusal_says_whether_it_refused_the_bot_or_found_the_token_dead(
        status: int, code: str, refused_us: bool, token_dead: bool) -> None:
    refused = DescopeRefused("refused", status=status, code=code)
    assert (refused.refused_us, refused.token_dead) == (refused_us, token_dead)
