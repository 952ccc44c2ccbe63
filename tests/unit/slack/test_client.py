"""The bot's Slack Web API client (``bot.slack.client``): a call's first attempt goes straight to the kept connections,
and a 200 answers as slack-sdk's own path would have; anything else is slack-sdk's retry loop's, from that attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.config import Secret, Settings
from bot.devtools import FakeSlack
from bot.slack.client import CountingWebClient, make_client
from bot.transport.board import Board
from bot.workflows.ports import SlackUnavailable

#: What the odd server below answers, per Web API method: (content type, body).
ODD_ANSWERS = {
    "html.page": ("text/html", b"<html><body>Slack is busy</body></html>"),
    "latin.json": ("application/json; charset=iso-8859-1", '{"ok": true, "name": "Zo\u00eb"}'.encode("latin-1")),
    "list.json": ("application/json; charset=utf-8", b'["ok"]'),
    "ok.json": ("application/json; charset=utf-8", b'{"ok": true}'),
    "half.json": ("application/json; charset=utf-8", b'{"ok": true}'),  # after a 429 asking for half a second
}


class _Odd(BaseHTTPRequestHandler):
    """A server in front of the Web API that answers 200 with what Slack never sends (a proxy's page, another
    charset, a JSON list), counting the calls."""

    protocol_version = "HTTP/1.1"
    calls: ClassVar[list[str]] = []
    seen: ClassVar[list[Any]] = []  # each call's request headers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        method = self.path.rsplit("/", 1)[-1]
        self.calls.append(method)
        self.seen.append(self.headers)
        content_type, body = ODD_ANSWERS[method]
        if method == "half.json" and self.calls.count(method) == 1:
            body = b'{"ok": false, "error": "ratelimited"}'
            self.send_response(429)
            self.send_header("Retry-After", "0.5")
        else:
            self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def odd() -> Iterator[str]:
    _Odd.calls, _Odd.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def client_for(url: str, turns: Board | None = None) -> CountingWebClient:
    settings = SimpleNamespace(slack_bot_token=Secret("xoxb-test-token"), slack_api_url=url)
    client = make_client(cast(Settings, settings), turns=turns)
    assert isinstance(client, CountingWebClient)
    return client


def test_a_429_holds_its_method_or_its_channels_posts_for_every_caller_without_calling_slack(slack: FakeSlack) -> None:
    """A tier's limit is per method and workspace; ``chat.postMessage``'s, per channel (a DM's is never paced)."""
    client, other = client_for(slack.url, turns := Board.local()), client_for(slack.url, turns)  # two callers
    ts = client.chat_postMessage(channel="C1", text="the request")["ts"]
    slack.fail_next("chat.update", status=429, retry_after=5)
    with pytest.raises(SlackApiError):  # the 429 itself (longer than the thread waits): the caller's
        client.chat_update(channel="C1", ts=ts, text="approved")
    sent = len(slack.calls_of("chat.update"))
    with pytest.raises(SlackUnavailable) as held:
        other.chat_update(channel="C1", ts=ts, text="approved")
    assert held.value.retry_after is not None and 4 < held.value.retry_after <= 5
    assert len(slack.calls_of("chat.update")) == sent  # not sent: Slack would have refused it too
    assert other.chat_postMessage(channel="C1", text="a line")["ok"]  # another method: its own limit

    slack.fail_next("chat.postMessage", status=429, retry_after=5)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="a line")
    with pytest.raises(SlackUnavailable):
        other.chat_postMessage(channel="C1", text="a line")
    assert other.chat_postMessage(channel="C2", text="another channel")["ok"]
    assert other.chat_postMessage(channel="UREQ1", text="a DM")["ok"]


def test_a_429_through_a_proxy_holds_its_method_too(slack: FakeSlack) -> None:
    client = client_for(slack.url, Board.local())
    client.proxy = slack.origin  # slack-sdk's own urllib path, through a proxy (the fake serves as its own)
    slack.fail_next("views.publish", status=429, retry_after=5)
    with pytest.raises(SlackApiError):
        client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    with pytest.raises(SlackUnavailable):
        client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert len(slack.calls_of("views.publish")) == 1


def test_a_call_paced_at_the_gate_is_counted_rate_limited(slack: FakeSlack) -> None:
    seen: list[tuple[str, str]] = []
    client = client_for(slack.url, Board.local())
    client.on_call = lambda method, result: seen.append((method, result))
    slack.fail_next("views.publish", status=429, retry_after=3)
    for _ in range(2):
        with pytest.raises((SlackApiError, SlackUnavailable)):
            client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert seen == [("views.publish", "ratelimited")] * 2 and len(slack.calls_of("views.publish")) == 1


