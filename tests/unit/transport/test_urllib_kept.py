"""The Slack Web API client's keep-alive transport (``bot.transport.urllib_kept``), against the fake Slack on loopback:
calls share one connection; a kept connection the server has closed costs nothing and sends nothing twice;
Slack's 429s and 5xxs still reach slack-sdk's retry handlers, as they did through ``urlopen``."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest
from slack_sdk.errors import SlackApiError

from bot.config import Secret, Settings
from bot.devtools import FakeSlack
from bot.slack.client import CountingWebClient, make_client


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("U1", "u1@corp.example")
        yield fake


def client_for(slack: FakeSlack) -> CountingWebClient:
    """The bot's client as ``make_client`` builds it (its retry handlers), from the two settings it reads."""
    settings = SimpleNamespace(slack_bot_token=Secret("xoxb-test-token"), slack_api_url=slack.url)
    client = make_client(cast(Settings, settings))
    assert isinstance(client, CountingWebClient)
    return client


def test_calls_one_after_another_share_one_connection(slack: FakeSlack) -> None:
    client = client_for(slack)
    for _ in range(5):
        assert client.users_info(user="U1")["user"]["profile"]["email"] == "u1@corp.example"
    assert slack.connections_accepted == 1
    assert len(slack.calls_of("users.info")) == 5


def test_a_connection_the_server_closed_is_replaced_and_the_call_sent_once(slack: FakeSlack) -> None:
    # Without slack-sdk's retry handlers (which would try again only after a pause): the transport itself sends
    # the call again, at once, on a new connection.
    client = CountingWebClient(token="xoxb-test-token", base_url=slack.url, retry_handlers=[])
    client.chat_postMessage(channel="C1", text="first")
    slack.stop()  # cuts the kept connection, as a server timing out an idle one does
    slack.start()
    client.chat_postMessage(channel="C1", text="second")
    texts = [call.params.get("text") for call in slack.calls_of("chat.postMessage")]
    assert texts == ["first", "second"]


def test_rate_limits_and_server_errors_are_still_retried(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    slack.fail_next("users.info", status=503, retry_after=None)
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert client.users_info(user="U1")["ok"]
    assert len(slack.calls_of("chat.postMessage")) == 2 and len(slack.calls_of("users.info")) == 2


def test_an_error_slack_keeps_answering_is_raised_with_its_status(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=403, error="not_allowed", retry_after=None, count=5)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hi")
    assert raised.value.response.status_code == 403
    assert len(slack.calls_of("chat.postMessage")) == 1  # a 403 is not retried


def test_a_post_slack_may_have_made_is_not_sent_again_an_update_is(slack: FakeSlack) -> None:
    """A 500, or a connection that broke while the answer was awaited: Slack may have posted, so a post is not sent
    again (the bot's Slack sync comes back to it); after a 503 it is; an update is idempotent and is retried."""
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=500, retry_after=None)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="once")
    slack.drop_next("chat.postMessage")
    with pytest.raises(Exception):  # noqa: B017  (the connection, as urllib words it)
        client.chat_postMessage(channel="C1", text="once more")
    assert len(slack.calls_of("chat.postMessage")) == 2  # each sent once
    slack.fail_next("chat.postMessage", status=503, retry_after=None)  # refused unprocessed: sent again
    assert client.chat_postMessage(channel="C1", text="after a 503")["ok"]
    assert len(slack.calls_of("chat.postMessage")) == 4
    posted = client.chat_postMessage(channel="C1", text="ts")
    slack.fail_next("chat.update", status=500, retry_after=None)
    slack.drop_next("users.info")
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")["ok"]
    assert client.users_info(user="U1")["ok"]
    assert len(slack.calls_of("chat.update")) == 2 and len(slack.calls_of("users.info")) == 2
