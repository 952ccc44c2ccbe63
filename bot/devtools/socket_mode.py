"""A fake Slack Socket Mode server (WebSocket, RFC 6455) on 127.0.0.1, for end-to-end tests.

Standard library only (the protocol itself is ``websocket``). Attach it to a :class:`~bot.devtools.FakeSlack`
(``slack.attach_socket_mode(sm)``) and ``apps.connections.open`` (called with the app-level token) answers a one-time
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

import contextlib
import itertools
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from .websocket import OP_CLOSE, OP_TEXT, HeadTooLarge, converse, read_upgrade, refusal
from .websocket import Connection as SocketConnection

__all__ = ["Ack", "FakeSocketMode", "SocketConnection"]

T = TypeVar("T")


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any]  # {} when the acknowledgement carried no payload
    latency: float  # seconds from sending the envelope to receiving its ack
    connection: int  # SocketConnection.number it arrived on


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
            converse(conn, self._lock, self._on_text)
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
        try:
            upgrade = read_upgrade(sock)
        except HeadTooLarge:
            self._refuse(sock, 431, "handshake headers too large")
            return None
        if upgrade is None:
            return None
        if upgrade.verb != "GET" or upgrade.path != "/link/":
            self._refuse(sock, 404, f"{upgrade.verb} {upgrade.path}")
            return None
        problem = upgrade.problem()
        if problem is not None:
            self._refuse(sock, *problem)
            return None
        ticket = upgrade.query.get("ticket", "")
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            self._refuse(sock, 401, f"unknown or reused ticket {ticket!r}")
            return None

        sock.sendall(upgrade.accepted())
        with self._lock:
            conn = SocketConnection(next(self._numbers), ticket, upgrade.headers, sock)
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
        with contextlib.suppress(OSError):
            sock.sendall(refusal(status, reason))

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

