"""The App Home in-process: the ``app_home_opened`` event publishes the person's Home; its buttons (Approve, Deny,
Stop, Withdraw) do what the channel message and the command do, with the same checks. Signed events and clicks
are dispatched to the real app; Slack is the fake, which keeps each user's Home as published.

A click counts only from the clicker's own Home as this bot published it; refusals come back as a notice at the
top of the clicker's Home (a Home click has no response URL).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.devtools.descope_api import IMPERSONATE
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, GROUP_APPROVER, OTHER_TARGET, OUTSIDER, REQUESTER, TARGET
from bot.devtools.signing import JSON, app_home_opened_body, home_action_payload, sign
from bot.domain import State
from bot.slack.views import ids
from tests.unit.slack.listeners.conftest import SIGNING_SECRET, InProcessBot

OWN_REQUEST = "You cannot approve or deny your own request: another approver has to."
NOT_AN_APPROVER = "Only approvers can approve or deny impersonation requests."


def open_home(bot: InProcessBot, user_id: str, tab: str = "home") -> dict[str, Any] | None:
    """The user opens the bot's Home tab (Slack sends the event); answers the Home published for them."""
    body = app_home_opened_body(user_id, tab=tab)
    answer = bot.dispatch(body, sign(SIGNING_SECRET, body, content_type=JSON))
    assert answer.status == 200, answer
    bot.settle()
    return bot.slack.home(user_id)


def click_home(bot: InProcessBot, action_id: str, request_id: str, user_id: str,
               view: dict[str, Any] | None = None, **changes: Any) -> None:
    """Click a button on ``user_id``'s Home as last published (or on ``view``), as Slack sends it."""
    payload = home_action_payload(action_id, request_id, user_id=user_id, view=view or bot.slack.home(user_id) or {})
    payload.update(changes)
    answer = bot.dispatch(urlencode({"payload": json.dumps(payload)}))
    assert (answer.status, answer.body) == (200, "")  # acked at once
    bot.settle()


def home_buttons(bot: InProcessBot, user_id: str) -> list[tuple[str, str]]:
    home = bot.slack.home(user_id) or {}
    return [(e["action_id"], e["value"]) for b in home.get("blocks") or []
            for e in ([b["accessory"]] if "accessory" in b else b.get("elements") or []) if e.get("type") == "button"]


def home_text(bot: InProcessBot, user_id: str) -> str:
    home = bot.slack.home(user_id) or {}
    return json.dumps(home.get("blocks") or [])


def publishes(bot: InProcessBot) -> list[str]:
    return [str(c.params.get("user_id")) for c in bot.slack.calls_of("views.publish")]


# -- opening the Home ------------------------------------------------------------------------------------


def test_opening_the_home_tab_publishes_that_persons_home(bot: InProcessBot) -> None:
    request_id, _ = bot.submit()

    home = open_home(bot, REQUESTER)

    assert home is not None and home["type"] == "home" and home["private_metadata"] == REQUESTER
    assert home_buttons(bot, REQUESTER) == [(ids.HOME_WITHDRAW, request_id)]
    assert f"`{request_id}`" in home_text(bot, REQUESTER) and "Waiting for your approval" not in home_text(
        bot, REQUESTER)
    assert publishes(bot) == [REQUESTER]
    assert bot.logged_errors() == []


def test_opening_the_messages_tab_publishes_nothing(bot: InProcessBot) -> None:
    assert open_home(bot, REQUESTER, tab="messages") is None
    assert publishes(bot) == []


def test_an_approver_sees_what_waits_for_them_never_their_own(bot: InProcessBot) -> None:
    theirs, _ = bot.submit()
    own, _ = bot.submit(f"{OTHER_TARGET} 10m my own ticket", user_id=APPROVER)

    open_home(bot, APPROVER)

    assert home_buttons(bot, APPROVER) == [(ids.HOME_WITHDRAW, own), (ids.HOME_APPROVE, theirs),
                                           (ids.HOME_DENY, theirs)]


