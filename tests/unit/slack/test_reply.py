"""``bot.slack.reply.Reply``: a ``respond()`` that sends what Bolt's would, is retried where Slack surely took nothing,
is never sent again where it may have, and says a reply it could not give (the fake Slack's ``response_url``, over
HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.error import URLError

import pytest
from slack_bolt import Respond

from bot.devtools import FakeSlack
from bot.devtools.harness import free_port
from bot.slack.reply import PutOff, Reply


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _reply(slack: FakeSlack, put_off: PutOff | None = None, **kw: Any) -> Reply:
    return Reply(response_url=slack.response_url("k"), put_off=put_off or PutOff(), who="U1", **kw)


def _sent(slack: FakeSlack) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.params.items() if k not in ("key", "_failed")} for c in slack.calls_of("response_url")]


@pytest.mark.parametrize("args", [
    {"text": "hello", "response_type": "ephemeral", "replace_original": False},
    {"text": "", "blocks": [], "attachments": []},
    {"text": "in a thread", "thread_ts": "1.2", "unfurl_links": False, "metadata": {"event_type": "x"}},
    {"text": {"text": "whole", "response_type": "in_channel"}},
    {"text": {"blocks": [{"type": "divider"}]}},
    {"text": {"text": None}},
    {"text": {}},
])
def test_the_message_is_the_one_bolt_sends(slack: FakeSlack, args: dict[str, Any]) -> None:
    Respond(response_url=slack.response_url("k"))(**args)
    _reply(slack)(**args)
    bolts, ours = _sent(slack)
    assert ours == bolts


@pytest.mark.parametrize("text", [None, 5])
def test_what_bolt_refuses_is_refused_and_nothing_sent(slack: FakeSlack, text: Any) -> None:
    with pytest.raises(ValueError):
        _reply(slack)(text=text)
    assert _sent(slack) == []


def test_a_503_is_tried_again_and_a_500_is_not(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    slack.fail_next("response_url", status=503, retry_after=None)
    assert _reply(slack)(text="again").status_code == 200
    assert [m["text"] for m in _sent(slack)] == ["again", "again"]
    slack.fail_next("response_url", status=500, retry_after=None)
    assert _reply(slack)(text="once").status_code == 500
    assert [m["text"] for m in _sent(slack)][2:] == ["once"]
    assert "could not reply to U1: Slack answered 500" in caplog.text


def test_a_429_without_a_retry_after_is_waited_a_second(slack: FakeSlack) -> None:
    slack.fail_next("response_url", status=429, retry_after=None)  # no Retry-After at all: a second
    assert _reply(slack)(text="late").status_code == 200
    first, second = slack.calls_of("response_url")
    assert second.at - first.at >= 1


def test_a_long_wait_is_a_timer_s_and_a_reply_still_waiting_at_shutdown_is_said_lost(
        slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    put_off = PutOff()
    slack.fail_next("response_url", status=429, retry_after=2)
    assert _reply(slack, put_off)(text="later").status_code == 429  # the caller is not held
    assert len(_sent(slack)) == 1
    slack.wait_for(lambda: len(_sent(slack)) == 2, timeout=5, message="the reply, once Slack's wait was over")
    assert slack.calls_of("response_url")[1].at - slack.calls_of("response_url")[0].at >= 2

    slack.fail_next("response_url", status=429, retry_after=30)
    _reply(slack, put_off)(text="never")
    put_off.give_up()
    assert "could not reply to U1: the bot stopped before Slack's wait was over" in caplog.text
    assert [m["text"] for m in _sent(slack)] == ["later", "later", "never"]
    assert slack.response_url("k") not in caplog.text  # a response_url is a capability: never in a log line


def test_before_the_ack_no_wait_is_spent_in_the_thread(slack: FakeSlack) -> None:
    put_off = PutOff()
    slack.fail_next("response_url", status=429, retry_after=1)
    done = threading.Event()
    threading.Thread(target=lambda: (_reply(slack, put_off, in_thread=0)(text="x"), done.set())).start()
    assert done.wait(0.5)  # answered at once: the 429 is the timer's
    slack.wait_for(lambda: len(_sent(slack)) == 2, timeout=5, message="the reply, once Slack's wait was over")


def test_a_connection_that_broke_after_the_reply_was_sent_is_not_sent_again(slack: FakeSlack) -> None:
    slack.drop_next("response_url")
    with pytest.raises(Exception) as raised:
        _reply(slack)(text="once")
    assert not isinstance(raised.value, URLError)  # it reached Slack: whether Slack took it, nobody knows
    assert [m["text"] for m in _sent(slack)] == ["once"]


def test_a_reply_that_cannot_reach_slack_raises_what_stopped_it() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/response/k"  # nothing listens: refused before anything is sent
    with pytest.raises(URLError):
        Reply(response_url=nowhere, put_off=PutOff())(text="lost")


def test_without_a_response_url_there_is_nothing_to_reply_to() -> None:
    with pytest.raises(ValueError, match="no response_url"):
        Reply(response_url=None, put_off=PutOff())(text="x")

