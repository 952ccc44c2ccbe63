"""The request form in-process: ``/impersonate`` alone and the shortcut open it (``views.open`` with their
``trigger_id``); a submission, signed as Slack signs it, is answered in its ack: field errors (nothing stored or
posted), or the form turned into the command's answer, with the same approval message as the typed command's.
"""

from __future__ import annotations

import copy
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from bot.devtools.descope_api import USER_LOAD
from bot.devtools.harness import OUTSIDER, REQUESTER, TARGET, TENANT
from bot.devtools.signing import shortcut_body, slash_command_body, view_submission_body
from bot.domain import State
from bot.slack.listeners.base import Deps
from bot.slack.messages import replies
from bot.slack.views import form, ids
from tests.unit.slack.listeners.conftest import VALID_COMMAND, Answer, InProcessBot

FILLED = {ids.FORM_LOGIN_ID: TARGET, ids.FORM_TENANT: TENANT, ids.FORM_WINDOW: "30m",
          ids.FORM_REASON: "checking invoice SUP-123"}


def open_by_command(bot: InProcessBot, text: str = "", trigger_id: str | None = None) -> tuple[Answer, str]:
    """``/impersonate <text>``, its work after the ack settled: (the ack, the key of its response_url)."""
    key = f"cmd-{time.monotonic_ns()}"
    answer = bot.dispatch(slash_command_body(text, user_id=REQUESTER, response_url=bot.slack.response_url(key),
                                             trigger_id=trigger_id))
    bot.settle()
    return answer, key


def opened(bot: InProcessBot) -> list[tuple[str, dict[str, Any]]]:
    """Every modal opened: (trigger_id, view)."""
    return [(c.params["trigger_id"], c.params["view"]) for c in bot.slack.calls_of("views.open")]


def submit(bot: InProcessBot, user_id: str = REQUESTER, view: dict[str, Any] | None = None,
           **answers: str | None) -> Answer:
    """Submit the form (the one the bot opened last, or a fresh one) filled in with ``FILLED`` and ``answers``."""
    shown = view or (bot.slack.views[-1] if bot.slack.views else fresh_form(bot))
    answer = bot.dispatch(view_submission_body(shown, {**FILLED, **answers}, user_id=user_id))
    bot.settle()
    assert answer.status == 200, answer
    return answer


def assert_nothing_live_or_posted(bot: InProcessBot) -> None:
    assert [r for r in bot.all_requests() if r.state is not State.FAILED] == []
    assert bot.spoken() == []


def fresh_form(bot: InProcessBot) -> dict[str, Any]:
    """The form as the bot builds it for its settings (as if opened a moment ago)."""
    return form.build(Deps(bot.settings, bot.workflows).windows)


# -- opening it -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   "])
def test_the_command_alone_opens_the_form_with_its_trigger_and_says_nothing_else(
        bot: InProcessBot, text: str) -> None:
    trigger = f"{int(time.time() * 1000)}.42.form"
    answer, key = open_by_command(bot, text, trigger_id=trigger)

    assert (answer.status, answer.body) == (200, "")  # the ack: no message in the channel
    [(used, view)] = opened(bot)
    assert used == trigger
    assert view["callback_id"] == ids.REQUEST_FORM and view["title"]["text"] == "Request impersonation"
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Login ID", "Tenant", "Window", "Reason"]
    window = next(b["element"] for b in view["blocks"] if b.get("block_id") == ids.FORM_WINDOW_BLOCK)
    assert [o["value"] for o in window["options"]] == ["5m", "15m", "30m", "1h", "2h", "4h"]
    assert "initial_option" not in window  # left empty: the deciding rule's default
    assert bot.told(key) == [] and bot.all_requests() == []


def test_help_still_prints_the_usage_and_opens_nothing(bot: InProcessBot) -> None:
    answer, _ = open_by_command(bot, "help")

    assert answer.json["response_type"] == "ephemeral" and answer.text.startswith("*Usage*")
    assert "`/impersonate` alone opens a form" in answer.text
    assert opened(bot) == []