def test_a_call_answered_with_a_200_is_sent_once_and_answered_as_slack_sdk_answers_it(slack: FakeSlack) -> None:
    ours = client_for(slack.url).chat_postMessage(channel="C1", text="hi")
    theirs = WebClient(token="xoxb-test-token", base_url=slack.url).chat_postMessage(channel="C1", text="hi")
    assert ours["ok"] and ours["channel"] == "C1" and ours.status_code == 200
    assert set(ours.headers) == set(theirs.headers)  # the same header names, as a plain dict
    assert ours.headers["Content-Type"] == "application/json; charset=utf-8"
    assert [call.params["text"] for call in slack.calls_of("chat.postMessage")] == ["hi", "hi"]


def test_the_headers_sent_are_slack_sdk_s_each_once(odd: str) -> None:
    """A header given twice in different cases (the client's own, the token's) is sent once, as urllib sends it."""
    client = client_for(odd)
    client.headers = {"authorization": "Bearer not-this-one", "x-extra": "1"}
    client.api_call("ok.json", json={"a": 1})
    WebClient(token="xoxb-test-token", base_url=odd, headers=dict(client.headers)).api_call("ok.json", json={"a": 1})
    ours, theirs = _Odd.seen
    for name in ("Authorization", "Content-Type", "User-Agent", "X-Extra"):
        assert ours.get_all(name) == theirs.get_all(name) and len(ours.get_all(name)) == 1, name
    assert ours["Authorization"] == "Bearer xoxb-test-token"


def test_a_call_with_files_is_sent_whole(odd: str) -> None:
    """slack-sdk's multipart path (its own, with an integer Content-Length) on the kept connections."""
    assert client_for(odd).api_call("ok.json", files={"file": b"abc"}, data={"channels": "C1"})["ok"]
    assert _Odd.calls == ["ok.json"] and "multipart/form-data" in _Odd.seen[0]["Content-Type"]


def test_a_200_in_another_charset_is_read_in_it(odd: str) -> None:
    assert client_for(odd).api_call("latin.json")["name"] == "Zo\u00eb"


@pytest.mark.parametrize("method", ["html.page", "list.json"])
def test_a_200_that_is_no_json_object_fails_as_it_fails_in_slack_sdk_sent_once(odd: str, method: str) -> None:
    """A page (``SlackApiError``, saying what came) or a JSON list (slack-sdk's own ``AttributeError``)."""
    with pytest.raises(Exception) as ours:  # whatever slack-sdk's own path raises: the same
        client_for(odd).api_call(method)
    with pytest.raises(Exception) as theirs:
        WebClient(token="xoxb-test-token", base_url=odd).api_call(method)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    assert _Odd.calls == [method, method]  # once each: nothing sent again


class _Watches:
    """A retry handler that records every answer it is shown, and retries none."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=1)  # type: ignore[call-arg]
        self.seen: list[int | None] = []

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        self.seen.append(response.status_code if response is not None else None)
        return False


class _Watching(_Watches, RetryHandler):
    """A handler of the caller's own: it is shown every answer, a 200 too."""


class _WatchingServerErrors(_Watches, ServerErrorRetryHandler):
    """A subclass of a built-in handler: it may retry what it likes, a 200 too."""


@pytest.mark.parametrize("kind", [_Watching, _WatchingServerErrors])
def test_a_retry_handler_of_another_kind_is_shown_the_200_as_in_slack_sdk(
        slack: FakeSlack, kind: type[_Watching] | type[_WatchingServerErrors]) -> None:
    watching = kind()
    client = CountingWebClient(token="xoxb-test-token", base_url=slack.url, retry_handlers=[watching])
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert watching.seen == [200]


def test_after_a_first_attempt_that_failed_the_next_call_is_sent_again(slack: FakeSlack) -> None:
    """The failed first attempt's outcome is handed to slack-sdk's loop once: the next call on the thread is sent."""
    client = client_for(slack.url)
    slack.fail_next("chat.postMessage", status=403, error="not_allowed", retry_after=None)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="refused")
    assert client.chat_postMessage(channel="C1", text="posted")["ok"]
    assert [call.params["text"] for call in slack.calls_of("chat.postMessage")] == ["refused", "posted"]


def test_a_retry_after_in_fractions_of_a_second_is_waited_out(odd: str) -> None:
    started = time.monotonic()
    assert client_for(odd).api_call("half.json")["ok"]  # slack-sdk's own wait reads whole seconds only: it raised
    assert _Odd.calls == ["half.json", "half.json"] and time.monotonic() - started >= 0.5
