"""The fake SIEM intake over HTTP, as the bot's audit stream meets it: the signature scheme (sign, verify), a good
batch kept, a bad, missing or stale signature refused 401, injected failures and drops, latency."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.devtools import FakeIntake
from bot.devtools.siem import ANY, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signature_problem, verify

NOW = 1_700_000_000.0


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"ev-{n}", "seq": n, "time": "2023-11-14T22:13:20Z", "action": "approved", **extra}


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


@pytest.fixture
def intake() -> Iterator[FakeIntake]:
    with FakeIntake(secret="s3cret") as intake:
        intake.clock = lambda: NOW
        yield intake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def post(client: httpx.Client, intake: FakeIntake, body: bytes, **headers: str) -> httpx.Response:
    return client.post(intake.url, content=body, headers={**intake.signed_headers(body, str(int(NOW))), **headers})


# -- the scheme ----------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_over_v0_timestamp_body() -> None:
    body = b'{"events": []}'
    expected = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", body) == "v0=" + expected


def test_verify() -> None:
    body = b'{"events": []}'
    good = sign("s3cret", "1700000000", body)
    assert verify("s3cret", "1700000000", body, good, now=NOW)
    assert verify("s3cret", "1700000000", body, good, now=NOW + 300)  # the edge of the tolerance
    assert verify("s3cret", "1700000000", body, good, now=NOW - 300)  # a sender's clock a bit ahead
    assert not verify("s3cret", "1700000000", body, good, now=NOW + 301)
    assert verify("s3cret", "1700000000", body, good, now=NOW + 3000, tolerance=3600)
    assert not verify("other", "1700000000", body, good, now=NOW)
    assert not verify("s3cret", "1700000000", body + b" ", good, now=NOW)
    assert not verify("s3cret", "1700000001", body, good, now=NOW)
    assert not verify("s3cret", None, body, good, now=NOW)
    assert not verify("s3cret", "1700000000", body, None, now=NOW)
    assert not verify("s3cret", "1700000000", body, good.upper(), now=NOW)
    assert not verify("s3cret", "1700000000", body, "v0=ü", now=NOW)  # not even ASCII: no exception

    assert signature_problem("s3cret", "", body, good, now=NOW) == "missing"
    assert signature_problem("s3cret", "17e8", body, good, now=NOW) == "malformed"
    assert signature_problem("s3cret", "1699999000", body, good, now=NOW) == "stale"
    assert signature_problem("s3cret", "1700000000", body, "v0=00", now=NOW) == "mismatch"


# -- the intake ----------------------------------------------------------------------------------


def test_a_signed_batch_is_kept(intake: FakeIntake, client: httpx.Client) -> None:
    assert intake.url == f"http://127.0.0.1:{intake.port}/audit"
    assert intake.secret == "s3cret"
    first, second = body_of(event(1), event(2)), body_of(event(3))
    response = post(client, intake, first)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "accepted": 2}
    assert post(client, intake, second).status_code == 200
    assert client.post(intake.origin + "/elsewhere", content=first,
                       headers=intake.signed_headers(first)).status_code == 200  # any path

    assert intake.batches() == [[event(1), event(2)], [event(3)], [event(1), event(2)]]
    assert [e["id"] for e in intake.events()] == ["ev-1", "ev-2", "ev-3", "ev-1", "ev-2"]
    assert [e["id"] for e in intake.unique_events()] == ["ev-1", "ev-2", "ev-3"]
    assert intake.wait_for_events(3, timeout=1) == intake.unique_events()
    call = intake.calls[0]
    assert (call.body, call.status, call.outcome, call.path) == (first, 200, "accepted", "/audit")
    assert call.timestamp == "1700000000"
    assert call.signature == sign("s3cret", "1700000000", first)
    assert intake.rejections() == []


def test_a_random_secret_by_default() -> None:
    assert len(FakeIntake().secret) == 64
    assert FakeIntake().secret != FakeIntake().secret


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({SIGNATURE_HEADER: "v0=" + "0" * 64}, "mismatch"),
        ({SIGNATURE_HEADER: sign("wrong secret", "1700000000", body_of(event(1)))}, "mismatch"),
        ({TIMESTAMP_HEADER: "1700000001"}, "mismatch"),  # the signature was for another timestamp
        ({TIMESTAMP_HEADER: ""}, "unsigned"),
        ({SIGNATURE_HEADER: ""}, "unsigned"),
        ({TIMESTAMP_HEADER: "soon"}, "malformed"),
    ],
)
def test_a_bad_or_missing_signature_is_refused(intake: FakeIntake, client: httpx.Client, headers: dict[str, str],
                                               outcome: str) -> None:
    response = post(client, intake, body_of(event(1)), **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert intake.batches() == []
    (rejected,) = intake.rejections()
    assert (rejected.status, rejected.outcome) == (401, outcome)


def test_no_headers_at_all(intake: FakeIntake, client: httpx.Client) -> None:
    response = client.post(intake.url, content=body_of(event(1)), headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["reason"]) == (401, "missing")
    assert [c.outcome for c in intake.rejections()] == ["unsigned"]


def test_a_tampered_body_is_refused(intake: FakeIntake, client: httpx.Client) -> None:
    signed = body_of(event(1))
    headers = intake.signed_headers(signed, str(int(NOW)))
    assert client.post(intake.url, content=body_of(event(1, actor="U-evil")), headers=headers).status_code == 401
    assert client.post(intake.url, content=signed, headers=headers).status_code == 200


def test_a_stale_signature_is_refused(intake: FakeIntake, client: httpx.Client) -> None:
    body = body_of(event(1))
    old = intake.signed_headers(body, str(int(NOW) - 301))
    response = client.post(intake.url, content=body, headers=old)
    assert (response.status_code, response.json()["reason"]) == (401, "stale")
    future = intake.signed_headers(body, str(int(NOW) + 301))
    assert client.post(intake.url, content=body, headers=future).status_code == 401
    assert [c.outcome for c in intake.rejections()] == ["stale", "stale"]
    intake.tolerance = 600
    assert client.post(intake.url, content=body, headers=old).status_code == 200


def test_the_real_clock_by_default(client: httpx.Client) -> None:
    with FakeIntake() as intake:
        body = body_of(event(1))
        ts = str(int(time.time()))
        assert client.post(intake.url, content=body, headers=intake.signed_headers(body, ts)).status_code == 200
        assert client.post(intake.url, content=body,
                           headers=intake.signed_headers(body, str(int(time.time()) - 3600))).status_code == 401


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"events": {}}', b'{"events": [1]}', b"{}"])
def test_a_signed_body_that_is_no_batch_is_400(intake: FakeIntake, client: httpx.Client, body: bytes) -> None:
    assert post(client, intake, body).status_code == 400
    assert [c.outcome for c in intake.calls] == ["bad_body"]
    assert intake.batches() == []


def test_only_post(intake: FakeIntake, client: httpx.Client) -> None:
    response = client.get(intake.url)
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


def test_fail_next(intake: FakeIntake, client: httpx.Client) -> None:
    intake.fail_next(500)
    intake.fail_next(400, count=2)
    intake.fail_next(503, retry_after=30)
    body = body_of(event(1))
    assert post(client, intake, body).status_code == 500
    assert [post(client, intake, body).status_code for _ in range(2)] == [400, 400]
    unavailable = post(client, intake, body)
    assert (unavailable.status_code, unavailable.headers["Retry-After"]) == (503, "30")
    assert intake.batches() == []  # a failed answer keeps nothing
    assert post(client, intake, body).status_code == 200
    assert [c.outcome for c in intake.calls] == ["failed"] * 4 + ["accepted"]
    assert intake.batches() == [[event(1)]]


def test_a_failure_comes_before_the_signature_check(intake: FakeIntake, client: httpx.Client) -> None:
    intake.fail_next(502)
    assert client.post(intake.url, content=b"{}").status_code == 502
    assert intake.rejections() == []


def test_fail_always_until_heal(intake: FakeIntake, client: httpx.Client) -> None:
    intake.fail_always(403)
    body = body_of(event(1))
    assert [post(client, intake, body).status_code for _ in range(3)] == [403, 403, 403]
    intake.heal()
    assert post(client, intake, body).status_code == 200
    intake.fail_next(500, count=5)
    intake.drop_next()
    intake.heal()  # forgets pending faults too
    assert post(client, intake, body).status_code == 200


def test_drop_next(intake: FakeIntake, client: httpx.Client) -> None:
    intake.drop_next(2)
    body = body_of(event(1))
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            post(client, intake, body)
    assert post(client, intake, body).status_code == 200
    assert [(c.outcome, c.status) for c in intake.calls] == [("dropped", None), ("dropped", None), ("accepted", 200)]
    assert intake.batches() == [[event(1)]]


def test_latency(intake: FakeIntake, client: httpx.Client) -> None:
    intake.set_latency(ANY, 0.3)
    body = body_of(event(1))
    with pytest.raises(httpx.ReadTimeout):
        client.post(intake.url, content=body, headers=intake.signed_headers(body, str(int(NOW))), timeout=0.1)
    intake.set_latency(ANY, 0)
    assert post(client, intake, body).status_code == 200


def test_wait_for_events_times_out_with_the_calls(intake: FakeIntake) -> None:
    with pytest.raises(AssertionError, match="1 distinct event"):
        intake.wait_for_events(1, timeout=0.05)