def test_when_the_form_cannot_open_the_requester_gets_the_usage(bot: InProcessBot) -> None:
    stale = f"{int((time.time() - 10) * 1000)}.42.form"  # Slack's 3 seconds are over
    answer, key = open_by_command(bot, "", trigger_id=stale)

    assert (answer.status, answer.body) == (200, "")
    assert bot.slack.views == []
    [told] = bot.told(key)
    assert told["response_type"] == "ephemeral" and told["text"] == replies.USAGE


def test_the_shortcut_opens_the_form(bot: InProcessBot) -> None:
    trigger = f"{int(time.time() * 1000)}.7.shortcut"
    answer = bot.dispatch(shortcut_body(ids.REQUEST_SHORTCUT, user_id=REQUESTER, trigger_id=trigger))
    bot.settle()

    assert (answer.status, answer.body) == (200, "")
    [(used, view)] = opened(bot)
    assert used == trigger and view == fresh_form(bot)


# -- submitting it --------------------------------------------------------------------------------------


def _normalised(blocks: list[dict[str, Any]], request_id: str) -> str:
    return re.sub(r"<!date\^[^>]*>", "<date>", json.dumps(blocks).replace(request_id, "<id>"))


def test_a_valid_form_does_what_the_typed_command_does(bot: InProcessBot) -> None:
    open_by_command(bot)
    answer = submit(bot)

    [request] = bot.all_requests()
    assert (request.requester_id, request.login_id, request.tenant, request.duration, request.reason) == (
        REQUESTER, TARGET, TENANT, timedelta(minutes=30), "checking invoice SUP-123")
    assert answer.json["response_action"] == "update"
    sent = answer.json["view"]
    assert sent["callback_id"] == ids.REQUEST_SENT and "submit" not in sent
    assert sent["blocks"][0]["text"]["text"] == replies.submitted(request)  # the command's answer, word for word
    assert f"Request `{request.id}`" in sent["blocks"][0]["text"]["text"]
    assert bot.spoken() == []  # the approval message comes from the worker, as for the command
    from_form = copy.deepcopy(bot.approval_message(bot.post_approval(request.id))["blocks"])

    # The same request typed: the same approval message, but for its ID and times.
    assert bot.command(f"stop {request.id}").status == 200
    bot.settle()
    typed_id, typed_ts = bot.submit(VALID_COMMAND)
    assert _normalised(bot.approval_message(typed_ts)["blocks"], typed_id) == _normalised(from_form, request.id)


def test_a_multi_line_reason_and_no_tenant_are_kept_as_given(bot: InProcessBot) -> None:
    answer = submit(bot, view=fresh_form(bot), **{
        ids.FORM_TENANT: None, ids.FORM_WINDOW: "2h", ids.FORM_REASON: "SUP-123\n  the invoice total is wrong  "})

    assert answer.json["response_action"] == "update"
    [request] = bot.all_requests()
    assert (request.tenant, request.duration, request.reason) == (
        None, timedelta(hours=2), "SUP-123\n  the invoice total is wrong")


@pytest.mark.parametrize(("answers", "block", "says"), [
    ({ids.FORM_WINDOW: "5h"}, ids.FORM_WINDOW_BLOCK, "That window is out of policy: the longest window allowed is 4h."),
    ({ids.FORM_WINDOW: "soon"}, ids.FORM_WINDOW_BLOCK, "Choose one of the windows offered."),
    ({ids.FORM_REASON: "   "}, ids.FORM_REASON_BLOCK, "A reason is required"),
    ({ids.FORM_REASON: "x" * 501}, ids.FORM_REASON_BLOCK, "The reason is 501 characters long"),
    ({ids.FORM_LOGIN_ID: " "}, ids.FORM_LOGIN_ID_BLOCK, "Give the Descope login ID"),
    ({ids.FORM_TENANT: "t" * 129}, ids.FORM_TENANT_BLOCK, "The tenant ID is too long"),
])
def test_a_bad_field_is_reported_on_it_and_nothing_is_asked_stored_or_posted(
        bot: InProcessBot, answers: dict[str, str], block: str, says: str) -> None:
    open_by_command(bot)
    answer = submit(bot, **answers)

    assert answer.json["response_action"] == "errors"
    [(where, text)] = answer.json["errors"].items()
    assert where == block and text.startswith(says)
    assert bot.all_requests() == [] and bot.spoken() == []
    assert bot.descope.calls_to(USER_LOAD) == []  # refused before the pre-flight


