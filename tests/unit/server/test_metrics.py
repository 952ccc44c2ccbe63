"""``bot.server.metrics``: the database-wide gauge against a real SQLite store, the hooks that feed the counters (the
store's outcomes, the Descope client, the Slack client), labels kept to their enumerations, and the exposition."""

from __future__ import annotations

import json
import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Secret, Settings
from bot.descope import DescopeClient, DescopeRefused, DescopeUnavailable
from bot.descope.retry import RetryPolicy
from bot.domain import State
from bot.server.metrics import Metrics
from bot.slack.client import CountingWebClient, make_client
from bot.store import Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _submit(store: Store, login_id: str = "jane@acme.com") -> str:
    return store.insert(requester_id="UREQ1", login_id=login_id, tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=T0 + timedelta(minutes=30), now=T0).row.id


def _activate(store: Store, request_id: str) -> None:
    assert store._transition(request_id, [State.PENDING], State.APPROVED, actor="UAPPR1", action="approved", now=T0,
                            decided_by="UAPPR1", decided_at=T0)
    assert store._transition(request_id, [State.APPROVED], State.ACTIVE, actor="system", action="activated", now=T0,
                            started_at=T0, ends_at=T0 + timedelta(minutes=30), token_sealed="sealed")


def test_sessions_active_is_read_from_the_database_at_each_scrape(store: Store) -> None:
    metrics, other_replica = Metrics(store.count_active), Metrics(store.count_active)
    assert sample(metrics, "impersonation_bot_sessions_active") == 0
    first, second = _submit(store), _submit(store, "bob@acme.com")
    _activate(store, first)
    assert sample(metrics, "impersonation_bot_sessions_active") == 1
    _activate(store, second)
    assert sample(other_replica, "impersonation_bot_sessions_active") == 2  # the same on every replica
    assert store._transition(first, [State.ACTIVE], State.STOPPED, actor="system", action="stopped", now=T0,
                            stopped_at=T0, token_sealed=None)
    assert sample(metrics, "impersonation_bot_sessions_active") == 1


def test_the_store_reports_each_outcome_once_after_its_commit(store: Store) -> None:
    metrics = Metrics(store.count_active)
    store.on_outcome = metrics.request_outcome
    request_id = _submit(store)
    _activate(store, request_id)
    assert store._transition(request_id, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied",
                            now=T0) is None  # lost: not counted
    denied = _submit(store, "bob@acme.com")
    assert store._transition(denied, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied", now=T0)
    store.insert_refused(requester_id="UREQ1", login_id="ghost@acme.com", tenant=None,
                         duration=timedelta(minutes=5), reason="r", now=T0, failure="{}")
    counts = {o: sample(metrics, "impersonation_bot_requests_total", outcome=o)
              for o in ("submitted", "refused", "approved", "active", "denied", "stopped")}
    assert counts == {"submitted": 2, "refused": 1, "approved": 1, "active": 1, "denied": 1, "stopped": 0}


def test_stop_lateness_is_a_histogram_of_seconds() -> None:
    metrics = Metrics()
    metrics.stopped_late(0.4)
    metrics.stopped_late(-0.2)  # clocks a hair apart: never a negative lateness
    assert sample(metrics, "impersonation_bot_stop_lateness_seconds_count") == 2
    assert sample(metrics, "impersonation_bot_stop_lateness_seconds_bucket", le="0.5") == 2
    assert sample(metrics, "impersonation_bot_stop_lateness_seconds_sum") == pytest.approx(0.4)


def test_labels_outside_their_enumerations_become_other() -> None:
    metrics = Metrics()
    metrics.request_outcome("UREQ1")
    metrics.descope_call("jane@acme.com", "xoxb-secret")
    metrics.slack_call("xoxb-1234-secret", "ok")
    metrics.slack_call("chat.postMessage", "ok")
    body, content_type = metrics.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for secret in ("UREQ1", "jane@acme.com", "xoxb"):
        assert secret not in text
    assert sample(metrics, "impersonation_bot_requests_total", outcome="other") == 1
    assert sample(metrics, "impersonation_bot_descope_calls_total", call="other", result="other") == 1
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="other", result="ok") == 1
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="chat.postMessage", result="ok") == 1


