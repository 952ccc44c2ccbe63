"""``/impersonate`` in-process: signed as Slack signs it, dispatched to the real app, answered in the ack.

What the person sees is the ack's body (an ephemeral message); what the channel sees is on FakeSlack.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, OUTSIDER, REQUESTER, TARGET, TENANT
from bot.devtools.signing import sign, slash_command_body
from bot.domain import State
from tests.unit.slack.listeners.conftest import VALID_COMMAND, Answer, InProcessBot

USAGE_LINE = "`/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>`"


def assert_ephemeral(answer: Answer) -> None:
    assert answer.status == 200, answer
    assert answer.json.get("response_type") == "ephemeral", answer


def assert_nothing_stored_or_posted(bot: InProcessBot) -> None:
    assert bot.all_requests() == []
    assert bot.spoken() == []  # no approval message, no DM, nothing to a response_url


# -- help and usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["help", "  HELP  "])
def test_help_answers_usage_ephemerally_and_stores_nothing(bot: InProcessBot, text: str) -> None:
    answer = bot.command(text)

    assert_ephemeral(answer)
    assert answer.text.startswith("*Usage*")
    assert USAGE_LINE in answer.text
    assert "`/impersonate stop <request-id>`" in answer.text
    assert_nothing_stored_or_posted(bot)


@pytest.mark.parametrize(("text", "problem"), [
    ("jane@acme.com 30m", "A reason is required"),
    ("jane@acme.com 30m --tenant acme-eu", "A reason is required"),
    ("jane@acme.com 5h checking invoice", "`5h` is out of policy: the longest window allowed is 4h"),
    ("jane@acme.com 30m --team acme checking", "Unknown option `--team`"),
    ("jane@acme.com 30m --tenant", "`--tenant` needs a tenant ID after it"),
    ("jane@acme.com --tenant a --tenant b why", "`--tenant` is given twice"),
    ("<@U0BOB|bob> 30m checking", "not a Slack mention or channel"),
    ("30m checking invoice", "Start with the login ID of the user to impersonate"),
    ("help me", "`help` takes nothing after it."),
    ("list mine", "`list` takes nothing after it."),
    ("stop", "`stop` takes one request ID"),
    ("stop not-an-id!", "is not a request ID"),
])
def test_malformed_command_gets_the_problem_and_the_usage_and_nothing_is_stored(
        bot: InProcessBot, text: str, problem: str) -> None:
    answer = bot.command(text)

    assert_ephemeral(answer)
    assert answer.text.startswith(":warning: ")
    assert problem in answer.text
    assert USAGE_LINE in answer.text  # a usage problem comes with the usage
    assert_nothing_stored_or_posted(bot)


def test_someone_who_may_not_request_is_refused_and_nothing_is_stored(bot: InProcessBot) -> None:
    answer = bot.command(VALID_COMMAND, user_id=OUTSIDER)

    assert_ephemeral(answer)
    assert "You are not allowed to request impersonation" in answer.text
    assert USAGE_LINE not in answer.text  # a refusal, not a usage problem
    assert_nothing_stored_or_posted(bot)


# -- a valid request ------------------------------------------------------------------------------------


def test_valid_command_answers_with_the_request_id_and_the_tick_posts_the_approval_message(
        bot: InProcessBot) -> None:
    answer = bot.command(VALID_COMMAND)

    assert_ephemeral(answer)
    [request] = bot.all_requests()
    assert f"Request `{request.id}`" in answer.text
    assert "waiting for a second admin" in answer.text
    assert f"`/impersonate stop {request.id}`" in answer.text  # how to withdraw it
    assert (request.requester_id, request.login_id, request.tenant) == (REQUESTER, TARGET, TENANT)
    assert (request.duration, request.reason, request.state) == (
        timedelta(minutes=30), "checking invoice SUP-123", State.PENDING)
    assert bot.spoken() == []  # the command itself posts nothing: the worker does, afterwards

    ts = bot.post_approval(request.id)

    [(method, params)] = bot.spoken()
    assert (method, params["channel"]) == ("chat.postMessage", APPROVAL_CHANNEL)
    text = bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert f"<@{REQUESTER}>" in text and request.id in text
    assert f"User: {TARGET}" in text and f"Tenant: {TENANT}" in text and "Window: 30m" in text
    assert "Reason: checking invoice SUP-123" in text
    assert "Waiting for a second admin" in text
    buttons = bot.buttons(ts)
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons] == [
        ("approval.approve", "Approve", request.id), ("approval.deny", "Deny", request.id)]
    assert bot.dm_texts(REQUESTER) == []  # nothing for the requester until someone decides


def test_login_id_in_slacks_escaped_form_is_stored_as_typed(bot: InProcessBot) -> None:
    answer = bot.command(f"<mailto:{TARGET}|{TARGET}> 15m ticket SUP-1 &amp; SUP-2")

    assert_ephemeral(answer)
    [request] = bot.all_requests()
    assert f"Request `{request.id}`" in answer.text
    assert (request.login_id, request.tenant, request.duration, request.reason) == (
        TARGET, None, timedelta(minutes=15), "ticket SUP-1 & SUP-2")


def test_without_a_duration_the_default_window_applies(bot: InProcessBot) -> None:
    bot.command(f"{TARGET} checking invoice")

    [request] = bot.all_requests()
    assert request.duration == bot.settings.default_duration == timedelta(minutes=30)
    assert request.reason == "checking invoice"


def test_a_second_request_for_the_same_user_is_refused_and_not_stored(bot: InProcessBot) -> None:
    first = bot.command(VALID_COMMAND)
    [request] = bot.all_requests()
    assert request.id in first.text

    again = bot.command(VALID_COMMAND)

    assert_ephemeral(again)
    assert f"You already have request `{request.id}`" in again.text
    assert [r.id for r in bot.all_requests()] == [request.id]


# -- list and stop --------------------------------------------------------------------------------------


def test_list_shows_the_requesters_own_requests(bot: InProcessBot) -> None:
    bot.command(VALID_COMMAND)
    [request] = bot.all_requests()

    answer = bot.command("list")

    assert_ephemeral(answer)
    assert "*Your requests*" in answer.text
    assert f"`{request.id}`" in answer.text and "*pending*" in answer.text
    assert "Active sessions" not in answer.text  # that part is for approvers


def test_list_for_an_approver_adds_the_active_sessions(bot: InProcessBot) -> None:
    answer = bot.command("list", user_id=APPROVER)

    assert_ephemeral(answer)
    assert "You have no requests." in answer.text
    assert "*Active sessions (all requesters)*" in answer.text


def test_stop_withdraws_a_pending_request_and_its_message_says_so(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()

    answer = bot.command(f"stop {request_id.lower()}")

    assert_ephemeral(answer)
    assert f"Request `{request_id}` is withdrawn." in answer.text
    assert bot.request(request_id).state is State.DENIED
    bot.workflows.ticker.tick(request_id)  # the worker brings Slack up to date
    assert "Withdrawn by the requester" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert bot.buttons(ts) == []


def test_stop_of_an_unknown_request_says_there_is_none(bot: InProcessBot) -> None:
    answer = bot.command("stop ZZZZ9999")

    assert_ephemeral(answer)
    assert "There is no request `ZZZZ9999`." in answer.text
    assert bot.spoken() == []


# -- what the app refuses before the command runs ----------------------------------------------------------


def test_a_badly_signed_command_is_rejected_and_nothing_is_stored(bot: InProcessBot) -> None:
    body = slash_command_body(VALID_COMMAND, user_id=REQUESTER)

    answer = bot.dispatch(body, headers=sign("not-the-signing-secret", body))

    assert answer.status == 401
    assert_nothing_stored_or_posted(bot)


def test_a_command_from_another_workspace_is_refused_and_nothing_is_stored(bot: InProcessBot) -> None:
    answer = bot.command(VALID_COMMAND, team_id="T0ELSEWHERE")

    assert answer.status == 200
    assert "only serves the workspace it is installed in" in answer.text
    assert_nothing_stored_or_posted(bot)
