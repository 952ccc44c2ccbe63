"""Shared plumbing for the fake HTTP servers: a threaded loopback server, call log, polling helper.

Standard library only. Each fake subclasses :class:`FakeServer` and implements ``_handle`` (one
parsed :class:`Request` in, one :class:`Response` out) and ``_describe`` (a short label of a
recorded call, used in timeout messages).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast, overload
from urllib.parse import parse_qsl, urlsplit

T = TypeVar("T")
CallT = TypeVar("CallT")


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request, as handed to a fake's ``_handle``."""

    verb: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What a fake answers. ``drop=True`` closes the socket without writing anything."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status=status, body=json.dumps(obj).encode("utf-8"), headers=dict(headers or {}))

    @classmethod
    def dropped(cls) -> Response:
        return cls(drop=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handle: Callable[[Request], Response], port: int = 0) -> None:
        self.handle_request_object = handle
        self.open_connections: set[socket.socket] = set()
        self.connections_accepted = 0
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def close_open_connections(self) -> None:
        """Cut keep-alive and in-flight connections, so a stopped fake really stops answering."""
        with self.connections_lock:
            conns = list(self.open_connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that went away (or a connection cut by stop()) is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeServer/1.0"
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    # The answer goes out in two writes (headers, then body): with Nagle's algorithm on, a kept-alive client's
    # delayed ACK would hold the body for 40 ms. Real servers answer without that stall (TCP_NODELAY).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.open_connections.add(self.connection)
            server.connections_accepted += 1

    def finish(self) -> None:
        server = cast(_Server, self.server)
        with server.connections_lock:
            server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output quiet

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the blank line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        body = self._read_body()
        parts = urlsplit(self.path)
        request = Request(
            verb=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        server = cast(_Server, self.server)
        try:
            response = server.handle_request_object(request)
        except Exception as exc:  # a bug in a fake must show up, not hang the client
            response = Response.json({"ok": False, "error": f"fake_server_error: {exc!r}"}, status=500)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve
    do_HEAD = _serve


class FakeServer(Generic[CallT]):
    """Base: lifecycle (start/stop/context manager), a thread-safe call log and ``wait_for``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._calls: list[CallT] = []
        self._latency: dict[str, float] = {}
        self._server: _Server | None = None
        self._last_port = 0
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Serve on a free loopback port; after a stop(), on the same port as before (same URL)."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        server = _Server(self._dispatch, self._last_port)
        self._last_port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections (recorded calls and registries are kept)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_open_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def connections_accepted(self) -> int:
        """TCP connections this server has accepted since it (last) started."""
        return self._server.connections_accepted if self._server is not None else 0

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # -- call log ------------------------------------------------------------------------------
    @property
    def calls(self) -> list[CallT]:
        """A snapshot (copy) of every call recorded so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def _record(self, call: CallT) -> CallT:
        with self._lock:
            self._calls.append(call)
        return call

    def _describe(self, call: CallT) -> str:
        return repr(call)

    @overload
    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, message: str | None = None) -> bool: ...

    @overload
    def wait_for(
        self, predicate: Callable[[], T | bool | None], timeout: float = 10.0, message: str | None = None
    ) -> T: ...

    def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 10.0,
        message: str | None = None,
    ) -> T | bool:
        """Poll ``predicate`` every 10 ms until it returns something truthy, and return that.

        ``None``, ``False`` and other falsy values (an empty list) mean "not yet". On timeout,
        raise AssertionError listing the calls recorded so far.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return cast(T, value)
            if time.monotonic() >= deadline:
                seen = [self._describe(c) for c in self.calls]
                what = message or getattr(predicate, "__name__", "condition")
                raise AssertionError(
                    f"{type(self).__name__}: timed out after {timeout:.1f}s waiting for {what}; "
                    f"last value {value!r}; {len(seen)} call(s) recorded: {seen}"
                )
            time.sleep(0.01)

    # -- latency -------------------------------------------------------------------------------
    def set_latency(self, key: str, seconds: float) -> None:
        """Delay every answer for ``key`` by ``seconds`` (0 removes the delay)."""
        with self._lock:
            if seconds > 0:
                self._latency[key] = seconds
            else:
                self._latency.pop(key, None)

    def _sleep_latency(self, key: str) -> None:
        with self._lock:
            delay = self._latency.get(key, 0.0)
        if delay > 0:
            time.sleep(delay)

    # -- to implement --------------------------------------------------------------------------
    def _dispatch(self, request: Request) -> Response:
        return self._handle(request)

    def _handle(self, request: Request) -> Response:
        raise NotImplementedError


def decode_json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        value = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return None
    return cast(dict[str, Any], value) if isinstance(value, dict) else None
