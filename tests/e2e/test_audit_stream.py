"""The record leaves the bot, end to end (issue 27): every audit event reaches the security team's intake, signed, at
least once and in order, through an outage of the intake and a restart of the bot; an intake refusing for ever is
logged and counted; Descope's audit is watched for impersonations outside the bot, each told once in the approvals
channel and audited. The real bot against the stand-ins (a fake intake that checks signatures); SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from bot.devtools import FakeIntake
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, Stack

StackFactory = Callable[..., Stack]


@pytest.fixture
def intake() -> Iterator[FakeIntake]:
    with FakeIntake() as server:
        yield server


def streaming(make_stack: StackFactory, intake: FakeIntake, **overrides: str) -> Stack:
    return make_stack(AUDIT_WEBHOOK_URL=intake.url, AUDIT_WEBHOOK_SECRET=intake.secret, **overrides)


def approved(s: Stack) -> str:
    request_id, ts = s.submit()
    assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    return request_id


def actions_of(events: list[dict], request_id: str) -> list[str]:
    return [e["action"] for e in events if e["request_id"] == request_id]


def metrics(s: Stack) -> str:
    with urllib.request.urlopen(s.bot.url + "/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def test_every_event_reaches_the_intake_signed_in_order_and_never_a_token(make_stack: StackFactory,
                                                                           intake: FakeIntake) -> None:
    s = streaming(make_stack, intake)
    request_id = approved(s)
    s.slack.wait_for(lambda: actions_of(intake.events(), request_id)[:3] == ["requested", "approved", "activated"],
                     message="the request's events at the intake")
    events = intake.events()
    first = next(e for e in events if e["request_id"] == request_id)
    assert set(first) == {"id", "seq", "time", "action", "request_id", "actor", "target", "tenant", "details"}
    assert (first["actor"], first["target"], first["tenant"]) == (REQUESTER, "jane@acme.com", "acme-eu")
    assert first["time"].endswith("Z") and isinstance(first["id"], str)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # increasing in delivery order
    assert intake.rejections() == []  # every POST was signed with the secret
    bodies = " ".join(call.body.decode() for call in intake.calls)
    assert not any(token in bodies for token in s.descope.active_tokens())  # never a token


def test_an_outage_of_the_intake_and_a_restart_lose_nothing(make_stack: StackFactory, intake: FakeIntake) -> None:
    s = streaming(make_stack, intake)
    intake.fail_always(503)
    request_id = approved(s)
    s.slack.wait_for(lambda: any(call.status == 503 for call in intake.calls), message="a refused delivery")
    assert intake.events() == []
    s.slack.wait_for(lambda: 'impersonation_bot_audit_deliveries_total{outcome="failed"}' in metrics(s),
                     message="the failure counted")
    assert "impersonation_bot_audit_outbox_events 0.0" not in metrics(s)  # a backlog, said so
    s.bot.kill()
    s.bot.restart()
    intake.heal()
    s.slack.wait_for(lambda: actions_of(intake.unique_events(), request_id)[:3] == ["requested", "approved",
                                                                                   "activated"],
                     timeout=20, message="everything delivered once the intake is back")
    s.slack.wait_for(lambda: "impersonation_bot_audit_outbox_events 0.0" in metrics(s), message="no backlog")


def test_an_intake_refusing_for_ever_is_logged_with_its_status_and_counted(make_stack: StackFactory,
                                                                             intake: FakeIntake) -> None:
    s = streaming(make_stack, intake)
    intake.fail_always(400)
    s.submit()
    s.slack.wait_for(lambda: "HTTP 400" in s.bot.log(), message="the refusal logged with its status")
    assert 'impersonation_bot_audit_deliveries_total{outcome="refused"}' in metrics(s)
    assert intake.secret not in s.bot.log()


def test_impersonations_outside_the_bot_are_told_once_and_audited(make_stack: StackFactory,
                                                                   intake: FakeIntake) -> None:
    quiet = make_stack(RECONCILE_INTERVAL="0")
    own = approved(quiet)  # the bot's own: Descope's audit has it, and so does the bot
    quiet.descope.record_login("bob@acme.com")  # someone at the console
    quiet.bot.stop()
    s = streaming(make_stack, intake, RECONCILE_INTERVAL="1m")  # the same database: the watch looks back 24h
    s.slack.wait_for(lambda: [m for (ch, _), m in list(s.slack.messages.items()) if ch == APPROVAL_CHANNEL
                              and "outside this bot" in json.dumps(m)], timeout=20, message="the alert")
    alerts = [s.slack.message_text(ch, ts) for (ch, ts) in list(s.slack.messages) if ch == APPROVAL_CHANNEL
              and "outside this bot" in s.slack.message_text(ch, ts)]
    assert len(alerts) == 1 and "bob@acme.com" in alerts[0] and "jane@acme.com" not in alerts[0]
    s.slack.wait_for(lambda: any(e["action"] == "outside_impersonation" for e in intake.events()),
                     message="the outside impersonation streamed")
    found = next(e for e in intake.events() if e["action"] == "outside_impersonation")
    assert found["request_id"] is None and found["target"] == "bob@acme.com"
    assert "impersonation_bot_outside_impersonations_total 1.0" in metrics(s)
    assert own  # its session matched Descope's record: no alert for it
