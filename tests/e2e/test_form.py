"""The request form end to end, against the real process: ``/impersonate`` alone and the global shortcut open it
(``views.open`` with their ``trigger_id``); a submission, signed as Slack signs it, is answered over HTTP with field
errors (nothing stored, nothing posted) or with the form turned into the command's answer, and the approvals channel
gets the same message as for the typed command. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.devtools.harness import APPROVAL_CHANNEL, REQUESTER, TARGET, TENANT, Reply, Stack
from bot.devtools.signing import shortcut_body, view_submission_body
from bot.domain import State
from bot.slack.views import ids
from bot.store import Store, make_engine

StackFactory = Callable[..., Stack]

FILLED = {ids.FORM_LOGIN_ID: TARGET, ids.FORM_TENANT: TENANT, ids.FORM_WINDOW: "1h",
          ids.FORM_REASON: "checking invoice SUP-123"}


def _trigger(tag: str) -> str:
    """A trigger ID as Slack issues it (its first part is the issue time the fake checks)."""
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**9)}.{tag}"


def _opened(s: Stack, trigger: str) -> dict[str, Any]:
    """The view the bot opened with ``trigger``."""
    call = s.slack.wait_for_call("views.open", where=lambda c: c.params.get("trigger_id") == trigger)
    view: dict[str, Any] = call.params["view"]
    return view


def _open_by_command(s: Stack) -> dict[str, Any]:
    trigger = _trigger("command")
    reply = s.command("", trigger_id=trigger)
    assert (reply.status, reply.body) == (200, ""), reply  # the ack says nothing: the form opens
    return _opened(s, trigger)


def _submit(s: Stack, view: dict[str, Any], **answers: str | None) -> Reply:
    reply = s.bot.post(view_submission_body(view, {**FILLED, **answers}, user_id=REQUESTER))
    assert reply.status == 200, reply
    return reply


def _approval_messages(s: Stack) -> list[str]:
    return [t for (ch, t), m in list(s.slack.messages.items()) if ch == APPROVAL_CHANNEL and not m.get("thread_ts")]


def _requests(database_url: str) -> list[tuple[State, str]]:
    engine = make_engine(database_url)
    try:
        return [(r.state, r.login_id) for r in Store(engine).list_requests(limit=100)]
    finally:
        engine.dispose()


def test_the_command_alone_and_the_shortcut_open_the_form_and_help_still_prints_the_usage(stack: Stack) -> None:
    view = _open_by_command(stack)

    assert view["callback_id"] == ids.REQUEST_FORM
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert [b["label"]["text"] for b in inputs.values()] == ["Login ID", "Tenant", "Window", "Reason"]
    assert [b["optional"] for b in inputs.values()] == [False, True, True, False]
    window = inputs[ids.FORM_WINDOW_BLOCK]["element"]
    assert [o["value"] for o in window["options"]] == ["5m", "15m", "30m", "1h", "2h", "4h"]
    assert "initial_option" not in window  # left empty, the deciding rule's default applies

    trigger = _trigger("shortcut")
    reply = stack.bot.post(shortcut_body(ids.REQUEST_SHORTCUT, user_id=REQUESTER, trigger_id=trigger))
    assert (reply.status, reply.body) == (200, "")
    assert _opened(stack, trigger) == view

    usage = stack.command("help")
    assert usage.json["response_type"] == "ephemeral" and usage.text.startswith("*Usage*")
    assert "`/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>`" in usage.text
    assert len(stack.slack.calls_of("views.open")) == 2


def test_a_bad_field_is_answered_on_that_field_and_nothing_is_stored_or_posted(
        stack: Stack, database_url: str) -> None:
    view = _open_by_command(stack)

    cases = [
        ({ids.FORM_WINDOW: "8h"}, ids.FORM_WINDOW_BLOCK, "That window is out of policy: the longest window allowed"),
        ({ids.FORM_REASON: "  "}, ids.FORM_REASON_BLOCK, "A reason is required"),
        ({ids.FORM_LOGIN_ID: "ghost@acme.com"}, ids.FORM_LOGIN_ID_BLOCK,
         "There is no Descope user with login ID ghost@acme.com"),
        ({ids.FORM_TENANT: "acme-us"}, ids.FORM_TENANT_BLOCK,
         f"The Descope user {TARGET} is not a member of tenant acme-us"),
    ]
    for answers, block, says in cases:
        reply = _submit(stack, view, **answers)
        assert reply.json["response_action"] == "errors", (answers, reply)
        [(where, text)] = reply.json["errors"].items()
        assert where == block and text.startswith(says), (answers, reply)

    time.sleep(1.5)  # a sweep or two: nothing is posted later either
    assert _approval_messages(stack) == []
    assert not [c for c in stack.slack.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    # Only the pre-flight's refusals are kept (failed, for the audit), exactly as for the typed command.
    assert sorted(_requests(database_url)) == sorted([(State.FAILED, TARGET), (State.FAILED, "ghost@acme.com")])


def test_a_form_without_a_window_gets_the_default_of_the_rule_that_decides_it(make_stack: StackFactory,
                                                                               tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[rule]]\nname = "short"\ntenants = ["{TENANT}"]\ndefault_duration = "15m"\n')
    stack = make_stack(POLICY_FILE=str(policy))
    view = _open_by_command(stack)
    reply = _submit(stack, view, **{ids.FORM_WINDOW: None, ids.FORM_TENANT: TENANT})
    assert reply.json["response_action"] == "update", reply
    assert "for 15m" in json.dumps(reply.json["view"])  # the rule's default, not DEFAULT_DURATION (30m)


def _normalised(blocks: list[dict[str, Any]], request_id: str) -> str:
    return re.sub(r"<!date\^[^>]*>", "<date>", json.dumps(blocks).replace(request_id, "<id>"))


def test_a_valid_form_posts_the_typed_commands_approval_message_and_answers_on_the_form(stack: Stack) -> None:
    trigger = _trigger("shortcut")
    assert stack.bot.post(shortcut_body(ids.REQUEST_SHORTCUT, user_id=REQUESTER, trigger_id=trigger)).status == 200
    reply = _submit(stack, _opened(stack, trigger))

    assert reply.json["response_action"] == "update"
    sent = reply.json["view"]
    assert sent["callback_id"] == ids.REQUEST_SENT and "submit" not in sent
    text = sent["blocks"][0]["text"]["text"]
    request_id = text.split("`")[1]
    assert text.startswith(f":inbox_tray: Request `{request_id}` to impersonate `{TARGET}` (tenant `{TENANT}`) for 1h")
    assert "is waiting for a second admin" in text and f"`/impersonate stop {request_id}`" in text

    ts = stack.slack.wait_for(lambda: next(iter(_approval_messages(stack)), None), message="the approval message")
    message = stack.slack.messages[(APPROVAL_CHANNEL, ts)]
    assert request_id in stack.approval_text(ts) and stack.has_buttons(ts)
    from_form = copy.deepcopy(message["blocks"])

    # The same request, typed (once the first is withdrawn): the same message, but for its ID and times.
    assert "withdrawn" in stack.command(f"stop {request_id}").text
    typed_id, typed_ts = stack.submit(f"{TARGET} 1h --tenant {TENANT} checking invoice SUP-123")
    typed = stack.slack.messages[(APPROVAL_CHANNEL, typed_ts)]["blocks"]
    assert _normalised(typed, typed_id) == _normalised(from_form, request_id)