# -- the buttons -----------------------------------------------------------------------------------------


def test_approve_on_the_home_activates_the_session_and_the_channel_and_homes_follow(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    open_home(bot, REQUESTER)
    open_home(bot, GROUP_APPROVER)  # another approver, watching
    open_home(bot, APPROVER)

    click_home(bot, ids.HOME_APPROVE, request_id, APPROVER)

    request = bot.request(request_id)
    assert (request.state, request.decided_by) == (State.ACTIVE, APPROVER)
    assert len(bot.descope.calls_to(IMPERSONATE)) == 1
    assert f"Approved by <@{APPROVER}>: active until" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert bot.buttons(ts) == []
    assert any("Show token" in text for text in bot.dm_texts(REQUESTER))
    # Every Home that shows it was published again: the session, with Stop (and, for its requester, Extend).
    assert home_buttons(bot, REQUESTER) == [(ids.HOME_STOP, request_id), (ids.HOME_EXTEND, request_id)]
    for user in (APPROVER, GROUP_APPROVER):
        assert home_buttons(bot, user) == [(ids.HOME_STOP, request_id)], user
    assert bot.logged_errors() == []


def test_deny_on_the_home_denies(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    open_home(bot, APPROVER)

    click_home(bot, ids.HOME_DENY, request_id, APPROVER)

    assert (bot.request(request_id).state, bot.request(request_id).decided_by) == (State.DENIED, APPROVER)
    assert f"Denied by <@{APPROVER}>" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert home_buttons(bot, APPROVER) == []
    assert bot.descope.calls_to(IMPERSONATE) == []


def test_withdraw_on_the_home_withdraws_the_request(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    open_home(bot, REQUESTER)

    click_home(bot, ids.HOME_WITHDRAW, request_id, REQUESTER)
    bot.workflows.ticker.tick(request_id)  # the kick the scheduler would run

    assert bot.request(request_id).withdrawn
    assert "Withdrawn by the requester" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert home_buttons(bot, REQUESTER) == []
    assert "Withdrawn by the requester" in home_text(bot, REQUESTER)


@pytest.mark.parametrize("stopper", [REQUESTER, APPROVER], ids=["the-requester", "an-approver"])
def test_stop_on_the_home_ends_the_session(bot: InProcessBot, stopper: str) -> None:
    request_id, ts = bot.submit()
    bot.workflows.approvals.decide(request_id, APPROVER, True, message_ts=ts)
    open_home(bot, stopper)

    click_home(bot, ids.HOME_STOP, request_id, stopper)
    bot.workflows.ticker.tick(request_id)  # the stop at Descope, then (kicked) the Slack update
    bot.workflows.ticker.tick(request_id)

    request = bot.request(request_id)
    assert request.state is State.STOPPED and request.stopped_by == stopper
    assert "Session ended" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert home_buttons(bot, stopper) == []


# -- refusals: a notice on the clicker's Home; nothing changes ---------------------------------------------


@pytest.mark.parametrize("action", [ids.HOME_APPROVE, ids.HOME_DENY])
def test_a_non_approver_is_told_on_their_home_and_nothing_is_decided(bot: InProcessBot, action: str) -> None:
    request_id, ts = bot.submit()
    open_home(bot, OUTSIDER)

    click_home(bot, action, request_id, OUTSIDER)

    assert bot.request(request_id).state is State.PENDING
    assert NOT_AN_APPROVER in home_text(bot, OUTSIDER)
    assert bot.descope.calls_to(IMPERSONATE) == [] and bot.buttons(ts) != []
    assert publishes(bot) == [OUTSIDER, OUTSIDER]


def test_an_approver_cannot_approve_their_own_request_from_the_home(bot: InProcessBot) -> None:
    request_id, _ = bot.submit(user_id=APPROVER)
    open_home(bot, APPROVER)

    click_home(bot, ids.HOME_APPROVE, request_id, APPROVER)

    assert bot.request(request_id).state is State.PENDING
    assert OWN_REQUEST in home_text(bot, APPROVER)


def test_a_late_click_is_told_who_decided(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    open_home(bot, APPROVER)
    stale = bot.slack.home(APPROVER)
    bot.workflows.approvals.decide(request_id, GROUP_APPROVER, False, message_ts=ts)

    click_home(bot, ids.HOME_APPROVE, request_id, APPROVER, view=stale)

    assert bot.request(request_id).state is State.DENIED
    assert f"Request `{request_id}` was already denied by <@{GROUP_APPROVER}>." in home_text(bot, APPROVER)
    assert bot.descope.calls_to(IMPERSONATE) == []


def test_someone_else_cannot_withdraw_a_request(bot: InProcessBot) -> None:
    request_id, _ = bot.submit()
    open_home(bot, APPROVER)

    click_home(bot, ids.HOME_WITHDRAW, request_id, APPROVER)

    assert bot.request(request_id).state is State.PENDING
    assert "Only the requester or an approver can stop this session." in home_text(bot, APPROVER)


# -- clicks from anywhere but the clicker's own Home of this bot decide nothing, and say nothing -----------


def _foreign_bot(view: dict[str, Any]) -> None:
    view["bot_id"] = "BOTHER"


def _foreign_app(view: dict[str, Any]) -> None:
    view["app_id"] = "AOTHER"


def _someone_elses(view: dict[str, Any]) -> None:
    view["private_metadata"] = OUTSIDER


def _a_modal(view: dict[str, Any]) -> None:
    view["type"] = "modal"


@pytest.mark.parametrize("spoil", [_foreign_bot, _foreign_app, _someone_elses, _a_modal],
                         ids=["another-bots-home", "another-apps-home", "someone-elses-home", "a-modal"])
def test_a_click_not_from_the_clickers_own_home_of_this_bot_decides_nothing(bot: InProcessBot, spoil: Any) -> None:
    request_id, ts = bot.submit()
    view = open_home(bot, APPROVER)
    assert view is not None
    spoil(view)
    before = len(bot.slack.calls)

    click_home(bot, ids.HOME_APPROVE, request_id, APPROVER, view=view)

    assert bot.request(request_id).state is State.PENDING
    assert bot.descope.calls_to(IMPERSONATE) == [] and bot.buttons(ts) != []
    assert [c.method for c in bot.slack.calls[before:]] == []  # nothing said, nothing published
    assert any("outside their own Home" in r.getMessage() for r in bot.caplog.records
               if r.levelno == logging.WARNING)
    assert bot.logged_errors() == []


def test_a_home_button_on_a_message_decides_nothing(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    view = open_home(bot, APPROVER)
    assert view is not None

    click_home(bot, ids.HOME_APPROVE, request_id, APPROVER, view=view,
               container={"type": "message", "channel_id": APPROVAL_CHANNEL, "message_ts": ts})

    assert bot.request(request_id).state is State.PENDING
    assert bot.logged_errors() == []


def test_the_channels_approve_from_a_home_decides_nothing(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    open_home(bot, APPROVER)

    click_home(bot, ids.APPROVE, request_id, APPROVER)

    assert bot.request(request_id).state is State.PENDING
    assert bot.descope.calls_to(IMPERSONATE) == [] and bot.buttons(ts) != []
    assert bot.logged_errors() == []


def test_the_list_answer_points_to_the_home(bot: InProcessBot) -> None:
    bot.submit()
    answer = bot.command("list").text
    assert "*Home* tab" in answer and TARGET in answer


def test_the_manifest_turns_the_home_tab_on_and_subscribes_to_the_event() -> None:
    manifest = (Path(__file__).resolve().parents[4] / "slack-app-manifest.yml").read_text()
    assert "    home_tab_enabled: true\n" in manifest
    events = manifest.split("  event_subscriptions:\n", 1)[1]
    assert events.startswith("    request_url: https://YOUR-HOST/slack/events\n"
                             "    bot_events:\n      - app_home_opened\n")