def test_every_bad_field_is_reported_at_once(bot: InProcessBot) -> None:
    answer = submit(bot, **{ids.FORM_LOGIN_ID: None, ids.FORM_WINDOW: "9h", ids.FORM_REASON: None})

    assert set(answer.json["errors"]) == {ids.FORM_LOGIN_ID_BLOCK, ids.FORM_WINDOW_BLOCK, ids.FORM_REASON_BLOCK}
    assert bot.all_requests() == []


@pytest.mark.parametrize(("answers", "block", "says"), [
    ({ids.FORM_LOGIN_ID: "ghost@acme.com"}, ids.FORM_LOGIN_ID_BLOCK,
     "There is no Descope user with login ID ghost@acme.com"),
    ({ids.FORM_TENANT: "acme-us"}, ids.FORM_TENANT_BLOCK,
     f"The Descope user {TARGET} is not a member of tenant acme-us: nothing was sent to the approvers. Leave the "
     "tenant empty"),
])
def test_a_target_the_pre_flight_refuses_is_reported_on_its_field_and_never_reaches_the_approvers(
        bot: InProcessBot, answers: dict[str, str], block: str, says: str) -> None:
    answer = submit(bot, **answers)

    assert answer.json["response_action"] == "errors"
    [(where, text)] = answer.json["errors"].items()
    assert where == block and text.startswith(says)
    assert_nothing_live_or_posted(bot)
    [refused] = bot.all_requests()  # kept for the audit, as for the typed command
    assert [e.action for e in bot.store.audit(request_id=refused.id)] == ["refused"]


def test_a_second_request_for_the_same_user_is_refused_on_the_login_id(bot: InProcessBot) -> None:
    first = submit(bot, view=fresh_form(bot))
    assert first.json["response_action"] == "update"
    [live] = bot.all_requests()

    again = submit(bot, view=fresh_form(bot), **{ids.FORM_REASON: "once more"})

    assert again.json["response_action"] == "errors"
    assert again.json["errors"][ids.FORM_LOGIN_ID_BLOCK].startswith(
        f"You already have request {live.id} (pending) for {TARGET}")
    assert bot.all_requests() == [live]


def test_someone_who_may_not_request_is_told_on_the_form(bot: InProcessBot) -> None:
    answer = submit(bot, user_id=OUTSIDER, view=fresh_form(bot))

    assert answer.json["response_action"] == "errors"
    [(where, text)] = answer.json["errors"].items()
    assert where == ids.FORM_LOGIN_ID_BLOCK and text.startswith("You are not allowed to request impersonation")
    assert_nothing_live_or_posted(bot)


def test_an_unexpected_error_shows_its_error_id_over_the_form(
        bot: InProcessBot, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(requester_id: str, draft: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(bot.workflows.requests, "submit", broken)
    answer = submit(bot, view=fresh_form(bot))

    assert answer.json["response_action"] == "push"
    text = answer.json["view"]["blocks"][0]["text"]["text"]
    error_id = re.search(r"Error ID `([0-9a-f]{8})`", text)
    assert error_id is not None
    assert any(error_id.group(1) in r.getMessage() for r in bot.logged_errors())
    assert "the database went away" not in text
    assert bot.spoken() == []


def test_a_submission_of_another_view_is_not_taken_for_a_request(bot: InProcessBot) -> None:
    other = {**fresh_form(bot), "callback_id": ids.TOKEN_MODAL}
    answer = bot.dispatch(view_submission_body(other, FILLED, user_id=REQUESTER))

    assert answer.status == 404
    assert bot.all_requests() == [] and bot.spoken() == []
