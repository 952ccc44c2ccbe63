"""Signed requests Slack would never send get a 4xx, one log line, no traceback, and change nothing: nothing
posted, stored or called. Unsigned ones are a 401 whatever they hold. SQLite and PostgreSQL, one bot for all of them
(each test compares with what was there before it)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, SIGNING_SECRET, Stack
from bot.devtools.signing import block_action_payload, sign

APPROVE = "approval.approve"


def _form(payload: object) -> str:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)})


def _click(**changes: object) -> dict[str, object]:
    payload = block_action_payload(APPROVE, "K7M2QX9A", user_id=APPROVER, channel_id=APPROVAL_CHANNEL,
                                   message_ts="1.000100", response_url="http://127.0.0.1:9/unused")
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


CASES = [
    ("payload not JSON", "application/x-www-form-urlencoded", _form("{not json"), 400, "its payload is not JSON"),
    ("payload a JSON list", "application/x-www-form-urlencoded", _form([1, 2]), 400, "not a JSON object"),
    ("click without actions", "application/x-www-form-urlencoded", _form(_click(actions=[])), 400,
     "a click without an action"),
    ("click without a user", "application/x-www-form-urlencoded", _form(_click(user=None)), 400,
     "a click without a user"),
    ("form submission without a view", "application/x-www-form-urlencoded",
     _form({"type": "view_submission", "user": {"id": APPROVER}, "team": {"id": "T0001"}}), 400,
     "a form submission without its view"),
    ("form submission for an unknown view", "application/x-www-form-urlencoded",
     _form({"type": "view_submission", "user": {"id": APPROVER}, "team": {"id": "T0001"},
            "view": {"id": "V1", "type": "modal", "callback_id": "nobody.knows", "state": {"values": {}}}}), 404,
     "no listener for a view_submission request (nobody.knows)"),
    ("click whose channel is a string", "application/x-www-form-urlencoded", _form(_click(channel=APPROVAL_CHANNEL)),
     400, "channel is not an object"),
    ("click whose user ID is an object", "application/x-www-form-urlencoded",
     _form(_click(user={"id": {"id": APPROVER}})), 400, "user.id is not a string"),
    ("click whose action value is a list", "application/x-www-form-urlencoded",
     _form(_click(actions=[{"action_id": APPROVE, "value": ["K7M2QX9A"]}])), 400, "actions[0].value is not a string"),
    ("click whose message is a list", "application/x-www-form-urlencoded", _form(_click(message=[1])), 400,
     "message is not an object"),
    ("form submission whose state is a string", "application/x-www-form-urlencoded",
     _form({"type": "view_submission", "user": {"id": APPROVER}, "team": {"id": "T0001"},
            "view": {"id": "V1", "type": "modal", "callback_id": "request.form", "state": "values"}}), 400,
     "view.state is not an object"),
    ("form submission whose field is a number", "application/x-www-form-urlencoded",
     _form({"type": "view_submission", "user": {"id": APPROVER}, "team": {"id": "T0001"},
            "view": {"id": "V1", "type": "modal", "callback_id": "request.form", "state": {"values": {
                "request.login_id": {"login_id": {"type": "plain_text_input", "value": 7}}}}}}),
     400, "view.state.values.request.login_id.login_id.value is not a string"),
    ("event whose user is an object", "application/json",
     json.dumps({"type": "event_callback", "team_id": "T0001",
                 "event": {"type": "app_home_opened", "user": {"id": APPROVER}, "tab": "home"}}), 400,
     "event.user is not a string"),
    # What Bolt itself reads of every request before any listener (issue 22's review): a 400, never its traceback.
    ("click whose user is a number", "application/x-www-form-urlencoded", _form(_click(user=7)), 400,
     "a payload Bolt cannot read"),
    ("click whose team is a number", "application/x-www-form-urlencoded", _form(_click(team=7)), 400,
     "a payload Bolt cannot read"),
    ("click whose channel is a number", "application/x-www-form-urlencoded", _form(_click(channel=7)), 400,
     "a payload Bolt cannot read"),
    ("click whose authorizations are a string", "application/x-www-form-urlencoded",
     _form(_click(authorizations="x")), 400, "a payload Bolt cannot read"),
    ("event whose user is a number", "application/json",
     json.dumps({"type": "event_callback", "team_id": "T0001", "event": {"type": "app_home_opened", "user": 7}}),
     400, "a payload Bolt cannot read"),
    ("a kind nobody handles, oddly shaped", "application/x-www-form-urlencoded",
     _form({"type": "interactive_message", "user": {"id": APPROVER}, "team": {"id": "T0001"}, "actions": ["x"],
            "view": "x"}), 404, "no listener for a interactive_message request (?)"),
    ("event callback whose event is null", "application/json",
     json.dumps({"type": "event_callback", "team_id": "T0001", "event": None}), 400,
     "an event callback without its event"),
    ("event callback without an event", "application/json",
     json.dumps({"type": "event_callback", "team_id": "T0001"}), 400, "an event callback without its event"),
    ("a body of nothing Slack sends", "application/json", json.dumps({"hello": "world"}), 400,
     "no kind of request Slack sends"),
]


@pytest.mark.parametrize(("name", "content_type", "body", "status", "logged"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_signed_request_is_refused_in_one_log_line(
        shared_stack: Stack, name: str, content_type: str, body: str, status: int, logged: str) -> None:
    stack = shared_stack
    before = (len(stack.slack.calls), len(stack.descope.calls))
    log_before = stack.bot.log()
    reply = stack.bot.post(body, sign(SIGNING_SECRET, body, content_type=content_type))
    assert reply.status == status, (name, reply)
    new = stack.bot.log()[len(log_before):]
    assert logged in new, (name, new)
    assert "Traceback" not in new and len([line for line in new.splitlines() if line.strip()]) == 1, new
    assert (len(stack.slack.calls), len(stack.descope.calls)) == before  # nothing posted or called
    assert "You have no requests" in stack.command("list").text  # nothing stored


@pytest.mark.parametrize("body", [_form("{not json"), _form(_click(user=7)), _form(_click(channel="C1"))])
def test_an_unsigned_malformed_request_is_a_401(shared_stack: Stack, body: str) -> None:
    stack = shared_stack
    headers = sign("not-the-secret", body, content_type="application/x-www-form-urlencoded")
    log_before = stack.bot.log()
    assert stack.bot.post(body, headers).status == 401
    assert "Traceback" not in stack.bot.log()[len(log_before):]


def test_slack_s_own_checks_are_answered_as_bolt_answers_them(shared_stack: Stack) -> None:
    """What Bolt answers itself (an SSL check, a URL verification) still reaches it, read once before it."""
    stack = shared_stack
    assert stack.bot.post("ssl_check=1&token=legacy").status == 200
    challenge = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "c7Xq"})
    reply = stack.bot.post(challenge, sign(SIGNING_SECRET, challenge, content_type="application/json"))
    assert reply.status == 200 and json.loads(reply.body) == {"challenge": "c7Xq"}
