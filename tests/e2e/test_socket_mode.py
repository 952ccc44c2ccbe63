"""Socket Mode: the fake WebSocket endpoint itself, and the real bot driven through it end to end.

The bot runs as a child process with ``SLACK_APP_TOKEN`` set and no signing secret. It fetches a URL
from ``apps.connections.open`` at the fake Slack Web API (with the app-level token), connects to
:class:`FakeSocketMode`, and gets slash commands and button clicks as envelopes it must acknowledge.
SQLite only: the storage paths are the same as in HTTP mode, which the HTTP suite covers on both.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.descope_api import IMPERSONATE
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GROUP_APPROVER,
    REQUESTER,
    TARGET,
    TENANT,
    BotProcess,
    bot_env,
    request_id_of,
)
from bot.devtools.signing import block_action_payload, slash_command_body
from bot.devtools.socket_mode import FakeSocketMode
from bot.devtools.websocket import accept_key

APP_TOKEN = "xapp-1-test"


# -- the fake on its own ------------------------------------------------------------------------


def _masked(opcode: int, payload: bytes, *, fin: bool = True, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    assert len(payload) <= 125
    head = bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            assert chunk, "connection closed mid-frame"
            out += chunk
        return out

    b1, b2 = exactly(2)
    assert b1 & 0x80 and not b2 & 0x80, "server frames are final and unmasked"
    length = b2 & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    return b1 & 0x0F, exactly(length)


def _upgrade(url: str, key: str = "dGhlIHNhbXBsZSBub25jZQ==") -> tuple[socket.socket, str]:
    rest = url.removeprefix("ws://127.0.0.1:")
    port, path = rest.split("/", 1)
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    sock.sendall(
        f"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return sock, head.decode()


def test_fake_handshake_frames_and_tickets() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, section 1.3
    with FakeSocketMode(app_id="A0TESTAPP") as sm:
        url = sm.connection_url()
        sock, head = _upgrade(url)
        with sock:
            assert head.startswith("HTTP/1.1 101 ")
            assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
            opcode, data = _read_frame(sock)
            hello = json.loads(data)
            assert opcode == 0x1 and hello["type"] == "hello"
            assert hello["connection_info"]["app_id"] == "A0TESTAPP"

            sock.sendall(_masked(0x9, b"sess:123.4"))
            assert _read_frame(sock) == (0xA, b"sess:123.4")

            eid = sm.send_envelope("slash_commands", {"command": "/x", "text": "hi"})
            opcode, data = _read_frame(sock)
            assert json.loads(data) == {"envelope_id": eid, "type": "slash_commands",
                                        "accepts_response_payload": True,
                                        "payload": {"command": "/x", "text": "hi"}}
            ack = json.dumps({"envelope_id": eid, "payload": {"text": "ok"}}).encode()
            sock.sendall(_masked(0x1, ack[:10], fin=False) + _masked(0x0, ack[10:]))  # fragmented
            assert sm.wait_for_ack(eid, timeout=5) == {"text": "ok"}

            sock.sendall(bytes([0x81, 2]) + b"{}")  # an unmasked client frame is a protocol error: close 1002
            opcode, data = _read_frame(sock)
            assert opcode == 0x8 and struct.unpack("!H", data[:2])[0] == 1002
        sm.wait_until_closed(timeout=5)

        sock, head = _upgrade(url)  # tickets are single-use
        sock.close()
        assert head.startswith("HTTP/1.1 401 ")
        sock, head = _upgrade(sm.connection_url(), key="short")
        sock.close()
        assert head.startswith("HTTP/1.1 400 ")
        assert len(sm.rejected) == 2 and len(sm.connections) == 1


def test_fake_against_slack_sdk_builtin_client(fakes: tuple[FakeSlack, FakeDescope]) -> None:
    """slack_sdk's own client (what Bolt's SocketModeHandler uses): connects via apps.connections.open, acks."""
    slack, _ = fakes
    received: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        received.append(req)
        client.send_socket_mode_response(SocketModeResponse(req.envelope_id, {"text": f"got {req.type}"}))

    with FakeSocketMode() as sm:
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):  # the bot token is refused
            WebClient(token="xoxb-test-token", base_url=slack.url).apps_connections_open(app_token="xoxb-test-token")
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):  # nothing attached yet
            WebClient(base_url=slack.url).apps_connections_open(app_token=APP_TOKEN)
        slack.attach_socket_mode(sm)
        slack.reset_calls()
        client = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=slack.url), ping_interval=1)
        client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
        try:
            client.connect()
            first = sm.wait_for_connection()
            assert first.request_headers["sec-websocket-version"] == "13"
            eid = sm.send_envelope("interactive", {"type": "block_actions"}, accepts_response_payload=False)
            assert sm.wait_for_ack(eid) == {"text": "got interactive"}
            assert received[0].payload == {"type": "block_actions"} and not received[0].accepts_response_payload
            sm.wait_for(lambda: first.pings >= 1, what="client ping")  # sent right after the upgrade
            assert client.current_session is not None
            slack.wait_for(lambda: client.current_session.last_ping_pong_time is not None,  # type: ignore[union-attr]
                           message="client saw our pong")
            assert len(slack.calls_of("apps.connections.open")) == 1
        finally:
            client.close()
        sm.wait_until_closed(timeout=5)
        assert sm.unexpected == [] and sm.rejected == []
        assert all(not c.protocol_errors for c in sm.connections)


# -- the bot in Socket Mode ---------------------------------------------------------------------


@pytest.fixture
def socket_bot(
    fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeSlack, FakeDescope, FakeSocketMode, BotProcess]]:
    slack, descope = fakes
    with FakeSocketMode() as sm:
        slack.attach_socket_mode(sm)
        env = bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}", SLACK_APP_TOKEN=APP_TOKEN)
        del env["SLACK_SIGNING_SECRET"]
        monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)  # BotProcess inherits os.environ
        bot = BotProcess(env, tmp_path / "bot.log", ready=lambda: sm.current is not None)
        try:
            bot.start(timeout=20)
            yield slack, descope, sm, bot
        finally:
            bot.stop()


def _command(sm: FakeSocketMode, slack: FakeSlack, text: str, user_id: str) -> dict[str, Any]:
    body = slash_command_body(text, user_id=user_id, response_url=slack.response_url(f"cmd-{user_id}"))
    eid = sm.send_envelope("slash_commands", dict(parse_qsl(body, keep_blank_values=True)))
    ack = sm.wait_for_ack_record(eid)
    assert ack.latency < 3.0, f"Slack wants the ack within 3 s, took {ack.latency:.2f}s"
    return ack.payload


def test_bot_request_approve_dm_and_sigterm_over_socket_mode(
    socket_bot: tuple[FakeSlack, FakeDescope, FakeSocketMode, BotProcess],
) -> None:
    slack, descope, sm, bot = socket_bot
    assert slack.calls_of("apps.connections.open")[0].params.get("_failed") is None

    # The slash command's ack is the answer: ephemeral, naming the request.
    answer = _command(sm, slack, f"<mailto:{TARGET}|{TARGET}> 30m --tenant {TENANT} checking invoice SUP-123",
                      REQUESTER)
    assert answer["response_type"] == "ephemeral"
    assert "is waiting for a second admin" in answer["text"], answer
    request_id = answer["text"].split("`")[1]

    # The approval request lands in the approvals channel, with buttons.
    ts: str = slack.wait_for(
        lambda: next((t for (ch, t), m in list(slack.messages.items())
                      if ch == APPROVAL_CHANNEL and request_id_of(m) == request_id), None),
        message="approval message")
    assert TARGET in slack.message_text(APPROVAL_CHANNEL, ts)

    # A second admin (through the approvers' group) clicks Approve: an interactive envelope, acked empty.
    payload = block_action_payload("approve", request_id, user_id=GROUP_APPROVER, channel_id=APPROVAL_CHANNEL,
                                   message_ts=ts, response_url=slack.response_url("click", channel=APPROVAL_CHANNEL,
                                                                                  message_ts=ts))
    eid = sm.send_envelope("interactive", payload, accepts_response_payload=False)
    ack = sm.wait_for_ack_record(eid)
    assert ack.payload == {} and ack.latency < 3.0

    call = descope.wait_for_call(IMPERSONATE)
    assert call.body["loginId"] == TARGET
    assert call.body["impersonatorId"] == f"{REQUESTER.lower()}@corp.example"
    assert call.body["customClaims"]["approvedBy"] == GROUP_APPROVER
    token = descope.wait_for(lambda: descope.minted[0] if descope.minted else None)  # the call is recorded first
    slack.wait_for(lambda: any("Show token" in slack.message_text(ch, t) for (ch, t) in list(slack.messages)
                               if ch == "D" + REQUESTER), message="session DM")
    slack.wait_for(lambda: "active until" in slack.message_text(APPROVAL_CHANNEL, ts), message="channel says active")
    carrying = [(method, channel) for method, channel, text in slack.all_text_sent() if token in text]
    assert carrying == []  # never message text: the requester's Show token opens a modal

    # SIGTERM: exit 0, promptly, after closing the WebSocket.
    started = time.monotonic()
    assert bot.stop() == 0, bot.log()
    assert time.monotonic() - started < 10
    sm.wait_until_closed(timeout=2)
    log = bot.log()
    assert "stopped" in log and "Traceback" not in log
    assert token not in log and APP_TOKEN not in log
    assert sm.unexpected == [] and sm.rejected == []
    assert all(not c.protocol_errors for c in sm.connections)


def test_bot_reconnects_when_slack_asks(
    socket_bot: tuple[FakeSlack, FakeDescope, FakeSocketMode, BotProcess],
) -> None:
    """Slack sends ``disconnect`` (e.g. ``refresh_requested``) every few hours; the bot must follow.

    Note: slack_sdk's builtin client reads the new connection only once the old one's blocking ``recv``
    (3 s timeout) returns, so envelopes sent in that window are delayed up to ~3 s. We wait for the
    switch to finish (the old connection closed) before sending.
    """
    slack, _, sm, bot = socket_bot
    first = sm.current
    assert first is not None
    sm.send_disconnect("refresh_requested")
    second = sm.wait_for_connection(count=2)
    # The start's check of the app-level token (its URL left unused), the first connection, and this one.
    assert len(slack.calls_of("apps.connections.open")) == 3
    sm.wait_for(lambda: not first.open, timeout=6, what="the old connection closed by the bot")
    answer = _command(sm, slack, "help", APPROVER)
    assert "Usage" in answer["text"]
    assert [a.connection for a in sm.acks.values()] == [second.number]
    assert bot.stop() == 0, bot.log()

