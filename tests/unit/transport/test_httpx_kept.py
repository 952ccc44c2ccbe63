"""The Descope client's keep-alive transport (``bot.transport.httpx_kept``), against the fake Descope on loopback: calls
share one connection; a kept connection the server has closed is replaced before anything is sent on it; the
errors keep httpx's meanings, so a call that may have reached Descope is never sent twice and one that cannot
have is retried."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from bot.config import proxied_from_env
from bot.descope import DescopeClient, DescopeUnavailable
from bot.descope.retry import RetryPolicy
from bot.devtools import FakeDescope
from bot.devtools.descope_api import IMPERSONATE

LOAD_USER = "/v1/mgmt/user"
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


@pytest.fixture
def descope() -> Iterator[FakeDescope]:
    with FakeDescope() as fake:
        fake.add_user("jane@acme.com", name="Jane Doe")
        fake.add_user("admin@corp.example", can_impersonate=True)
        yield fake


def client_for(descope: FakeDescope, retry: RetryPolicy = FAST) -> DescopeClient:
    """The client as the bot builds it: its own transport (none given)."""
    return DescopeClient(descope.project_id, descope.management_key, descope.url, retry=retry)


def impersonate(client: DescopeClient) -> str:
    return client.impersonate(login_id="jane@acme.com", impersonator_id="admin@corp.example",
                              refresh_duration=60, validate_consent=False)


def test_calls_one_after_another_share_one_connection(descope: FakeDescope) -> None:
    with client_for(descope) as client:
        for _ in range(5):
            assert client.load_user("jane@acme.com").name == "Jane Doe"
        assert impersonate(client).count(".") == 2
    assert descope.connections_accepted == 1
    assert len(descope.calls_to(LOAD_USER)) == 5


def test_threads_share_the_kept_connections_at_most_one_per_call_at_once(descope: FakeDescope) -> None:
    with client_for(descope) as client:
        def calls() -> None:
            for _ in range(3):
                client.load_user("jane@acme.com")

        for _ in range(3):  # one thread after another: one connection for all
            thread = threading.Thread(target=calls)
            thread.start()
            thread.join()
        assert descope.connections_accepted == 1
        threads = [threading.Thread(target=calls) for _ in range(3)]  # at once: no more than three
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 1 <= descope.connections_accepted <= 3 and len(descope.calls_to(LOAD_USER)) == 18


def test_a_connection_the_server_closed_is_replaced_before_a_call_goes_out(descope: FakeDescope) -> None:
    with client_for(descope, retry=RetryPolicy(attempts=1)) as client:  # no retry to hide behind
        impersonate(client)
        descope.stop()  # cuts the kept connection, as a server timing out an idle one does
        descope.start()
        impersonate(client)  # not idempotent: only a connection known to be good may carry it
    assert len(descope.calls_to(IMPERSONATE)) == 2 and len(descope.minted) == 2


def test_a_call_cut_off_after_sending_is_not_sent_again_and_may_be_done(descope: FakeDescope) -> None:
    with client_for(descope) as client:
        impersonate(client)
        descope.drop_next(IMPERSONATE)  # received, then the connection closes without an answer
        with pytest.raises(DescopeUnavailable) as raised:
            impersonate(client)
        assert raised.value.maybe_done
        assert len(descope.calls_to(IMPERSONATE)) == 2  # the cut one was not sent again
        descope.drop_next(LOAD_USER)  # a look-up may be asked again: retried, on a new connection
        assert client.load_user("jane@acme.com").name == "Jane Doe"


def test_a_slow_answer_times_out_as_maybe_done(descope: FakeDescope) -> None:
    descope.set_latency(LOAD_USER, 1.0)
    with client_for(descope) as client, pytest.raises(DescopeUnavailable) as raised:
        client.load_user("jane@acme.com", timeout=0.2)
    assert raised.value.maybe_done and "ReadTimeout" in str(raised.value)


def test_nothing_listening_is_unsent_and_retried(descope: FakeDescope) -> None:
    with client_for(descope) as client:
        descope.stop()
        with pytest.raises(DescopeUnavailable) as raised:
            impersonate(client)
    assert not raised.value.maybe_done and "ConnectError" in str(raised.value)
    assert raised.value.attempts == FAST.attempts  # never sent, so safe to try again, even a mint


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback server that records each request line and answers with ``answer`` (headers, then a JSON body)."""

    seen: list[str]
    answer: list[tuple[str, str]]

    def _reply(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"user": {"loginIds": ["jane@acme.com"], "name": "Jane via proxy"}}).encode()
        self.send_response(200)
        for name, value in self.answer:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str], list[tuple[str, str]]]]:
    seen: list[str] = []
    answer: list[tuple[str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "answer": answer})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen, answer
    server.shutdown()
    server.server_close()


def test_a_proxy_in_the_environment_carries_the_calls(recorder: tuple[str, list[str], list[tuple[str, str]]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    proxy, seen, _ = recorder
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    assert proxied_from_env()  # config says so, and the client then leaves the sending to httpx, which reads it
    with DescopeClient("P2proxy", "K-proxy", "http://descope.internal", retry=FAST,
                       keep_alive=not proxied_from_env()) as client:
        assert client.load_user("jane@acme.com").name == "Jane via proxy"
    assert seen == ["GET http://descope.internal/v1/mgmt/user?loginId=jane%40acme.com"]


def test_an_answer_http_client_refuses_is_maybe_done_and_never_sent_again(
        recorder: tuple[str, list[str], list[tuple[str, str]]]) -> None:
    server, seen, answer = recorder
    answer.extend((f"X-Filler-{i}", "x") for i in range(120))  # more headers than http.client accepts
    with DescopeClient("P2odd", "K-odd", server, retry=FAST) as client, pytest.raises(DescopeUnavailable) as raised:
        impersonate(client)
    assert raised.value.maybe_done and "RemoteProtocolError" in str(raised.value)
    assert seen == ["POST /v1/mgmt/impersonate"]  # a mint that may have happened is not asked for again
