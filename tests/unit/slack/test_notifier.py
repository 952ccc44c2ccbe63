"""``SlackNotifier``'s DMs against the fake Slack: a person's DM channel is opened once per process, and opened
again when Slack refuses the channel kept, without ever posting a message twice; Slack's own failures and its long
rate-limit waits are told from its refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools import FakeSlack
from bot.domain import State
from bot.slack.notifier import SlackNotifier
from bot.workflows.ports import ChannelRefused, SlackUnavailable
from tests.unit.factories import view
from tests.unit.slack.test_client import client_for

REQUESTER = "U_REQ"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def notifier(slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(WebClient(token=slack.bot_token, base_url=slack.url), "C_APPROVALS")


def dms(slack: FakeSlack) -> list[str]:
    return [c.params["channel"] for c in slack.calls_of("chat.postMessage") if not c.params.get("_failed")]


def test_a_persons_dm_channel_is_opened_once(slack: FakeSlack) -> None:
    n = notifier(slack)
    first = n.post_ready(view(State.ACTIVE, id="R1", requester_id=REQUESTER))
    second = n.post_ready(view(State.ACTIVE, id="R2", requester_id=REQUESTER))
    assert first[0] == second[0] == "D" + REQUESTER and first[1] != second[1]
    assert len(slack.calls_of("conversations.open")) == 1


def test_a_kept_channel_slack_refuses_is_opened_again(slack: FakeSlack) -> None:
    n = notifier(slack)
    n.post_ready(view(State.ACTIVE, id="R1", requester_id=REQUESTER))
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    channel, ts = n.post_ready(view(State.ACTIVE, id="R2", requester_id=REQUESTER))
    assert (channel, ts) in slack.messages and len(slack.calls_of("conversations.open")) == 2
    assert len([m for m in slack.messages if m[0] == channel]) == 2  # one message per session, none twice


def test_other_refusals_are_not_retried(slack: FakeSlack) -> None:
    n = notifier(slack)
    n.post_ready(view(State.ACTIVE, id="R1", requester_id=REQUESTER))
    slack.fail_next("chat.postMessage", status=200, error="msg_too_long")
    with pytest.raises(SlackApiError):
        n.post_ready(view(State.ACTIVE, id="R2", requester_id=REQUESTER))
    assert len(slack.calls_of("conversations.open")) == 1 and len(slack.calls_of("chat.postMessage")) == 2


@pytest.mark.parametrize("error", ["not_in_channel", "is_archived", "channel_not_found"])
def test_an_approvals_channel_refusing_the_message_is_told_apart_from_an_outage(slack: FakeSlack, error: str) -> None:
    n = notifier(slack)
    slack.fail_next("chat.postMessage", status=200, error=error)
    with pytest.raises(ChannelRefused) as info:
        n.post_request(view(State.PENDING))
    assert (info.value.channel, info.value.error) == ("C_APPROVALS", error)
    slack.fail_next("chat.postMessage", status=200, error="fatal_error")
    with pytest.raises(SlackApiError):  # anything else stays Slack's error: retried like any
        n.post_request(view(State.PENDING))
    n.send_not_posted(view(State.PENDING, requester_id=REQUESTER), info.value)
    (told,) = [slack.message_text(ch, ts) for (ch, ts) in slack.messages if ch == "D" + REQUESTER]
    assert "No approver can see your request" in told and error in told and "<#C_APPROVALS>" in told


def test_slack_failing_on_its_side_is_told_from_slack_refusing(slack: FakeSlack) -> None:
    """A 500 (or no answer) is Slack's own failure, to be tried again (``SlackUnavailable``); an error Slack answers
    is a refusal (the session DM's caller stops the session)."""
    n = notifier(slack)
    slack.fail_next("chat.postMessage", status=500, retry_after=None)
    with pytest.raises(SlackUnavailable):
        n.post_ready(view(State.ACTIVE, id="R1", requester_id=REQUESTER))
    slack.drop_next("chat.postMessage", count=2)  # (this plain client retries a broken connection once)
    with pytest.raises(SlackUnavailable):
        n.open_token_dm(view(State.ACTIVE, id="R2", requester_id=REQUESTER))
    slack.fail_next("chat.postMessage", status=200, error="is_archived")
    slack.fail_next("conversations.open", status=200, error="user_disabled")
    with pytest.raises(SlackApiError):
        n.post_ready(view(State.ACTIVE, id="R3", requester_id=REQUESTER))


def test_slack_asking_for_a_longer_wait_than_the_thread_waits_is_told_with_the_wait_and_a_short_one_is_waited(
        slack: FakeSlack) -> None:
    """With the bot's own client (``make_client``): a 429 asking for 1 s is waited out in the thread and the message
    posted once; one asking for 10 s is the caller's (``SlackUnavailable`` with the wait, at once, whatever the
    call: the session's DM, an edit, the thread), never a refusal that would stop a session."""
    n = SlackNotifier(client_for(slack.url), "C_APPROVALS")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    n.post_ready(view(State.ACTIVE, id="R1", requester_id=REQUESTER))
    assert len(dms(slack)) == 1
    for method, call in [("chat.postMessage", lambda: n.post_ready(view(State.ACTIVE, id="R2",
                                                                         requester_id=REQUESTER))),
                         ("chat.update", lambda: n.update_request(view(State.ACTIVE, id="R3", channel_id="C_APPROVALS",
                                                                       channel_ts="1.000001")))]:
        slack.fail_next(method, status=429, retry_after=10)
        started = time.monotonic()
        with pytest.raises(SlackUnavailable) as held:
            call()
        assert held.value.retry_after == 10 and time.monotonic() - started < 1
    assert len(dms(slack)) == 1


def test_an_approval_message_deleted_from_slack_is_not_updated_for_ever(slack: FakeSlack) -> None:
    n = notifier(slack)
    n.update_request(view(State.STOPPED, id="R1", requester_id=REQUESTER, channel_id="C_APPROVALS",
                          channel_ts="1600000000.000001"))  # no such message: said, not raised
    assert len(slack.calls_of("chat.update")) == 1
    slack.fail_next("chat.update", status=200, error="cant_update_message")
    with pytest.raises(SlackApiError):  # any other refusal is still the caller's
        n.update_request(view(State.STOPPED, id="R1", requester_id=REQUESTER, channel_id="C_APPROVALS",
                              channel_ts="1600000000.000001"))
