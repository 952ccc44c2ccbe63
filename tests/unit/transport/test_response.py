"""``bot.transport.response``: a header block reads as ``http.client.parse_headers`` reads it (the email package's
feed parser), whatever its shape, and a response over it reads as ``http.client``'s own does."""

from __future__ import annotations

import http.client
import io

import pytest

from bot.transport.pool import Pool, key_of
from bot.transport.response import MAX_HEADERS, Response, read_headers

BLOCKS = [
    b"Content-Type: application/json; charset=utf-8\r\nContent-Length: 11\r\n\r\n",
    b"X-Slack-Req-Id: abc\r\nRetry-After: 30\r\nretry-after: 31\r\n\r\n",  # twice, in two cases: both kept, in order
    b"Folded: first\r\n  second\r\n\tthird\r\nNext: 1\r\n\r\n",  # obsolete line folding
    b"  folded-first: no header\r\nA: 1\r\n\r\n",  # a first line folded
    b": no name\r\nB: 2\r\n\r\n",
    b"C: 3\r\nno colon here\r\nD: 4\r\n\r\n",  # a line that is no header ends the headers
    b"Bad Name: 5\r\nE: 6\r\n\r\n",
    b"From someone\r\nF: 7\r\n\r\n",  # an envelope line
    b"G:\r\nH:   spaced   \r\nI:tight\r\n\r\n",
    b"J: caf\xe9 \xff\r\n\r\n",  # Latin-1 bytes
    b"K: 1\nL: 2\n\n",  # bare line feeds
    b"\r\n",
    b"",  # the connection closed
]


@pytest.mark.parametrize("block", BLOCKS)
def test_a_header_block_reads_as_http_client_reads_it(block: bytes) -> None:
    ours, theirs = read_headers(io.BytesIO(block)), http.client.parse_headers(io.BytesIO(block))
    assert ours.items() == theirs.items()
    assert ours.get_content_charset() == theirs.get_content_charset()
    assert [ours.get(name) for name in ("content-type", "RETRY-AFTER", "h")] == \
        [theirs.get(name) for name in ("content-type", "RETRY-AFTER", "h")]


def test_too_many_headers_or_too_long_a_line_are_refused_as_there() -> None:
    many = b"".join(b"H%d: x\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException):
        read_headers(io.BytesIO(many))
    with pytest.raises(http.client.LineTooLong):
        read_headers(io.BytesIO(b"Long: " + b"x" * 70000 + b"\r\n\r\n"))


class _Sock:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nConnection: close\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil closed",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
])
def test_a_response_reads_as_http_client_reads_it(raw: bytes) -> None:
    ours = Response(_Sock(raw), method="GET")  # type: ignore[arg-type]
    theirs = http.client.HTTPResponse(_Sock(raw), method="GET")  # type: ignore[arg-type]
    ours.begin()
    theirs.begin()
    assert (ours.status, ours.reason, ours.version, ours.getheaders(), ours.will_close, ours.length) == \
        (theirs.status, theirs.reason, theirs.version, theirs.getheaders(), theirs.will_close, theirs.length)
    assert ours.read() == theirs.read()


def test_the_kept_connections_read_their_responses_this_way() -> None:
    pool = Pool()
    for scheme in ("http", "https"):
        conn, _ = pool.take(key_of(scheme, "127.0.0.1", 8443), 5)  # not connected yet
        assert conn.response_class is Response
    pool.close()
