"""``bot.slack.reply.Reply``: a ``respond()`` that is retried where Slack surely took nothing, and never sent again
where it may have (the fake Slack's ``response_url``, over HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.error import URLError

import pytest

from bot.devtools import FakeSlack
from bot.devtools.harness import free_port
from bot.slack.reply import Reply


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _tries(slack: FakeSlack) -> list[str]:
    return [str(c.params.get("text")) for c in slack.calls_of("response_url")]


def test_a_reply_is_sent_once_and_answered(slack: FakeSlack) -> None:
    answer = Reply(response_url=slack.response_url("k"), who="U1")(text="hello", response_type="ephemeral",
                                                                   replace_original=False)
    assert answer.status_code == 200 and _tries(slack) == ["hello"]
    assert slack.calls_of("response_url")[0].params.get("response_type") == "ephemeral"


def test_a_connection_that_broke_after_the_reply_was_sent_is_not_sent_again(slack: FakeSlack) -> None:
    slack.drop_next("response_url")
    with pytest.raises(Exception) as raised:
        Reply(response_url=slack.response_url("k"))(text="once")
    assert not isinstance(raised.value, URLError)  # it reached Slack: whether Slack took it, nobody knows
    assert _tries(slack) == ["once"]


def test_a_reply_that_cannot_reach_slack_raises_what_stopped_it() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/response/k"  # nothing listens: refused before anything is sent
    with pytest.raises(URLError):
        Reply(response_url=nowhere)(text="lost")


def test_without_a_response_url_there_is_nothing_to_reply_to() -> None:
    with pytest.raises(ValueError, match="no response_url"):
        Reply(response_url=None)(text="x")
