"""``bot.slack.guard``: a signed payload whose fields are not of the types Slack sends is named and refused once,
before any listener reads it (issue 22)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.guard import Reading, _malformed, read

CLICK: dict[str, Any] = {"type": "block_actions", "user": {"id": "UBO", "team_id": "T1"}, "team": {"id": "T1"},
                         "actions": [{"action_id": "approval.approve", "value": "K7M2QX9A", "type": "button"}],
                         "channel": {"id": "C1"}, "container": {"type": "message", "message_ts": "1.2"},
                         "message": {"ts": "1.2"}, "response_url": "https://hooks.slack.com/x", "trigger_id": "t"}


def changed(**fields: Any) -> dict[str, Any]:
    return {**CLICK, **fields}


def test_a_click_as_slack_sends_it_passes() -> None:
    assert _malformed(CLICK) is None
    assert _malformed(changed(channel=None, message=None)) is None  # a Home click: neither, or null
    assert _malformed({"type": "url_verification", "challenge": "x"}) is None  # Bolt's


@pytest.mark.parametrize(("payload", "said"), [
    (changed(channel="C1"), "a block_actions payload whose channel is not an object"),
    (changed(user={"id": 7}), "a block_actions payload whose user.id is not a string"),
    (changed(actions=[{"action_id": "a", "value": {"id": "K"}}]), "actions[0].value is not a string"),
    (changed(actions={"action_id": "a"}), "actions is not a list"),
    (changed(container=["message"]), "container is not an object"),
    (changed(view={"type": "home", "private_metadata": ["UBO"]}), "view.private_metadata is not a string"),
    ({"type": "view_submission", "user": {"id": "UBO"}, "view": {"type": "modal", "callback_id": "c",
                                                                 "state": {"values": {"b": {"a": {"value": 1}}}}}},
     "view.state.values.b.a.value is not a string"),
    ({"type": "event_callback", "event": {"type": "app_home_opened", "user": ["UBO"]}}, "event.user is not a string"),
    ({"command": "/impersonate", "user_id": {"id": "UREQ"}, "text": "x"}, "a command payload whose user_id is not"),
])
def test_a_field_of_another_type_is_named(payload: dict[str, Any], said: str) -> None:
    problem = _malformed(payload)
    assert problem is not None and said in problem


def test_a_body_is_read_as_slack_meant_it() -> None:
    """Once, here: Bolt's own reading took a command whose text holds the word "payload" for an empty request."""
    command = "command=%2Fimpersonate&text=a%40b.c+1h+the+payload+of+SUP-7&user_id=UREQ&team_id=T1"
    assert read(command, "application/x-www-form-urlencoded") == Reading(
        {"command": "/impersonate", "text": "a@b.c 1h the payload of SUP-7", "user_id": "UREQ", "team_id": "T1"})
    click = read(urlencode({"payload": json.dumps(CLICK)}), "application/x-www-form-urlencoded")
    assert click == Reading(CLICK, None, checked=True)
    event = {"type": "event_callback", "team_id": "T1", "event": {"type": "app_home_opened", "user": "UBO"}}
    assert read(json.dumps(event), "application/json; charset=utf-8") == Reading(event, None, checked=True)
    assert read("ssl_check=1&token=x", None) == Reading({"ssl_check": "1", "token": "x"})  # Bolt's to answer
    assert read("", None) == Reading({})


@pytest.mark.parametrize(("body", "said"), [
    (urlencode({"payload": "{not json"}), "its payload is not JSON"),
    (urlencode({"payload": "[1]"}), "its payload is not a JSON object"),
    ('{"type": "block_actions", "user": {"id": 7}}', "a block_actions payload whose user.id is not a string"),
])
def test_a_body_unfit_for_bolt_is_named_and_not_read(body: str, said: str) -> None:
    reading = read(body, "application/x-www-form-urlencoded")
    assert reading.body == {} and not reading.checked and reading.problem is not None and said in reading.problem