def test_each_descope_call_is_counted_once_with_its_result() -> None:
    answers = iter([httpx.Response(200, json={"jwt": "a.b.c"}), httpx.Response(503), httpx.Response(503),
                    httpx.Response(404, json={"errorCode": "E1"}), httpx.Response(200, json={})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    metrics = Metrics()
    client = DescopeClient("P2abc", "K1", "https://api.descope.test", transport=httpx.MockTransport(handler),
                           retry=RetryPolicy(attempts=2), sleep=lambda s: None, on_call=metrics.descope_call)
    assert client.impersonate(login_id="jane@acme.com", impersonator_id="a@b.c", validate_consent=True,
                              refresh_duration=60) == "a.b.c"
    with pytest.raises(DescopeUnavailable):
        client.stop_impersonation("a.b.c")  # two attempts, one call
    with pytest.raises(DescopeRefused):
        client.load_user("ghost@acme.com")
    client.logout("a.b.c")
    counted = {(s.labels["call"], s.labels["result"]): s.value
               for family in metrics.registry.collect() if family.name == "impersonation_bot_descope_calls"
               for s in family.samples if s.name.endswith("_total")}
    assert counted == {("impersonate", "ok"): 1, ("stop", "unavailable"): 1, ("load_user", "refused"): 1,
                       ("logout", "ok"): 1}


def test_each_429_descope_answers_is_counted_against_its_call() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}, json={"errorCode": "E130429"}),
                    httpx.Response(200, json={}), httpx.Response(429, headers={"Retry-After": "0"}),
                    httpx.Response(429, headers={"Retry-After": "0"})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    metrics = Metrics()
    client = DescopeClient("P2abc", "K1", "https://api.descope.test", transport=httpx.MockTransport(handler),
                           retry=RetryPolicy(attempts=2), sleep=lambda s: None, on_call=metrics.descope_call,
                           on_limited=metrics.descope_rate_limited)
    client.stop_impersonation("a.b.c")  # a 429, then stopped
    with pytest.raises(DescopeUnavailable):
        client.logout("a.b.c")  # 429 twice: given up
    assert sample(metrics, "impersonation_bot_descope_rate_limited_total", call="stop") == 1
    assert sample(metrics, "impersonation_bot_descope_rate_limited_total", call="logout") == 2
    assert sample(metrics, "impersonation_bot_descope_calls_total", call="stop", result="ok") == 1


def _answering(client: CountingWebClient, status: int, body: dict[str, Any]) -> None:
    def perform(*, url: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"status": status, "headers": {}, "body": json.dumps(body)}

    client._perform_urllib_http_request = perform  # type: ignore[method-assign]


def test_each_slack_call_is_counted_once_with_its_result() -> None:
    metrics = Metrics()
    settings = Settings(slack_bot_token=Secret("xoxb-1"), approval_channel="C0APP", approvers=("U0AAA",),
                        descope_project_id="P2abc", descope_management_key=Secret("K1"))
    client = make_client(settings, on_call=metrics.slack_call)
    assert isinstance(client, CountingWebClient)
    client.retry_handlers = []  # one attempt per call here
    _answering(client, 200, {"ok": True, "ts": "1.2"})
    client.chat_postMessage(channel="C0APP", text="hi")
    _answering(client, 200, {"ok": False, "error": "channel_not_found"})
    with pytest.raises(SlackApiError):
        client.chat_update(channel="C0APP", ts="1.2", text="hi")
    _answering(client, 429, {"ok": False, "error": "ratelimited"})
    with pytest.raises(SlackApiError):
        client.users_info(user="UREQ1")
    forked = client.fork("T1")  # what a Bolt listener's client is
    _answering(forked, 200, {"ok": True})
    forked.views_open(trigger_id="t", view={})
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="chat.postMessage", result="ok") == 1
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="chat.update", result="error") == 1
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="users.info", result="ratelimited") == 1
    assert sample(metrics, "impersonation_bot_slack_calls_total", method="views.open", result="ok") == 1
    assert "UREQ1" not in metrics.render()[0].decode()


def test_serve_answers_on_its_own_port(store: Store) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    metrics = Metrics(store.count_active)
    metrics.request_outcome("submitted")
    metrics.serve(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    assert 'impersonation_bot_requests_total{outcome="submitted"} 1.0' in text
    assert "impersonation_bot_sessions_active 0.0" in text
