"""The WebSocket protocol (RFC 6455) as a server speaks it, standard library only: the upgrade request read
and checked, the answers to it, and frames read (masked, from a client) and written (unmasked, never
fragmented). The fake Socket Mode server (``socket_mode``) is built on it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "Connection", "FrameReader", "ProtocolError", "Upgrade", "accept_key", "converse", "encode_frame", "read_upgrade",
]

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_HANDSHAKE = 16 * 1024
MAX_MESSAGE = 16 * 1024 * 1024


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


class ProtocolError(Exception):
    pass



@dataclass
class Connection:
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


class HeadTooLarge(Exception):
    """The upgrade request's head exceeded ``MAX_HANDSHAKE`` bytes."""


@dataclass(frozen=True)
class Upgrade:
    """A client's opening handshake: ``GET <path>?<query>`` and its headers (lower-cased names)."""

    verb: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]

    @property
    def key(self) -> str:
        return self.headers.get("sec-websocket-key", "")

    def problem(self) -> tuple[int, str] | None:
        """Why this is not a WebSocket upgrade a server may accept (status, reason), or None."""
        headers = self.headers
        if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in headers.get("connection", "").lower():
            return 400, f"not a WebSocket upgrade: {headers}"
        if headers.get("sec-websocket-version") != "13":
            return 426, f"Sec-WebSocket-Version {headers.get('sec-websocket-version')!r}"
        try:
            valid_key = len(base64.b64decode(self.key, validate=True)) == 16
        except ValueError:
            valid_key = False
        if not valid_key:
            return 400, f"bad Sec-WebSocket-Key {self.key!r}"
        return None

    def accepted(self) -> bytes:
        """The ``101 Switching Protocols`` answer, with the ``Sec-WebSocket-Accept`` the client checks."""
        return (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(self.key)}\r\n"
            "\r\n"
        ).encode("ascii")


def read_upgrade(sock: socket.socket) -> Upgrade | None:
    """The request head from a fresh connection (None if the client hung up first; HeadTooLarge)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        raw += chunk
        if len(raw) > MAX_HANDSHAKE:
            raise HeadTooLarge
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    request_line, *lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    verb, _, rest = request_line.partition(" ")
    parts = urlsplit(rest.rsplit(" ", 1)[0])
    return Upgrade(verb, parts.path, dict(parse_qsl(parts.query)), headers)


def refusal(status: int, reason: str) -> bytes:
    """A plain-text HTTP refusal of the upgrade, closing the connection."""
    body = reason.encode("utf-8")
    return (
        f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n".encode("ascii")
        + body
    )


def converse(conn: Connection, lock: threading.Condition, on_text: Callable[[Connection, bytes], None]) -> None:
    """Read ``conn``'s frames until the client leaves: pings answered with a pong echoing the payload, pongs
    counted, a close frame echoed, text (reassembled from fragments) given to ``on_text``, and a protocol error
    answered with close code 1002. Counters change under ``lock``."""
    reader = FrameReader(conn.sock)
    fragments: list[bytes] | None = None
    while True:
        try:
            frame = reader.next_frame()
        except ProtocolError as exc:
            with lock:
                conn.protocol_errors.append(str(exc))
            with contextlib.suppress(OSError):
                conn.send(OP_CLOSE, struct.pack("!H", 1002) + str(exc).encode("utf-8")[:100])
            return
        if frame is None:
            return  # the client closed the TCP connection
        fin, opcode, payload = frame
        if opcode == OP_PING:
            with lock:
                conn.pings += 1
            conn.send(OP_PONG, payload)
        elif opcode == OP_PONG:
            with lock:
                conn.pongs += 1
        elif opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            with lock:
                conn.close_code = code
            with contextlib.suppress(OSError):
                conn.send(OP_CLOSE, payload[:2])
            return
        elif opcode == OP_TEXT:
            if fin:
                on_text(conn, payload)
            else:
                fragments = [payload]
        elif opcode == OP_CONTINUATION and fragments is not None:
            fragments.append(payload)
            if fin:
                on_text(conn, b"".join(fragments))
                fragments = None
        else:
            with lock:
                conn.protocol_errors.append(f"unexpected opcode {opcode:#x}")


class FrameReader:
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
            raise ProtocolError("reserved bits set without a negotiated extension")
        if opcode >= 0x8 and (not fin or length > 125):
            raise ProtocolError("control frames must be final and at most 125 bytes")
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
        if length > MAX_MESSAGE:
            raise ProtocolError(f"frame of {length} bytes is too large")
        if not masked:
            raise ProtocolError("client frames must be masked (RFC 6455, section 5.1)")
        mask = self._read(4)
        if mask is None:
            return None
        data = self._read(length)
        if data is None:
            return None
        return fin, opcode, unmask(data, mask)


def unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    key = int.from_bytes((mask * (len(data) // 4 + 1))[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(len(data), "big")
