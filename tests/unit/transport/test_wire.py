"""``bot.transport.wire``: the bytes ``http.client`` would send, in one write, refused where it refuses them; and the
answer read as ``getresponse`` reads it."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bot.transport import wire
from bot.transport.response import Response


class Sock:
    """A connected socket that keeps what is sent."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        pass


def theirs(kind: type[http.client.HTTPConnection], host: str, port: int | None, method: str, path: str,
           headers: dict[str, str], body: bytes | None, *, defaults: bool = True) -> bytes:
    conn = kind(host, port)
    conn.sock = Sock()  # type: ignore[assignment]
    if defaults:
        conn.request(method, path, body=body, headers=headers)
    else:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
    return b"".join(conn.sock.writes)  # type: ignore[attr-defined]


def ours(kind: type[http.client.HTTPConnection], host: str, port: int | None, method: str, path: str,
         headers: dict[str, str], body: bytes | None, *, defaults: bool = True) -> list[bytes]:
    conn = kind(host, port)
    conn.sock = sock = Sock()  # type: ignore[assignment]
    wire.write(conn, method, path, headers.items(), body, defaults=defaults)
    return sock.writes


SLACK = {"Content-Type": "application/json;charset=utf-8", "Authorization": "Bearer xoxb-1", "User-Agent": "x/1"}


@pytest.mark.parametrize(("kind", "host", "port"), [
    (http.client.HTTPSConnection, "slack.com", None), (http.client.HTTPSConnection, "slack.com", 8443),
    (http.client.HTTPConnection, "127.0.0.1", 80), (http.client.HTTPConnection, "127.0.0.1", 41227),
    (http.client.HTTPConnection, "::1", 8080), (http.client.HTTPConnection, "bücher.example", None),
])
@pytest.mark.parametrize(("method", "headers", "body"), [
    ("POST", SLACK, b'{"channel": "C1", "text": "hi"}'),
    ("POST", SLACK, None),  # Content-Length: 0
    ("POST", SLACK, b""),
    ("GET", {"Authorization": "Bearer k"}, None),  # no Content-Length
    ("POST", {"Host": "other.example", "Accept-Encoding": "gzip", "Content-Length": "2"}, b"{}"),  # given: kept
    ("POST", {"Folded": "a\r\n\tb"}, b"{}"),  # a folded value passes, as there
    ("POST", {"Content-Length": 2, "Content-Type": "multipart/form-data"}, b"{}"),  # an int, as slack-sdk gives it
])
def test_the_request_is_the_one_http_client_sends_in_one_write(
        kind: type[http.client.HTTPConnection], host: str, port: int | None, method: str, headers: dict[str, str],
        body: bytes | None) -> None:
    writes = ours(kind, host, port, method, "/api/chat.postMessage?x=1", headers, body)
    assert len(writes) == 1
    assert writes[0] == theirs(kind, host, port, method, "/api/chat.postMessage?x=1", headers, body)


def test_an_empty_path_is_the_root_as_there() -> None:
    assert ours(http.client.HTTPConnection, "h", None, "GET", "", {}, None) == \
        [theirs(http.client.HTTPConnection, "h", None, "GET", "", {}, None)]


def test_without_defaults_it_is_what_putrequest_putheader_and_endheaders_send() -> None:
    headers = {"Host": "api.descope.com", "Accept": "*/*", "Content-Length": "2", "Authorization": "Bearer P:K"}
    for body in (b"{}", None):
        [sent] = ours(http.client.HTTPSConnection, "api.descope.com", None, "POST", "/v1/auth/logout", headers, body,
                      defaults=False)
        assert sent == theirs(http.client.HTTPSConnection, "api.descope.com", None, "POST", "/v1/auth/logout",
                              headers, body, defaults=False)


@pytest.mark.parametrize(("method", "path", "headers", "error"), [
    ("POST", "/api/x", {"X-Evil\r\nInjected": "1"}, ValueError),
    ("POST", "/api/x", {"X:Y": "1"}, ValueError),
    ("POST", "/api/x", {" X": "1"}, ValueError),
    ("POST", "/api/x", {"X": "1\r\nInjected: 1"}, ValueError),
    ("POST", "/api/x", {"X": "1\nInjected: 1"}, ValueError),
    ("POST", "/api/x HTTP/1.1\r\nInjected: 1\r\n", {}, http.client.InvalidURL),
    ("POST", "/api/a b", {}, http.client.InvalidURL),
    ("POST\r\nX: 1", "/api/x", {}, ValueError),
])
def test_what_http_client_refuses_is_refused_and_nothing_is_sent(
        method: str, path: str, headers: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        theirs(http.client.HTTPConnection, "h", None, method, path, headers, b"{}")
    conn = http.client.HTTPConnection("h")
    conn.sock = sock = Sock()  # type: ignore[assignment]
    with pytest.raises(error):
        wire.write(conn, method, path, headers.items(), b"{}", defaults=True)
    assert sock.writes == []


@pytest.fixture
def pair() -> Iterator[tuple[http.client.HTTPConnection, socket.socket]]:
    ours_, server = socket.socketpair()
    conn = http.client.HTTPConnection("h")
    conn.sock = ours_
    conn.response_class = Response
    yield conn, server
    conn.close()
    server.close()


def exchange(pair: tuple[http.client.HTTPConnection, socket.socket], answer: bytes) -> tuple[Any, bytes]:
    conn, server = pair
    wire.write(conn, "POST", "/api/x", [], b"{}", defaults=True)
    server.recv(65536)
    server.sendall(answer)
    response = wire.read(conn, "POST")
    return response, response.read()


def test_a_kept_answer_leaves_the_connection_ready_for_the_next(pair: tuple[http.client.HTTPConnection,
                                                                            socket.socket]) -> None:
    conn, _ = pair
    for n in (1, 2):  # two exchanges on one connection
        response, body = exchange(pair, b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}')
        assert (response.status, body, response.will_close) == (200, b'{"ok":true}', False), n
        assert conn.sock is not None
    conn.request("POST", "/api/x", body=b"{}")  # http.client's own state is untouched: ready too


def test_an_answer_that_closes_closes_the_connection_and_its_body_is_still_read(
        pair: tuple[http.client.HTTPConnection, socket.socket]) -> None:
    conn, _ = pair
    response, body = exchange(pair, b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nConnection: close\r\n"
                                    b"Content-Length: 2\r\n\r\n{}")
    assert (response.status, response.headers["Retry-After"], body) == (429, "3", b"{}")
    assert conn.sock is None


def test_an_answer_http_client_refuses_is_closed_with_its_connection_kept_for_the_caller_to_drop(
        pair: tuple[http.client.HTTPConnection, socket.socket]) -> None:
    conn, server = pair
    wire.write(conn, "POST", "/api/x", [], b"{}", defaults=True)
    server.recv(65536)
    server.sendall(b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 101 + b"\r\n")
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        wire.read(conn, "POST")
    assert conn.sock is not None  # not a broken connection: getresponse leaves it too (the pool drops it)


def test_a_connection_closed_before_any_answer_raises_as_getresponse_does(
        pair: tuple[http.client.HTTPConnection, socket.socket]) -> None:
    conn, server = pair
    wire.write(conn, "POST", "/api/x", [], b"{}", defaults=True)
    server.recv(65536)
    server.close()
    with pytest.raises(http.client.RemoteDisconnected):
        wire.read(conn, "POST")
    assert conn.sock is None
