"""The fake Descope's audit trail, over HTTP as the bot's watch meets it: what impersonations and step-ups leave in it,
the search's filters, order and page cap, the 30-day reach, and the rate limit's 429 with Retry-After."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.devtools import FakeDescope
from bot.devtools.descope_api import AUDIT_PAGE, AUDIT_SEARCH, IMPERSONATE, TOTP_VERIFY

ALICE = "alice@acme.com"
BOB = "bob@acme.com"
NOW = 1_700_000_000.0  # the audit clock's time, unless a test says otherwise
DAY = 86_400.0


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeDescope]:
    with FakeDescope() as fake:
        fake.add_user(ALICE, user_id="U-alice", tenants=["t-acme"])
        fake.add_user(BOB, user_id="U-bob")
        fake.add_user("bot@acme.com", user_id="U-bot", can_impersonate=True)
        fake.add_user("console-admin@acme.com", user_id="U-admin", can_impersonate=True)
        fake.audit_clock = clock
        yield fake


@pytest.fixture
def client(fake: FakeDescope) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers=fake.auth_headers, timeout=5) as c:
        yield c


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def search(client: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("from", ms(NOW - DAY))
    body.setdefault("to", ms(NOW))
    response = client.post(AUDIT_SEARCH, json=body)
    assert response.status_code == 200, response.text
    audits: list[dict[str, Any]] = response.json()["audits"]
    return audits


# -- what is recorded ----------------------------------------------------------------------------


def test_an_impersonation_the_fake_mints_is_in_the_trail(fake: FakeDescope, client: httpx.Client,
                                                         clock: Clock) -> None:
    response = client.post(IMPERSONATE, json={"loginId": ALICE, "impersonatorId": "bot@acme.com",
                                              "selectedTenant": "t-acme"})
    assert response.status_code == 200

    (record,) = fake.audit_records()
    assert record == {
        "projectId": fake.project_id,
        "userId": "U-alice",
        "action": "LoginSucceed",
        "occurred": str(ms(NOW)),
        "device": "Bot",
        "method": "Impersonate",
        "geo": "IL",
        "remoteAddress": "127.0.0.1",
        "externalIds": [ALICE],
        "tenants": ["t-acme"],
        "data": {"impersonator": "bot@acme.com"},
        "actorId": "U-bot",
    }
    assert search(client, actions=["LoginSucceed"], methods=["Impersonate"]) == [record]


def test_a_refused_impersonation_leaves_nothing(fake: FakeDescope, client: httpx.Client) -> None:
    assert client.post(IMPERSONATE, json={"loginId": "nobody@acme.com", "impersonatorId": "bot@acme.com"}).is_error
    assert client.post(IMPERSONATE, json={"loginId": ALICE, "impersonatorId": BOB}).status_code == 403
    assert fake.audit_records() == []


def test_the_real_clock_by_default() -> None:
    with FakeDescope() as fake:
        fake.add_user(ALICE, user_id="U-alice")
        fake.add_user("bot@acme.com", can_impersonate=True)
        before = ms(time.time())
        with httpx.Client(base_url=fake.url, headers=fake.auth_headers, timeout=5) as client:
            assert client.post(IMPERSONATE, json={"loginId": ALICE, "impersonatorId": "bot@acme.com"}).is_success
            after = ms(time.time())
            (record,) = client.post(AUDIT_SEARCH, json={"actions": ["LoginSucceed"]}).json()["audits"]
    assert before <= int(record["occurred"]) <= after
    assert record["tenants"] == []


def test_record_login_is_an_impersonation_outside_the_bot(fake: FakeDescope, client: httpx.Client) -> None:
    record = fake.record_login(ALICE, at=NOW - 3600)
    assert record["occurred"] == str(ms(NOW - 3600))
    assert (record["userId"], record["method"], record["externalIds"]) == ("U-alice", "Impersonate", [ALICE])
    assert record["actorId"] == "U-admin"  # a known actor is named by its user ID
    assert record["data"] == {"impersonator": "console-admin@acme.com"}

    script = fake.record_login(BOB, actor="ci-script", tenant="t-x")
    assert (script["actorId"], script["occurred"], script["tenants"]) == ("ci-script", str(ms(NOW)), ["t-x"])
    own = fake.record_login(BOB, method="password", actor=BOB)
    assert (own["method"], own["data"], own["actorId"]) == ("password", {}, "U-bob")

    assert fake.audit_records() == [record, script, own]
    assert search(client, methods=["Impersonate"]) == [script, record]
    with pytest.raises(KeyError):
        fake.record_login("nobody@acme.com")


def test_a_good_step_up_code_is_a_login(fake: FakeDescope) -> None:
    fake.enroll_totp(ALICE)
    with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {fake.project_id}"}, timeout=5) as c:
        assert c.post(TOTP_VERIFY, json={"loginId": ALICE, "code": "abcdef"}).status_code == 401  # not a login
        assert c.post(TOTP_VERIFY, json={"loginId": ALICE, "code": fake.totp_code(ALICE)}).status_code == 200
    (record,) = fake.audit_records()
    assert (record["action"], record["method"], record["userId"], record["actorId"]) == (
        "LoginSucceed", "totp", "U-alice", "U-alice")


# -- the search ----------------------------------------------------------------------------------


def test_the_search_takes_the_management_key(fake: FakeDescope) -> None:
    with httpx.Client(base_url=fake.url, timeout=5) as anonymous:
        response = anonymous.post(AUDIT_SEARCH, json={}, headers={"Authorization": f"Bearer {fake.project_id}"})
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E011003"


def test_filters(fake: FakeDescope, client: httpx.Client) -> None:
    fake.audit_rate_limit = None  # more than 10 searches in a minute
    a1 = fake.record_login(ALICE, at=NOW - 50, tenant="t-acme")
    a2 = fake.record_login(ALICE, at=NOW - 40, method="totp")
    b1 = fake.record_login(BOB, at=NOW - 30, actor="ci-script")
    b2 = fake.record_login(BOB, at=NOW - 20, method="otp")

    assert search(client) == [b2, b1, a2, a1]
    assert search(client, actions=["LoginFailed"]) == []
    assert search(client, actions=["LoginSucceed"], methods=["Impersonate"]) == [b1, a1]
    assert search(client, userIds=["U-alice"]) == [a2, a1]
    assert search(client, externalIds=["BOB@acme.com"]) == [b2, b1]  # login IDs case-insensitively
    assert search(client, tenants=["t-acme"]) == [a1]
    assert search(client, noTenants=True) == [b2, b1, a2]
    assert search(client, text="CI-SCRIPT") == [b1]
    assert search(client, userIds=[], methods=None) == [b2, b1, a2, a1]  # empty filters filter nothing
    # from and to are inclusive
    assert search(client, **{"from": ms(NOW - 40), "to": ms(NOW - 30)}) == [b1, a2]
    assert search(client, **{"from": ms(NOW - 39), "to": ms(NOW - 31)}) == []


def test_newest_first_and_the_later_recorded_first_within_a_millisecond(fake: FakeDescope,
                                                                        client: httpx.Client) -> None:
    late = fake.record_login(ALICE, at=NOW - 10)
    early = fake.record_login(ALICE, at=NOW - 100)
    same1 = fake.record_login(BOB, at=NOW - 50)
    same2 = fake.record_login(ALICE, at=NOW - 50)
    assert search(client) == [late, same2, same1, early]


def test_at_most_a_page_and_paging_by_narrowing_to(fake: FakeDescope, client: httpx.Client) -> None:
    for i in range(AUDIT_PAGE + 5):
        fake.record_login(ALICE, at=NOW - 1000 + i * 0.1)
    first = search(client)
    assert len(first) == AUDIT_PAGE
    assert [int(r["occurred"]) for r in first] == sorted((int(r["occurred"]) for r in first), reverse=True)
    oldest = int(first[-1]["occurred"])
    rest = search(client, to=oldest - 1)
    assert len(rest) == 5
    every = {r["occurred"] for r in fake.audit_records()}
    assert {r["occurred"] for r in first + rest} == every


def test_a_search_reaching_back_more_than_30_days_is_refused(fake: FakeDescope, client: httpx.Client) -> None:
    fake.record_login(ALICE, at=NOW - 29 * DAY)
    assert len(search(client, **{"from": ms(NOW - 30 * DAY)})) == 1  # exactly 30 days: still answered
    response = client.post(AUDIT_SEARCH, json={"from": ms(NOW - 30 * DAY) - 1, "to": ms(NOW)})
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "E011004"
    assert "30 days" in body["errorMessage"]
    assert len(search(client, **{"from": None, "to": None})) == 1  # defaults: the last 30 days


@pytest.mark.parametrize(
    "body",
    [
        {"from": ms(NOW), "to": ms(NOW) - 1},
        {"from": "yesterday"},
        {"to": 1.5},
        {"actions": "LoginSucceed"},
        {"userIds": [1]},
        {"text": 3},
        {"noTenants": "yes"},
    ],
)
def test_bad_arguments_are_refused(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post(AUDIT_SEARCH, json=body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E011004"


# -- the rate limit ------------------------------------------------------------------------------


def test_over_the_rate_limit_429_with_retry_after(fake: FakeDescope, client: httpx.Client, clock: Clock) -> None:
    assert fake.audit_rate_limit == 10
    for i in range(10):
        clock.t = NOW + i  # searches at NOW .. NOW+9
        assert client.post(AUDIT_SEARCH, json={}).status_code == 200
    clock.t = NOW + 15.5
    refused = client.post(AUDIT_SEARCH, json={})
    assert refused.status_code == 429
    assert refused.json()["errorCode"] == "E130429"
    assert refused.headers["Retry-After"] == "45"  # the search at NOW leaves the window at NOW+60
    assert fake.calls_to(AUDIT_SEARCH)[-1].failed

    clock.t = NOW + 59.9
    assert client.post(AUDIT_SEARCH, json={}).headers["Retry-After"] == "1"  # at least 1
    clock.t = NOW + 60  # the first slot frees; the 429s did not count
    assert client.post(AUDIT_SEARCH, json={}).status_code == 200
    assert client.post(AUDIT_SEARCH, json={}).status_code == 429


def test_refused_and_unauthorised_searches(fake: FakeDescope, client: httpx.Client) -> None:
    fake.set_audit_rate_limit(2)
    with httpx.Client(base_url=fake.url, timeout=5) as anonymous:
        for _ in range(3):
            assert anonymous.post(AUDIT_SEARCH, json={}).status_code == 401  # never counted
    assert client.post(AUDIT_SEARCH, json={"from": 1}).status_code == 400  # counted: Descope answered it
    assert client.post(AUDIT_SEARCH, json={}).status_code == 200
    assert client.post(AUDIT_SEARCH, json={}).status_code == 429


def test_the_limit_is_a_knob(fake: FakeDescope, client: httpx.Client, clock: Clock) -> None:
    fake.set_audit_rate_limit(1, window=10)
    assert client.post(AUDIT_SEARCH, json={}).status_code == 200
    assert client.post(AUDIT_SEARCH, json={}).headers["Retry-After"] == "10"
    fake.reset_audit_rate()
    assert client.post(AUDIT_SEARCH, json={}).status_code == 200
    fake.audit_rate_limit = None
    assert all(client.post(AUDIT_SEARCH, json={}).status_code == 200 for _ in range(15))


def test_an_injected_fault(fake: FakeDescope, client: httpx.Client) -> None:
    fake.fail_next(AUDIT_SEARCH, status=429, retry_after=7)
    response = client.post(AUDIT_SEARCH, json={})
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert response.json()["errorCode"] == "E130429"
    assert client.post(AUDIT_SEARCH, json={}).status_code == 200
