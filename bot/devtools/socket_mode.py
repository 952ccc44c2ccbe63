"""A fake Slack Socket Mode server (WebSocket, RFC 6455) on 127.0.0.1, for end-to-end tests.

Standard library only. Attach it to a :class:`~tests.fakes.FakeSlack` (``slack.attach_socket_mode(sm)``)
and ``apps.connections.open`` (called with the app-level token) answers a one-time
``ws://127.0.0.1:PORT/link/?ticket=…`` URL pointing here, as Slack answers a ``wss://`` one.

What it does, modelled on Slack and on what slack_sdk's builtin client sends and expects
(``slack_sdk/socket_mode/builtin/``):

* The upgrade: ``GET /link/?ticket=…`` with ``Upgrade: websocket``, ``Connection: Upgrade``,
  ``Sec-WebSocket-Key`` and ``Sec-WebSocket-Version: 13``; answers ``101`` with the
  ``Sec-WebSocket-Accept`` the client checks. Tickets are single-use, as Slack's are: a reconnecting
  client must call ``apps.connections.open`` again (unknown or reused tickets get ``401``).
* Right after the upgrade it sends ``{"type": "hello", ...}`` as Slack does.
* Client frames must be masked (a protocol error closes with 1002); server frames are unmasked, never
  fragmented (the builtin client cannot reassemble fragments). Pings are answered with a pong that
  echoes the payload (the client sends ``"<session id>:<time>"`` right after the upgrade and every
  ``ping_interval`` seconds, and treats a connection without pongs for 4 intervals as stale); a close
  frame is answered with a close frame; fragmented client text is reassembled.
* :meth:`send_envelope` sends ``{"envelope_id", "type", "accepts_response_payload", "payload"}`` to
  the newest open connection; the client's acknowledgement ``{"envelope_id", "payload"?}`` is
  recorded, with its latency, for :meth:`wait_for_ack`.
* :meth:`send_disconnect` sends Slack's ``{"type": "disconnect", "reason": …}`` (the client should
  fetch a new URL and reconnect); :meth:`close_connections` sends a close frame instead.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Ack", "FakeSocketMode", "SocketConnection", "accept_key", "encode_frame"]

T = TypeVar("T")

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_MAX_HANDSHAKE = 16 * 1024
_MAX_MESSAGE = 16 * 1024 * 1024


def accept_key(sec_websocket_key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455, section 4.2.2)."""
    digest = hashlib.sha1((sec_websocket_key.strip() + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One unmasked server frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n <= 125:
        head += bytes([n])
    elif n <= 0xFFFF:
        head += struct.pack("!BH", 126, n)
    else:
        head += struct.pack("!BQ", 127, n)
    return head + payload


class _ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any]  # {} when the acknowledgement carried no payload
    latency: float  # seconds from sending the envelope to receiving its ack
    connection: int  # SocketConnection.number it arrived on


@dataclass
class SocketConnection:
    """One accepted WebSocket connection (kept after it closes, for assertions)."""

    number: int
    ticket: str
    request_headers: dict[str, str]  # lower-cased names
    sock: socket.socket = field(repr=False)
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    close_code: int | None = None  # from the client's close frame, if it sent one
    hello_sent: bool = False
    pings: int = 0
    pongs: int = 0
    protocol_errors: list[str] = field(default_factory=list)
    _send_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def send(self, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(encode_frame(opcode, payload))


class FakeSocketMode:
    """Fake Socket Mode endpoint. ``with FakeSocketMode() as sm: slack.attach_socket_mode(sm)``."""

    def __init__(self, *, app_id: str = "A0TESTAPP", send_hello: bool = True) -> None:
        self.app_id = app_id
        self.send_hello = send_hello
        self._lock = threading.Condition(threading.RLock())
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._tickets: set[str] = set()
        self._envelopes: dict[str, tuple[float, dict[str, Any]]] = {}  # id -> (sent at, envelope)
        self._acks: dict[str, Ack] = {}
        self.connections: list[SocketConnection] = []
        self.rejected: list[str] = []  # reasons upgrade requests were refused
        self.unexpected: list[Any] = []  # client messages that were not acks of our envelopes
        self._numbers = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError("FakeSocketMode already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)
        self._stopping.clear()
        self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, name="FakeSocketMode-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every connection (without a close frame, like a network failure)."""
        self._stopping.set()
        listener, self._listener = self._listener, None
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
            self._accept_thread = None
        if listener is not None:
            listener.close()
        with self._lock:
            conns = list(self.connections)
            threads = list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        if self._listener is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._listener.getsockname()[1])

    def connection_url(self) -> str:
        """A fresh single-use URL, as ``apps.connections.open`` answers it."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- what a test does ----------------------------------------------------------------------
    @property
    def current(self) -> SocketConnection | None:
        """The newest open connection that got its hello (where envelopes go), if any."""
        with self._lock:
            return next((c for c in reversed(self.connections) if c.open and c.hello_sent), None)

    def wait_for_connection(self, count: int = 1, timeout: float = 10.0) -> SocketConnection:
        """Wait until ``count`` connections were established in all; return the newest open one."""

        def ready() -> SocketConnection | None:
            made = sum(1 for c in self.connections if c.hello_sent)
            return self.current if made >= count else None

        return self.wait_for(ready, timeout, f"{count} Socket Mode connection(s)")

    def send_envelope(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        envelope_id: str | None = None,
        connection: SocketConnection | None = None,
    ) -> str:
        """Send an envelope (``"slash_commands"``, ``"interactive"``, ``"events_api"``); return its ID."""
        conn = connection or self.current
        if conn is None or not conn.open:
            raise AssertionError(f"no open Socket Mode connection to send a {type_} envelope on: {self.connections}")
        eid = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": eid,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
            "payload": payload,
        }
        with self._lock:
            self._envelopes[eid] = (time.monotonic(), envelope)
        conn.send(OP_TEXT, json.dumps(envelope).encode("utf-8"))
        return eid

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The payload of the client's acknowledgement of ``envelope_id`` (``{}`` if it had none)."""
        return self.wait_for_ack_record(envelope_id, timeout).payload

    def wait_for_ack_record(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        return self.wait_for(lambda: self._acks.get(envelope_id), timeout, f"ack of envelope {envelope_id}")

    @property
    def acks(self) -> dict[str, Ack]:
        with self._lock:
            return dict(self._acks)

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's warning that this connection is going away; the client should reconnect elsewhere."""
        conn = self.current
        if conn is None:
            raise AssertionError("no open Socket Mode connection")
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        conn.send(OP_TEXT, json.dumps(message).encode("utf-8"))

    def close_connections(self, code: int = 1001, reason: str = "going away") -> None:
        """Send a close frame on every open connection (the client answers and closes)."""
        with self._lock:
            conns = [c for c in self.connections if c.open]
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))

    def wait_until_closed(self, timeout: float = 10.0) -> None:
        """Wait until no connection is open (e.g. after the client shut down)."""
        self.wait_for(lambda: all(not c.open for c in self.connections), timeout, "all connections closed")

    # -- internals -----------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
        """Poll ``predicate`` (under the fake's lock, woken by every event) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"FakeSocketMode: timed out after {timeout:.1f}s waiting for {what}; "
                        f"connections={self.connections}, rejected={self.rejected}, "
                        f"acks={list(self._acks)}, unexpected={self.unexpected}"
                    )
                self._lock.wait(min(remaining, 0.05))

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                sock, _addr = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(sock,), name="FakeSocketMode-conn", daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn: SocketConnection | None = None
        try:
            conn = self._handshake(sock)
            if conn is None:
                return
            self._read_loop(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            if conn is not None:
                with self._lock:
                    conn.closed_at = time.monotonic()
                    self._lock.notify_all()

    def _handshake(self, sock: socket.socket) -> SocketConnection | None:
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            raw += chunk
            if len(raw) > _MAX_HANDSHAKE:
                self._refuse(sock, 431, "handshake headers too large")
                return None
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        request_line, *lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        verb, _, rest = request_line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        parts = urlsplit(target)
        ticket = dict(parse_qsl(parts.query)).get("ticket", "")

        if verb != "GET" or parts.path != "/link/":
            self._refuse(sock, 404, f"{verb} {parts.path}")
            return None
        if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in headers.get("connection", "").lower():
            self._refuse(sock, 400, f"not a WebSocket upgrade: {headers}")
            return None
        if headers.get("sec-websocket-version") != "13":
            self._refuse(sock, 426, f"Sec-WebSocket-Version {headers.get('sec-websocket-version')!r}")
            return None
        key = headers.get("sec-websocket-key", "")
        try:
            valid_key = len(base64.b64decode(key, validate=True)) == 16
        except ValueError:
            valid_key = False
        if not valid_key:
            self._refuse(sock, 400, f"bad Sec-WebSocket-Key {key!r}")
            return None
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            self._refuse(sock, 401, f"unknown or reused ticket {ticket!r}")
            return None

        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
                "\r\n"
            ).encode("ascii")
        )
        with self._lock:
            conn = SocketConnection(next(self._numbers), ticket, headers, sock)
            self.connections.append(conn)
        if self.send_hello:
            with self._lock:
                num = sum(1 for c in self.connections if c.open)
            hello = {
                "type": "hello",
                "num_connections": num,
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            conn.send(OP_TEXT, json.dumps(hello).encode("utf-8"))
        with self._lock:
            conn.hello_sent = True
            self._lock.notify_all()
        return conn

    def _refuse(self, sock: socket.socket, status: int, reason: str) -> None:
        with self._lock:
            self.rejected.append(f"{status}: {reason}")
            self._lock.notify_all()
        body = reason.encode("utf-8")
        with contextlib.suppress(OSError):
            sock.sendall(
                f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode("ascii")
                + body
            )

    def _read_loop(self, conn: SocketConnection) -> None:
        reader = _FrameReader(conn.sock)
        fragments: list[bytes] | None = None
        while True:
            try:
                frame = reader.next_frame()
            except _ProtocolError as exc:
                with self._lock:
                    conn.protocol_errors.append(str(exc))
                with contextlib.suppress(OSError):
                    conn.send(OP_CLOSE, struct.pack("!H", 1002) + str(exc).encode("utf-8")[:100])
                return
            if frame is None:
                return  # the client closed the TCP connection
            fin, opcode, payload = frame
            if opcode == OP_PING:
                with self._lock:
                    conn.pings += 1
                conn.send(OP_PONG, payload)
            elif opcode == OP_PONG:
                with self._lock:
                    conn.pongs += 1
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                with self._lock:
                    conn.close_code = code
                with contextlib.suppress(OSError):
                    conn.send(OP_CLOSE, payload[:2])
                return
            elif opcode == OP_TEXT:
                if fin:
                    self._on_text(conn, payload)
                else:
                    fragments = [payload]
            elif opcode == OP_CONTINUATION and fragments is not None:
                fragments.append(payload)
                if fin:
                    self._on_text(conn, b"".join(fragments))
                    fragments = None
            else:
                with self._lock:
                    conn.protocol_errors.append(f"unexpected opcode {opcode:#x}")

    def _on_text(self, conn: SocketConnection, data: bytes) -> None:
        try:
            message: Any = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            message = data
        with self._lock:
            eid = message.get("envelope_id") if isinstance(message, dict) else None
            sent = self._envelopes.get(eid) if isinstance(eid, str) else None
            if sent is None or eid in self._acks:
                self.unexpected.append(message)
            else:
                payload = message.get("payload")
                self._acks[str(eid)] = Ack(
                    str(eid), dict(payload) if isinstance(payload, dict) else {}, time.monotonic() - sent[0],
                    conn.number,
                )
            self._lock.notify_all()


class _FrameReader:
    """Reads masked client frames from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _read(self, n: int) -> bytes | None:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def next_frame(self) -> tuple[bool, int, bytes] | None:
        head = self._read(2)
        if head is None:
            return None
        b1, b2 = head[0], head[1]
        fin, opcode, masked, length = bool(b1 & 0x80), b1 & 0x0F, bool(b2 & 0x80), b2 & 0x7F
        if b1 & 0x70:
            raise _ProtocolError("reserved bits set without a negotiated extension")
        if opcode >= 0x8 and (not fin or length > 125):
            raise _ProtocolError("control frames must be final and at most 125 bytes")
        if length == 126:
            ext = self._read(2)
            if ext is None:
                return None
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self._read(8)
            if ext is None:
                return None
            length = struct.unpack("!Q", ext)[0]
        if length > _MAX_MESSAGE:
            raise _ProtocolError(f"frame of {length} bytes is too large")
        if not masked:
            raise _ProtocolError("client frames must be masked (RFC 6455, section 5.1)")
        mask = self._read(4)
        if mask is None:
            return None
        data = self._read(length)
        if data is None:
            return None
        return fin, opcode, _unmask(data, mask)


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    key = int.from_bytes((mask * (len(data) // 4 + 1))[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(len(data), "big")
