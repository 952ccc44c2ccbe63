"""Descope's audit, searched (``bot.descope.audit``, ``DescopeClient.search_audit``): records read as Descope answers
them (malformed ones left out), the search paged back through full pages until a short one (by the methods asked, when
asked), and the wire: ``POST /v1/mgmt/audit/search`` with the management bearer and the moments in milliseconds,
Descope's 429 honoured."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.descope import DescopeClient, DescopeRefused
from bot.descope.audit import PAGE, AuditRecord, record_of, search

PROJECT = "P2abcDEFghi"
KEY = "K2mgmt-key-very-secret-0123456789"
SINCE = datetime(2026, 1, 4, 9, 0, tzinfo=UTC)
UNTIL = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SINCE_MS, UNTIL_MS = 1767517200000, 1767603600000


def raw(user_id: str, occurred_ms: int, *, method: str = "Impersonate", **more: Any) -> dict[str, Any]:
    """A record as Descope answers it (``occurred``: milliseconds, as a string)."""
    return {"projectId": PROJECT, "userId": user_id, "action": "LoginSucceed", "occurred": str(occurred_ms),
            "method": method, "externalIds": [f"{user_id.lower()}@acme.com"], "tenants": [], "data": {}, **more}


class Pages:
    """The fake ``call``: answers each search body with the next page, and keeps the bodies."""

    def __init__(self, *pages: Mapping[str, Any]) -> None:
        self.pages = list(pages)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> Mapping[str, Any]:
        self.bodies.append(body)
        return self.pages.pop(0)


def _page(first_ms: int, n: int, step: int = -1) -> list[dict[str, Any]]:
    """``n`` records, newest first, from ``first_ms`` back by ``step`` ms each."""
    return [raw(f"U{i}", first_ms + i * step) for i in range(n)]


def test_the_moments_are_milliseconds() -> None:
    assert (int(SINCE.timestamp() * 1000), int(UNTIL.timestamp() * 1000)) == (SINCE_MS, UNTIL_MS)


# -- record_of -------------------------------------------------------------------------------------------------------


def test_a_record_is_read_as_descope_answers_it() -> None:
    found = record_of(raw("UJANE", UNTIL_MS - 1500, actorId="UCONSOLE", externalIds=["jane@acme.com", "+1555"]))
    assert found == AuditRecord(user_id="UJANE", action="LoginSucceed", method="Impersonate",
                                occurred=UNTIL - timedelta(seconds=1.5), login_ids=("jane@acme.com", "+1555"),
                                actor_id="UCONSOLE")
    assert found is not None and found.impersonation and found.occurred.tzinfo is UTC


def test_occurred_as_a_number_reads_the_same() -> None:
    assert record_of({"userId": "U1", "occurred": UNTIL_MS, "action": "LoginSucceed"}) == record_of(
        {"userId": "U1", "occurred": str(UNTIL_MS), "action": "LoginSucceed"})


def test_only_a_successful_login_by_impersonation_is_an_impersonation() -> None:
    assert record_of(raw("U1", UNTIL_MS, method="otp")).impersonation is False  # type: ignore[union-attr]
    assert record_of({**raw("U1", UNTIL_MS), "action": "LoginFailed"}).impersonation is False  # type: ignore[union-attr]


@pytest.mark.parametrize("record", [
    {"occurred": str(UNTIL_MS), "action": "LoginSucceed"},  # no user
    {"userId": "", "occurred": str(UNTIL_MS)},
    {"userId": "U1"},  # no moment
    {"userId": "U1", "occurred": ""},
    {"userId": "U1", "occurred": "yesterday"},
    {"userId": "U1", "occurred": None},
    {"userId": "U1", "occurred": ["1767603600000"]},
])
def test_a_record_without_a_user_or_a_moment_is_left_out(record: dict[str, Any]) -> None:
    assert record_of(record) is None


def test_what_a_record_may_lack_is_left_empty() -> None:
    found = record_of({"userId": "U1", "occurred": str(UNTIL_MS), "externalIds": "jane@acme.com", "actorId": ""})
    assert found == AuditRecord(user_id="U1", action="", method="", occurred=UNTIL, login_ids=(), actor_id=None)


# -- search: paging --------------------------------------------------------------------------------------------------


def test_a_short_page_is_the_whole_answer() -> None:
    pages = Pages({"audits": [raw("UA", UNTIL_MS - 10), {"garbage": True}, "text", raw("UB", UNTIL_MS - 20)]})

    found = search(pages, ["LoginSucceed"], SINCE, UNTIL)

    assert [r.user_id for r in found] == ["UA", "UB"]
    assert pages.bodies == [{"actions": ["LoginSucceed"], "from": SINCE_MS, "to": UNTIL_MS, "noTenants": False}]


def test_methods_asked_are_in_the_body_of_every_page() -> None:
    pages = Pages({"audits": _page(UNTIL_MS - 1, PAGE)}, {"audits": []})

    search(pages, ["LoginSucceed"], SINCE, UNTIL, methods=["Impersonate"])

    assert [body["methods"] for body in pages.bodies] == [["Impersonate"], ["Impersonate"]]
    assert pages.bodies[0] == {"actions": ["LoginSucceed"], "methods": ["Impersonate"], "from": SINCE_MS,
                               "to": UNTIL_MS, "noTenants": False}


@pytest.mark.parametrize("methods", [None, []])
def test_no_methods_asked_no_methods_in_the_body(methods: list[str] | None) -> None:
    pages = Pages({"audits": []})
    search(pages, ["LoginSucceed"], SINCE, UNTIL, methods=methods)
    assert "methods" not in pages.bodies[0]


def test_a_full_page_asks_again_ending_where_it_ended() -> None:
    first = _page(UNTIL_MS - 1, PAGE)  # newest first: the oldest is the last
    oldest = UNTIL_MS - PAGE
    second = _page(oldest - 1, PAGE)
    third = _page(oldest - PAGE - 1, 3)
    pages = Pages({"audits": first}, {"audits": second}, {"audits": third})

    found = search(pages, ["LoginSucceed"], SINCE, UNTIL)

    assert [body["to"] for body in pages.bodies] == [UNTIL_MS, oldest, oldest - PAGE]
    assert {body["from"] for body in pages.bodies} == {SINCE_MS}
    assert len(found) == 2 * PAGE + 3 and pages.pages == []


def test_no_answer_or_an_empty_one_ends() -> None:
    assert search(Pages({}), ["LoginSucceed"], SINCE, UNTIL) == []
    assert search(Pages({"audits": []}), ["LoginSucceed"], SINCE, UNTIL) == []
    assert search(Pages({"audits": "none"}), ["LoginSucceed"], SINCE, UNTIL) == []


def test_a_full_page_reaching_the_start_ends() -> None:
    pages = Pages({"audits": _page(SINCE_MS + PAGE - 1, PAGE)})  # its oldest is at SINCE itself
    assert len(search(pages, ["LoginSucceed"], SINCE, UNTIL)) == PAGE
    assert len(pages.bodies) == 1


def test_a_full_page_all_at_one_moment_does_not_ask_for_ever() -> None:
    same = {"audits": _page(UNTIL_MS - 5, PAGE, step=0)}
    pages = Pages(same, same, same)
    assert len(search(pages, ["LoginSucceed"], SINCE, UNTIL)) == 2 * PAGE
    assert [body["to"] for body in pages.bodies] == [UNTIL_MS, UNTIL_MS - 5]


def test_a_full_page_of_unreadable_records_ends() -> None:
    pages = Pages({"audits": [{"userId": "U1"}] * PAGE})
    assert search(pages, ["LoginSucceed"], SINCE, UNTIL) == []
    assert len(pages.bodies) == 1


# -- DescopeClient.search_audit --------------------------------------------------------------------------------------


class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


@pytest.fixture(autouse=True)
def _no_base_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESCOPE_BASE_URI", raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client_of(sleeps: list[float]) -> Iterator[Any]:
    clients: list[DescopeClient] = []

    def make(recorder: Recorder) -> DescopeClient:
        client = DescopeClient(PROJECT, KEY, transport=httpx.MockTransport(recorder), sleep=sleeps.append)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_search_audit_posts_the_search_with_the_management_bearer(client_of: Any) -> None:
    recorder = Recorder(httpx.Response(200, json={"audits": [raw("UJANE", UNTIL_MS - 60_000, actorId="UX")]}))

    found = client_of(recorder).search_audit(["LoginSucceed"], SINCE, UNTIL)

    assert found == [AuditRecord(user_id="UJANE", action="LoginSucceed", method="Impersonate",
                                 occurred=UNTIL - timedelta(minutes=1), login_ids=("ujane@acme.com",),
                                 actor_id="UX")]
    [request] = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.descope.com/v1/mgmt/audit/search"
    assert request.headers["Authorization"] == f"Bearer {PROJECT}:{KEY}"
    assert json.loads(request.content) == {"actions": ["LoginSucceed"], "from": SINCE_MS, "to": UNTIL_MS,
                                           "noTenants": False}


def test_search_audit_asks_for_the_methods_given(client_of: Any) -> None:
    recorder = Recorder(httpx.Response(200, json={"audits": [raw("UJANE", UNTIL_MS - 1)]}))

    found = client_of(recorder).search_audit(["LoginSucceed"], SINCE, UNTIL, methods=["Impersonate"])

    assert [r.user_id for r in found] == ["UJANE"]
    [request] = recorder.requests
    assert json.loads(request.content) == {"actions": ["LoginSucceed"], "methods": ["Impersonate"], "from": SINCE_MS,
                                           "to": UNTIL_MS, "noTenants": False}


def test_search_audit_pages_over_the_wire(client_of: Any) -> None:
    recorder = Recorder(httpx.Response(200, json={"audits": _page(UNTIL_MS - 1, PAGE)}),
                        httpx.Response(200, json={"audits": []}))
    assert len(client_of(recorder).search_audit(["LoginSucceed"], SINCE, UNTIL)) == PAGE
    assert [json.loads(r.content)["to"] for r in recorder.requests] == [UNTIL_MS, UNTIL_MS - PAGE]


def test_search_audit_honours_descopes_429_and_retry_after(client_of: Any, sleeps: list[float]) -> None:
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": "7"}, json={"errorCode": "E130429"}),
                        httpx.Response(200, json={"audits": [raw("UJANE", UNTIL_MS - 1)]}))
    assert [r.user_id for r in client_of(recorder).search_audit(["LoginSucceed"], SINCE, UNTIL)] == ["UJANE"]
    assert sleeps == pytest.approx([7.0], abs=0.05) and len(recorder.requests) == 2


def test_a_key_that_may_not_search_the_audit_is_refused_without_the_key_in_the_error(client_of: Any) -> None:
    recorder = Recorder(httpx.Response(403, json={"errorCode": "E011003", "errorDescription": "Unauthorized",
                                                  "errorMessage": f"key {KEY} may not"}))
    with pytest.raises(DescopeRefused) as refused:
        client_of(recorder).search_audit(["LoginSucceed"], SINCE, UNTIL)
    assert refused.value.status == 403 and KEY not in str(refused.value)
