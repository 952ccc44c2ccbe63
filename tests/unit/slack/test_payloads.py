"""``bot.slack.payloads``: every click, submission and shortcut parsed once into a typed value (issue 23)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack import payloads
from bot.slack.payloads import Click
from bot.slack.views import ids

ME = "UME"


def message_click(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "block_actions", "user": {"id": "UBO"}, "trigger_id": "T1.2", "response_url": "https://hooks/x",
        "actions": [{"action_id": ids.APPROVE, "value": "K7M2QX9A"}],
        "channel": {"id": "CAPPROVALS"},
        "container": {"type": "message", "channel_id": "CAPPROVALS", "message_ts": "1714572000.000100"},
        "message": {"ts": "1714572000.000100"},
    }
    body.update(changes)
    return body


def home_click(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "block_actions", "api_app_id": "A0APP", "user": {"id": ME},
        "actions": [{"action_id": ids.HOME_APPROVE, "value": "K7M2QX9A"}],
        "container": {"type": "view", "view_id": "V1"},
        "view": {"id": "V1", "type": "home", "bot_id": "BBOT", "app_id": "A0APP", "private_metadata": ME},
    }
    body.update(changes)
    return body


def test_a_click_says_who_clicked_which_request_on_which_message() -> None:
    click = payloads.click(message_click())
    assert (click.user_id, click.action_id, click.request_id, click.channel_id, click.message_ts) == (
        "UBO", ids.APPROVE, "K7M2QX9A", "CAPPROVALS", "1714572000.000100")
    assert (click.trigger_id, click.response_url) == ("T1.2", "https://hooks/x")
    assert not click.from_home_of("BBOT")  # a message is no Home


def test_a_click_without_channel_or_container_falls_back_to_what_is_there() -> None:
    click = payloads.click(message_click(channel=None, container={"channel_id": "CAPPROVALS"}))
    assert (click.channel_id, click.message_ts) == ("CAPPROVALS", "1714572000.000100")
    bare = payloads.click(message_click(channel=None, container=None, message=None))
    assert (bare.channel_id, bare.message_ts) == (None, None)


@pytest.mark.parametrize("changes", [{"user": None}, {"user": {}}, {"user": "UBO"}, {"actions": []},
                                     {"actions": None}, {"actions": ["approve"]}, {"actions": [{"value": "K"}]}])
def test_a_click_without_a_user_or_an_action_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(payloads.Malformed):
        payloads.click(message_click(**changes))


def test_a_click_on_the_clickers_own_home_of_this_bot_counts() -> None:
    click = payloads.click(home_click())
    assert click == Click(ME, ids.HOME_APPROVE, "K7M2QX9A", on_home=True, view_bot_id="BBOT", view_app_id="A0APP",
                          view_owner=ME, app_id="A0APP", view_id="V1")
    assert click.from_home_of("BBOT")


@pytest.mark.parametrize("changes", [
    {"view": {"id": "V1", "type": "home", "bot_id": "BOTHER", "app_id": "A0APP", "private_metadata": ME}},
    {"view": {"id": "V1", "type": "home", "bot_id": "BBOT", "app_id": "AOTHER", "private_metadata": ME}},
    {"view": {"id": "V1", "type": "home", "bot_id": "BBOT", "app_id": "A0APP", "private_metadata": "UOTHER"}},
    {"view": {"id": "V1", "type": "modal", "bot_id": "BBOT", "app_id": "A0APP", "private_metadata": ME}},
    {"view": {"id": "V1", "type": "home", "app_id": "A0APP", "private_metadata": ME}},
    {"view": None},
    {"container": {"type": "message", "channel_id": "C1", "message_ts": "1.1"}},
    {"api_app_id": None, "view": {"id": "V1", "type": "home", "bot_id": "BBOT", "private_metadata": ME}},
], ids=["other-bot", "other-app", "someone-elses-home", "a-modal", "no-bot", "no-view", "a-message", "no-app"])
def test_a_click_from_anywhere_else_does_not_count_as_a_home_click(changes: dict[str, Any]) -> None:
    assert not payloads.click(home_click(**changes)).from_home_of("BBOT")


def test_without_knowing_its_own_bot_id_no_home_click_counts() -> None:
    assert not payloads.click(home_click()).from_home_of(None)


def test_a_submission_reads_every_input_once() -> None:
    body = {"type": "view_submission", "user": {"id": ME}, "view": {
        "callback_id": ids.REQUEST_FORM, "private_metadata": "K7M2QX9A", "state": {"values": {
            "b1": {"text": {"type": "plain_text_input", "value": "typed"}},
            "b2": {"pick": {"type": "static_select", "selected_option": {"value": "30m"}}},
            "b3": {"empty": {"type": "plain_text_input", "value": None}},
        }}}}
    submitted = payloads.submission(body)
    assert (submitted.user_id, submitted.callback_id, submitted.private_metadata) == (ME, ids.REQUEST_FORM, "K7M2QX9A")
    assert [submitted.value("b1", "text"), submitted.value("b2", "pick"), submitted.value("b3", "empty"),
            submitted.value("nope", "x")] == ["typed", "30m", "", ""]
    with pytest.raises(payloads.Malformed):
        payloads.submission({"type": "view_submission", "user": {"id": ME}, "view": {}})


def test_the_trigger_of_a_shortcut_or_a_command() -> None:
    assert payloads.trigger_of({"trigger_id": "T9"}) == "T9"
    assert payloads.trigger_of({}) is None
