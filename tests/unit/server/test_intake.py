"""The audit intake over HTTP (``bot.server.intake.HttpIntake``), over ``httpx.MockTransport``: one POST of
``{"events": [...]}`` signed as a receiver verifies it (``bot.devtools.siem.verify``, what README shows); a 2xx is
taken, anything else or no answer raises ``IntakeFailed``; no redirect is followed; the secret never shows, nor
anything of the URL but its host."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.devtools.siem import verify
from bot.server.intake import HttpIntake
from bot.workflows.ports import IntakeFailed

URL = "https://siem.example.com/intake/impersonation-bot"
SECRET = "whsec-very-secret-0123456789"
NOW = 1_767_603_600.75
EVENTS = [
    {"id": "41", "seq": 7, "time": "2026-01-05T09:00:00Z", "action": "approved", "request_id": "K7M2QX9A",
     "actor": "UAPPR1", "target": "jane@acme.com", "tenant": "acme-eu", "details": {"from_state": "pending"}},
    {"id": "42", "seq": 8, "time": "2026-01-05T09:00:01Z", "action": "activated", "request_id": "K7M2QX9A",
     "actor": "system", "target": "jané@acme.com", "tenant": None, "details": {}},
]

Handler = Callable[[httpx.Request], httpx.Response]


class Intake:
    """The receiving end: answers ``status`` (or runs ``handler``) and keeps every request."""

    def __init__(self, status: int = 200, handler: Handler | None = None) -> None:
        self.status = status
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is not None:
            return self.handler(request)
        return httpx.Response(self.status, json={"ok": self.status < 300})


@pytest.fixture
def sender() -> Iterator[Callable[[Intake], HttpIntake]]:
    made: list[HttpIntake] = []

    def make(intake: Intake) -> HttpIntake:
        client = HttpIntake(URL, SECRET, transport=httpx.MockTransport(intake), wall=lambda: NOW)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_a_batch_is_one_signed_post_of_its_events(sender: Callable[[Intake], HttpIntake]) -> None:
    intake = Intake()
    sender(intake).send(EVENTS)

    [request] = intake.requests
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["Content-Type"] == "application/json"
    body = request.content
    assert json.loads(body) == {"events": EVENTS}
    timestamp, signature = request.headers["X-Audit-Timestamp"], request.headers["X-Audit-Signature"]
    assert timestamp == "1767603600" and signature.startswith("v0=")
    assert verify(SECRET, timestamp, body, signature, now=NOW + 60)


def test_the_signature_holds_only_for_that_body_that_secret_and_about_that_time(
        sender: Callable[[Intake], HttpIntake]) -> None:
    intake = Intake()
    sender(intake).send(EVENTS)
    [request] = intake.requests
    timestamp, signature = request.headers["X-Audit-Timestamp"], request.headers["X-Audit-Signature"]
    body = request.content

    assert not verify("another-secret", timestamp, body, signature, now=NOW)
    assert not verify(SECRET, timestamp, body.replace(b'"seq":7', b'"seq":9'), signature, now=NOW)
    assert not verify(SECRET, str(int(timestamp) + 1), body, signature, now=NOW)
    assert not verify(SECRET, timestamp, body, signature, now=NOW + 3600)  # a replay, an hour later


def test_each_post_is_signed_at_its_own_time() -> None:
    intake = Intake()
    moments = iter([NOW, NOW + 90])
    client = HttpIntake(URL, SECRET, transport=httpx.MockTransport(intake), wall=lambda: next(moments))
    try:
        client.send(EVENTS[:1])
        client.send(EVENTS[:1])
    finally:
        client.close()
    first, second = intake.requests
    assert (first.headers["X-Audit-Timestamp"], second.headers["X-Audit-Timestamp"]) == ("1767603600", "1767603690")
    assert verify(SECRET, second.headers["X-Audit-Timestamp"], second.content, second.headers["X-Audit-Signature"],
                  now=NOW + 90)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_taken(sender: Callable[[Intake], HttpIntake], status: int) -> None:
    intake = Intake(handler=lambda _request: httpx.Response(status))
    sender(intake).send(EVENTS)
    assert len(intake.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 429, 500, 502, 503])
def test_anything_else_is_not_taken_with_its_status(sender: Callable[[Intake], HttpIntake], status: int) -> None:
    with pytest.raises(IntakeFailed) as failed:
        sender(Intake(status)).send(EVENTS)
    assert failed.value.status == status and str(status) in failed.value.what


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("closed")])
def test_no_answer_is_not_taken(sender: Callable[[Intake], HttpIntake], error: httpx.HTTPError) -> None:
    def drops(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(IntakeFailed) as failed:
        sender(Intake(handler=drops)).send(EVENTS)
    assert failed.value.status is None and failed.value.what == type(error).__name__


def test_a_redirect_is_not_followed(sender: Callable[[Intake], HttpIntake]) -> None:
    intake = Intake(handler=lambda request: httpx.Response(
        307, headers={"Location": "https://elsewhere.example.net/collect"}) if request.url.host == "siem.example.com"
        else httpx.Response(200))

    with pytest.raises(IntakeFailed) as failed:
        sender(intake).send(EVENTS)

    assert failed.value.status == 307
    assert [r.url.host for r in intake.requests] == ["siem.example.com"]  # the signed body went nowhere else


def test_the_secret_never_shows(sender: Callable[[Intake], HttpIntake]) -> None:
    intake = Intake(500)
    client = sender(intake)
    assert SECRET not in repr(client) and SECRET not in str(client)
    assert repr(client) == "HttpIntake(host='siem.example.com')"  # the host only
    with pytest.raises(IntakeFailed) as failed:
        client.send(EVENTS)
    shown: list[Any] = [failed.value, failed.value.what, failed.value.args, intake.requests[0].headers]
    assert all(SECRET not in str(x) for x in shown)


@pytest.mark.parametrize("url", [
    "https://siem.example.com/hooks/T0123/B0456/xoxb-path-token?sig=query-token",
    "https://user:pass-token@siem.example.com:8443/collect?api_key=query-token#frag-token",
])
def test_the_repr_shows_the_host_and_nothing_of_a_url_that_may_hold_a_credential(url: str) -> None:
    client = HttpIntake(url, SECRET, transport=httpx.MockTransport(Intake()))
    try:
        shown = repr(client)
    finally:
        client.close()
    assert shown == "HttpIntake(host='siem.example.com')"
    assert "token" not in shown and "pass" not in shown and SECRET not in shown and "/" not in shown

