"""Approve and Deny in-process: signed clicks dispatched to the real app; the decision runs lazily.

Every click is ``ack()``ed at once with an empty 200; what follows is on FakeSlack (the channel message,
the requester's DM, the clicker's ephemeral answer through the response_url) and on FakeDescope.
Buttons posted by the previous version carry the action IDs ``approve`` and ``deny`` (block
``decision:<id>``): those clicks must keep working.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.descope_api import IMPERSONATE
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, GROUP_APPROVER, OUTSIDER, REQUESTER, TARGET, TENANT
from bot.domain import State
from tests.unit.slack.listeners.conftest import InProcessBot

APPROVE, DENY = "approval.approve", "approval.deny"
LEGACY_APPROVE, LEGACY_DENY = "approve", "deny"  # what the previous version's buttons carry
WRONG_PLACE = "Approvals count only from the request's message in the approvals channel."


def use_legacy_layout(bot: InProcessBot, request_id: str, ts: str) -> None:
    """Make the approval message look as the previous version posted it: its buttons carry the legacy
    action IDs, in the block ``decision:<id>`` (the stored request is the same either way)."""
    message = bot.slack.messages[(APPROVAL_CHANNEL, ts)]
    for block in message["blocks"]:
        if block.get("type") == "actions":
            block["block_id"] = f"decision:{request_id}"
            for button, action_id in zip(block["elements"], (LEGACY_APPROVE, LEGACY_DENY), strict=True):
                button["action_id"] = action_id
    assert [b["action_id"] for b in bot.buttons(ts)] == [LEGACY_APPROVE, LEGACY_DENY]


def click_on(bot: InProcessBot, action_id: str, request_id: str, ts: str, user_id: str, **kw: Any) -> str:
    block_id = f"decision:{request_id}" if action_id in (LEGACY_APPROVE, LEGACY_DENY) else None
    return bot.click(action_id, request_id, user_id=user_id, message_ts=ts, block_id=block_id, **kw)


def assert_unchanged(bot: InProcessBot, request_id: str, ts: str, spoken_before: int) -> None:
    """The request is still pending, its message still offers both buttons, nobody else was told anything,
    and Descope was not asked for a token."""
    assert bot.request(request_id).state is State.PENDING
    assert [b["action_id"] for b in bot.buttons(ts)] in ([APPROVE, DENY], [LEGACY_APPROVE, LEGACY_DENY])
    assert not [m for m, _ in bot.spoken()[spoken_before:] if m != "response_url"]  # no post, update or DM
    assert bot.descope.calls_to(IMPERSONATE) == []
    assert bot.dm_texts(REQUESTER) == []


def assert_told_only(bot: InProcessBot, key: str, sentence: str) -> None:
    """The clicker alone was told ``sentence``: an ephemeral answer that leaves the message alone."""
    [reply] = bot.told(key)
    assert sentence in reply["text"], reply
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] in (False, "false")


def assert_active_after_approval(bot: InProcessBot, request_id: str, ts: str, approver: str, key: str) -> None:
    request = bot.request(request_id)
    assert (request.state, request.decided_by) == (State.ACTIVE, approver)

    # Descope: one impersonate call, as the requester's Slack email, for the approved window and tenant.
    [call] = bot.descope.calls_to(IMPERSONATE)
    assert call.status == 200
    assert call.body["loginId"] == TARGET
    assert call.body["impersonatorId"] == f"{REQUESTER.lower()}@corp.example"
    assert call.body["selectedTenant"] == TENANT
    assert call.body["refreshDuration"] == 30 * 60
    assert call.body["validateConsent"] is True
    assert call.body["customClaims"]["approvedBy"] == approver
    [token] = bot.descope.minted

    # The token is never the text of a message (TOKEN_DELIVERY=reveal): the requester's DM offers Show token.
    assert any("Show token" in text for text in bot.dm_texts(REQUESTER))
    for method, params in bot.spoken():
        assert token not in str(params), method

    # The channel message: approved, by whom, until when; no buttons any more.
    text = bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert f"Approved by <@{approver}>: active until" in text
    assert bot.buttons(ts) == []
    assert any(c.params.get("channel") == APPROVAL_CHANNEL and c.params.get("ts") == ts
               for c in bot.slack.calls_of("chat.update"))

    assert bot.told(key) == []  # the approver needs no answer: the message says it all
    assert bot.logged_errors() == []


# -- approve ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("approver", [APPROVER, GROUP_APPROVER], ids=["listed", "through-a-user-group"])
def test_an_approvers_approve_activates_the_session_and_updates_the_message(
        bot: InProcessBot, approver: str) -> None:
    request_id, ts = bot.submit()

    key = click_on(bot, APPROVE, request_id, ts, approver)

    assert_active_after_approval(bot, request_id, ts, approver, key)


def test_legacy_approve_on_a_message_in_the_old_layout_activates_the_session(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    use_legacy_layout(bot, request_id, ts)

    key = click_on(bot, LEGACY_APPROVE, request_id, ts, APPROVER)

    assert_active_after_approval(bot, request_id, ts, APPROVER, key)
    assert bot.approval_message(ts)["edited"]  # the old message itself now shows the outcome


def test_a_late_click_after_the_decision_is_told_who_decided_and_changes_nothing(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    click_on(bot, APPROVE, request_id, ts, APPROVER)
    updates = len(bot.slack.calls_of("chat.update"))

    key = click_on(bot, DENY, request_id, ts, GROUP_APPROVER)

    assert_told_only(bot, key, f"Request `{request_id}` was already approved by <@{APPROVER}>.")
    assert bot.request(request_id).state is State.ACTIVE
    assert len(bot.descope.calls_to(IMPERSONATE)) == 1
    assert len(bot.slack.calls_of("chat.update")) == updates


def test_approval_that_descope_refuses_fails_the_request_and_says_why(bot: InProcessBot) -> None:
    bot.descope.users[TARGET].consented = False
    request_id, ts = bot.submit()

    click_on(bot, APPROVE, request_id, ts, APPROVER)

    assert bot.request(request_id).state is State.FAILED
    assert bot.descope.minted == []
    assert "has not consented to being impersonated" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert bot.buttons(ts) == []
    assert any("was approved but failed" in text for text in bot.dm_texts(REQUESTER))


# -- deny ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deny", [DENY, LEGACY_DENY], ids=["current", "legacy"])
def test_deny_denies_the_request_updates_the_message_and_tells_the_requester(
        bot: InProcessBot, deny: str) -> None:
    request_id, ts = bot.submit()
    if deny == LEGACY_DENY:
        use_legacy_layout(bot, request_id, ts)

    key = click_on(bot, deny, request_id, ts, APPROVER)

    request = bot.request(request_id)
    assert (request.state, request.decided_by) == (State.DENIED, APPROVER)
    assert f"Denied by <@{APPROVER}>" in bot.slack.message_text(APPROVAL_CHANNEL, ts)
    assert bot.buttons(ts) == []
    [dm] = bot.dm_texts(REQUESTER)  # the requester hears of it, in their DM (fallback text and block)
    assert f":no_entry: <@{APPROVER}> denied your request `{request_id}` to impersonate `{TARGET}`" in dm
    assert bot.descope.calls_to(IMPERSONATE) == []  # no token was ever asked for (only the pre-flight look-up)
    assert bot.told(key) == []
    assert bot.logged_errors() == []


# -- refusals: told to the clicker alone, nothing changes --------------------------------------------------


@pytest.mark.parametrize("action", [APPROVE, DENY, LEGACY_APPROVE, LEGACY_DENY])
def test_the_requester_cannot_decide_their_own_request(bot: InProcessBot, action: str) -> None:
    # The requester is an approver too: even so, a second person has to decide.
    request_id, ts = bot.submit(user_id=APPROVER)
    before = len(bot.spoken())

    key = click_on(bot, action, request_id, ts, APPROVER)

    assert_told_only(bot, key, "You cannot approve or deny your own request: another approver has to.")
    assert bot.request(request_id).state is State.PENDING
    assert [b["action_id"] for b in bot.buttons(ts)] == [APPROVE, DENY]
    assert not [m for m, _ in bot.spoken()[before:] if m != "response_url"]
    assert bot.descope.calls_to(IMPERSONATE) == []
    assert bot.dm_texts(APPROVER) == []


def test_someone_who_is_not_an_approver_is_told_so(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    before = len(bot.spoken())

    key = click_on(bot, APPROVE, request_id, ts, OUTSIDER)

    assert_told_only(bot, key, "Only approvers can approve or deny impersonation requests.")
    assert_unchanged(bot, request_id, ts, before)


@pytest.mark.parametrize("action", [APPROVE, DENY, LEGACY_APPROVE, LEGACY_DENY])
def test_a_click_from_another_channel_is_refused(bot: InProcessBot, action: str) -> None:
    request_id, ts = bot.submit()
    before = len(bot.spoken())

    key = click_on(bot, action, request_id, ts, APPROVER, channel_id="C0ELSEWHERE")

    assert_told_only(bot, key, WRONG_PLACE)
    assert_unchanged(bot, request_id, ts, before)


def test_a_button_on_another_message_of_the_channel_decides_nothing(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    other_id, other_ts = bot.submit(f"{TARGET} 10m another ticket", user_id=GROUP_APPROVER)
    before = len(bot.spoken())

    key = click_on(bot, APPROVE, request_id, other_ts, APPROVER)  # request_id's button, other_id's message

    assert_told_only(bot, key, "That button does not belong to this request's approval message.")
    assert_unchanged(bot, request_id, ts, before)
    assert bot.request(other_id).state is State.PENDING


def test_a_click_from_another_workspace_is_refused(bot: InProcessBot) -> None:
    request_id, ts = bot.submit()
    before = len(bot.spoken())

    key = click_on(bot, APPROVE, request_id, ts, APPROVER, team_id="T0ELSEWHERE")

    assert_told_only(bot, key, "This bot only serves the workspace it is installed in.")
    assert_unchanged(bot, request_id, ts, before)


# -- malformed clicks: nothing happens, nothing breaks --------------------------------------------------------


def _without_user(p: dict[str, Any]) -> None:
    del p["user"]


def _user_without_id(p: dict[str, Any]) -> None:
    p["user"] = {"name": "someone", "team_id": "T0001"}


def _without_actions(p: dict[str, Any]) -> None:
    del p["actions"]


def _empty_actions(p: dict[str, Any]) -> None:
    p["actions"] = []


@pytest.mark.parametrize("spoil", [
    pytest.param(_without_user, id="no-user"),
    pytest.param(_user_without_id, id="user-without-id"),
    pytest.param(_without_actions, id="no-actions"),
    pytest.param(_empty_actions, id="empty-actions"),
])
@pytest.mark.parametrize("action", [APPROVE, LEGACY_DENY])
def test_a_malformed_click_does_nothing_and_raises_nothing(bot: InProcessBot, spoil: Any, action: str) -> None:
    request_id, ts = bot.submit()
    before = len(bot.spoken())
    payload = bot.base_payload(action, request_id, user_id=APPROVER, message_ts=ts)
    spoil(payload)

    answer = bot.click_payload(payload)  # dispatch must not raise; the work after the ack (if any) is waited for

    assert answer.status == 400, answer  # a click Slack would never send: refused, never a 5xx
    why = "a click without a user" if "user" in spoil.__name__ else "a click without an action"
    assert [r.getMessage() for r in bot.caplog.records if "malformed" in r.getMessage()] == [
        f"refused a malformed Slack request: {why}"]
    assert bot.spoken()[before:] == []  # no ephemeral, no message change
    assert_unchanged(bot, request_id, ts, before)
    assert bot.logged_errors() == []
