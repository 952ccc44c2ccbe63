"""The pre-flight: approvers see whom they approve, and bad targets never reach them.

Before a request is posted, the bot loads the target from Descope (``GET /v1/mgmt/user``). An unknown login
ID, a disabled user or a tenant the user is not in is refused at once (nothing posted, the refusal in the
audit); a Descope that cannot answer in time lets the request through, marked "not verified". And a word in
the duration position that is meant as one but is not valid is refused. Each test runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.devtools.descope_api import USER_LOAD
from bot.devtools.harness import APPROVAL_CHANNEL, REQUESTER, TARGET, Stack
from bot.store import Store, make_engine

StackFactory = Callable[..., Stack]


def _approval_messages(s: Stack) -> list[str]:
    return [t for (ch, t), m in list(s.slack.messages.items()) if ch == APPROVAL_CHANNEL and not m.get("thread_ts")]


def _audit(database_url: str) -> list[tuple[str, str, str | None]]:
    engine = make_engine(database_url)
    try:
        return [(e.request_id, e.action, e.detail) for e in Store(engine).audit()]
    finally:
        engine.dispose()


def test_the_approval_message_shows_whom_descope_knows(stack: Stack) -> None:
    for tenant in ("acme-us", "acme-apac", "acme-latam"):
        stack.descope.users[TARGET].tenants.append(tenant)
    _, ts = stack.submit()
    text = stack.approval_text(ts)
    assert "Jane Doe" in text and "Acme Eu" in text and "+1 more" in text
    assert "Not verified" not in text
    (call,) = stack.descope.calls_but_probes(USER_LOAD)
    assert call.body == {"loginId": TARGET}


@pytest.mark.parametrize(("command", "told"), [
    ("ghost@acme.com 10m checking", "There is no Descope user with login ID `ghost@acme.com`"),
    (f"{TARGET} 10m --tenant acme-us checking", "is not a member of tenant `acme-us`"),
    ("disabled@acme.com 10m checking", "The Descope user `disabled@acme.com` is disabled"),
])
def test_a_bad_target_is_refused_at_once_and_never_reaches_the_approvers(
        make_stack: StackFactory, database_url: str, command: str, told: str) -> None:
    s = make_stack()
    s.descope.add_user("disabled@acme.com", status="disabled")
    reply = s.command(command)
    assert reply.status == 200 and reply.json["response_type"] == "ephemeral"
    assert told in reply.text and "nothing was sent to the approvers" in reply.text
    time.sleep(1.5)  # a sweep or two: nothing is posted later either
    assert _approval_messages(s) == []
    assert not [c for c in s.slack.calls_of("chat.postMessage")]
    refused = [(rid, detail) for rid, action, detail in _audit(database_url) if action == "refused"]
    assert len(refused) == 1 and '"type":"failure"' in str(refused[0][1])
    assert refused[0][0] in s.command("list").text  # the requester sees it, refused


@pytest.mark.parametrize("fault", ["outage", "slow"])
def test_descope_unreachable_or_slow_marks_the_request_not_verified(make_stack: StackFactory, fault: str) -> None:
    s = make_stack()
    if fault == "outage":
        s.descope.fail_next(USER_LOAD, status=503, count=5)
    else:
        s.descope.set_latency(USER_LOAD, 2.5)  # longer than the pre-flight waits (the benchmark times the ack)
    _, ts = s.submit()
    assert "Not verified in Descope" in s.approval_text(ts)
    assert len(s.descope.calls_but_probes(USER_LOAD)) == 1  # one try: no retries inside Slack's 3 seconds


@pytest.mark.parametrize("word", ["-5m", "5mins", "1.5h", "+1h", "2hours"])
def test_a_duration_attempt_that_is_not_one_is_refused(shared_stack: Stack, word: str) -> None:
    stack = shared_stack  # one bot for every word: a refusal stores nothing another word could see
    reply = stack.command(f"{TARGET} {word} checking invoice")
    assert f"`{word}` is not a duration" in reply.text and "`1h30m`" in reply.text
    assert "*Usage*" in reply.text
    assert stack.descope.calls_but_probes() == [] and _approval_messages(stack) == []
    assert "You have no requests" in stack.command("list", user_id=REQUESTER).text
