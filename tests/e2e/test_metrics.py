"""End to end: ``GET /metrics`` on the real process after a flow (submit, approve, the session ends by its window,
a denied and a refused request): the values, and no secret or identity anywhere in the scrape.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.descope_api import LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import (
    APPROVER,
    GROUP_APPROVER,
    OTHER_TARGET,
    REQUESTER,
    SIGNING_SECRET,
    TARGET,
    TENANT,
    BotProcess,
    Stack,
    bot_env,
    free_port,
)
from bot.devtools.signing import slash_command_body
from bot.devtools.socket_mode import FakeSocketMode
from tests.conftest import StackFactory

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(s: Stack | str) -> tuple[str, Samples]:
    base = s if isinstance(s, str) else s.bot.url
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_flow(make_stack: StackFactory) -> None:
    s = make_stack()
    _, before = scrape(s)
    assert value(before, "impersonation_bot_sessions_active") == 0

    # Approved, active, then ended by its window.
    request_id, ts = s.submit(f"{TARGET} 3s --tenant {TENANT} checking invoice SUP-123")
    assert s.click("approve", request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="channel says active")
    _, during = scrape(s)
    assert value(during, "impersonation_bot_sessions_active") == 1
    assert value(during, "impersonation_bot_requests_total", outcome="active") == 1
    s.descope.wait_for_call(STOP_IMPERSONATION, timeout=15)
    s.descope.wait_for_call(LOGOUT, timeout=15)
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), message="channel says ended")

    # Denied.
    denied_id, denied_ts = s.submit(f"{OTHER_TARGET} 10m --tenant {TENANT} another look", user_id=GROUP_APPROVER)
    assert s.click("deny", denied_id, APPROVER, denied_ts).status == 200
    s.slack.wait_for(lambda: "Denied" in s.approval_text(denied_ts) or "denied" in s.approval_text(denied_ts),
                     message="channel says denied")

    # Refused at once (no such Descope user).
    reply = s.command("ghost@acme.com 10m checking")
    assert "nothing was sent to the approvers" in reply.text

    text, after = scrape(s)
    requests = {o: value(after, "impersonation_bot_requests_total", outcome=o)
                for o in ("submitted", "refused", "approved", "active", "stopped", "denied", "expired", "failed")}
    assert requests == {"submitted": 2, "refused": 1, "approved": 1, "active": 1, "stopped": 1, "denied": 1,
                        "expired": 0, "failed": 0}
    assert value(after, "impersonation_bot_sessions_active") == 0
    assert value(after, "impersonation_bot_stop_lateness_seconds_count") == 1
    assert 0 <= value(after, "impersonation_bot_stop_lateness_seconds_sum") < 10
    descope = {(c, r): value(after, "impersonation_bot_descope_calls_total", call=c, result=r)
               for c in ("impersonate", "stop", "logout") for r in ("ok", "refused", "unavailable", "error")}
    assert descope[("impersonate", "ok")] == 1
    assert descope[("stop", "ok")] == 1
    assert descope[("logout", "ok")] + descope[("logout", "refused")] == 1  # 401: already expired, also done
    assert sum(descope.values()) == 3
    assert value(after, "impersonation_bot_descope_calls_total", call="load_user", result="ok") >= 2
    assert value(after, "impersonation_bot_slack_calls_total", method="chat.postMessage", result="ok") >= 1
    assert value(after, "impersonation_bot_slack_calls_total", method="chat.update", result="ok") >= 1

    # No secret, token or identity in any line (labels are enumerations and Slack method names).
    forbidden = ["xoxb-test-token", SIGNING_SECRET, s.descope.management_key, s.descope.project_id,
                 *s.descope.minted, REQUESTER, APPROVER, GROUP_APPROVER, TARGET, OTHER_TARGET, "ghost@acme.com",
                 "corp.example", request_id, denied_id]
    for secret in forbidden:
        assert secret not in text, secret


@pytest.mark.parametrize("stop", ["window ended", "stop asked"])
def test_a_stop_descope_holds_back_shows_as_overdue_and_each_429_is_counted(make_stack: StackFactory,
                                                                          stop: str) -> None:
    """What an SRE alerts on: a session still active past its window's end or after someone asked to stop it (here
    Descope answered its stop 429 and asked for 10 s), and how late; each 429 counted by call. Both back to nothing
    once the stop is done."""
    s = make_stack(RECONCILE_INTERVAL="0", EXPIRY_WARNING="0")
    s.descope.fail_next(STOP_IMPERSONATION, status=429, retry_after=10)
    window = "2s" if stop == "window ended" else "10m"
    request_id, ts = s.submit(f"{TARGET} {window} --tenant {TENANT} checking invoice SUP-123")
    assert s.click("approve", request_id, APPROVER, ts).status == 200
    if stop == "stop asked":
        s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
        assert s.command(f"stop {request_id}").status == 200
    s.descope.wait_for_call(STOP_IMPERSONATION, lambda call: call.status == 429, timeout=15)
    held = s.slack.wait_for(lambda: next((samples for _, samples in [scrape(s)] if value(
        samples, "impersonation_bot_descope_rate_limited_total", call="stop")), None), message="the 429 counted")
    assert value(held, "impersonation_bot_sessions_active") == 1
    assert value(held, "impersonation_bot_sessions_overdue") == 1
    assert 0 < value(held, "impersonation_bot_sessions_overdue_seconds") < 10
    assert value(held, "impersonation_bot_descope_rate_limited_total", call="stop") == 1
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), timeout=30, message="stopped after the wait")
    _, after = scrape(s)
    assert value(after, "impersonation_bot_sessions_overdue") == 0
    assert value(after, "impersonation_bot_sessions_overdue_seconds") == 0
    if stop == "window ended":  # (lateness is measured from the window's end)
        assert value(after, "impersonation_bot_stop_lateness_seconds_sum") >= 9  # it waited the Retry-After
    assert value(after, "impersonation_bot_descope_calls_total", call="stop", result="ok") == 1
    assert value(after, "impersonation_bot_descope_rate_limited_total", call="stop") == 1


def test_socket_mode_serves_metrics_on_metrics_port(fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    slack, descope = fakes
    port = free_port()
    with FakeSocketMode() as sm:
        slack.attach_socket_mode(sm)
        env = bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}", SLACK_APP_TOKEN="xapp-1-test",
                      METRICS_PORT=str(port))
        del env["SLACK_SIGNING_SECRET"]
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
        bot = BotProcess(env, tmp_path / "bot.log", ready=lambda: sm.current is not None)
        try:
            bot.start(timeout=20)
            body = slash_command_body(f"{TARGET} 10m --tenant {TENANT} checking", user_id=REQUESTER,
                                      response_url=slack.response_url("cmd"))
            sm.wait_for_ack_record(sm.send_envelope("slash_commands", dict(parse_qsl(body, keep_blank_values=True))))
            text, samples = scrape(f"http://127.0.0.1:{port}")
        finally:
            bot.stop()
    assert value(samples, "impersonation_bot_requests_total", outcome="submitted") == 1
    assert value(samples, "impersonation_bot_sessions_active") == 0
    assert value(samples, "impersonation_bot_slack_calls_total", method="apps.connections.open", result="ok") >= 1
    for secret in ("xapp-1-test", "xoxb-test-token", descope.management_key, REQUESTER, TARGET):
        assert secret not in text
