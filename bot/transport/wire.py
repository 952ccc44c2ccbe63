"""A request on a kept connection, written as ``http.client`` writes it but in one piece, and its answer read.

``HTTPConnection.request`` handles each header in a call of its own (``putheader``: encoded, matched against the
grammar, appended to a buffer) and sends the header block and the body in two writes: some thirty microseconds of
CPU per call, a tenth of a call to Slack on a kept connection (issue 28's profile; twelve such calls a session).
``write`` sends the same bytes (tested against ``http.client``'s own) in one ``sendall``:

* the request line (the method and path refused as ``http.client`` refuses them: control characters);
* with ``defaults`` (what ``request`` adds): ``Host`` as ``http.client`` words it for the connection, unless given;
  ``Accept-Encoding: identity``, unless given; ``Content-Length``, unless given (0 for a POST without a body);
* the headers given, in order, each refused as ``putheader`` refuses it (a name outside the token grammar, a value
  with a CR or LF that does not fold a line): no request or header is ever smuggled in;
* the body.

``read`` is ``getresponse`` for it: the connection's ``response_class`` begun on its socket, and the connection closed
when the answer says it will be (the response still reads its body). The connection's own state machine is never
used, so it stays ready for ``request``.
"""

from __future__ import annotations

import functools
import http.client
import re
from collections.abc import Iterable

#: ``http.client``'s own checks (``_is_legal_header_name``, ``_is_illegal_header_value``, and the characters refused in
#: a path and in a method), as it words them.
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search
_BAD_PATH = re.compile("[\x00-\x20\x7f]").search
_BAD_METHOD = re.compile("[\x00-\x1f]").search
_EXPECTING_BODY = frozenset({"PATCH", "POST", "PUT"})


def write(conn: http.client.HTTPConnection, method: str, path: str, headers: Iterable[tuple[str, str | int]],
          body: bytes | None, *, defaults: bool) -> None:
    """Send the request ``conn.request(method, path, body, dict(headers))`` would send (``defaults``), or the one
    ``putrequest(…, skip_host=True, skip_accept_encoding=True)``, ``putheader`` and ``endheaders(body)`` would send,
    connecting first if need be. Raises what those raise: ``InvalidURL`` or ``ValueError`` for what they refuse (and
    nothing is sent), ``OSError`` for a failure to connect or send."""
    if found := _BAD_PATH(path):
        raise http.client.InvalidURL(f"URL can't contain control characters. {path!r} (found at least "
                                     f"{found.group()!r})")
    if found := _BAD_METHOD(method):
        raise ValueError(f"method can't contain control characters. {method!r} (found at least {found.group()!r})")
    lines = [f"{method} {path or '/'} HTTP/1.1".encode("ascii")]
    given = [(name.encode("ascii"), str(value).encode("ascii") if isinstance(value, int) else value.encode("latin-1"))
             for name, value in headers]  # as putheader encodes them (an int: slack-sdk's multipart Content-Length)
    if defaults:
        names = {name.lower() for name, _ in given}
        if b"host" not in names:
            lines.append(b"Host: " + _host(conn.default_port, conn.host, conn.port))
        if b"accept-encoding" not in names:
            lines.append(b"Accept-Encoding: identity")
        if b"content-length" not in names and b"transfer-encoding" not in names:
            if body is not None:
                lines.append(b"Content-Length: %d" % len(body))
            elif method.upper() in _EXPECTING_BODY:
                lines.append(b"Content-Length: 0")
    for name, value in given:
        if not _LEGAL_NAME(name):
            raise ValueError(f"Invalid header name {name!r}")
        if _ILLEGAL_VALUE(value):
            raise ValueError(f"Invalid header value {value!r}")
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    if conn.sock is None:
        conn.connect()
    assert conn.sock is not None
    conn.sock.sendall(b"\r\n".join(lines) + body if body else b"\r\n".join(lines))


def read(conn: http.client.HTTPConnection, method: str) -> http.client.HTTPResponse:
    """The answer to the request ``write`` sent: its status and headers read (the body not yet)."""
    response: http.client.HTTPResponse = conn.response_class(conn.sock, method=method)
    try:
        response.begin()
    except BaseException as exc:  # as getresponse: the response closed, and the connection when it broke
        response.close()
        if isinstance(exc, ConnectionError):
            conn.close()
        raise
    if response.will_close:
        conn.close()  # as getresponse: the response keeps what it reads the body from
    return response


@functools.cache
def _host(default_port: int, host: str, port: int) -> bytes:
    """The ``Host`` value ``http.client`` sends on a connection to ``host`` and ``port`` (it brackets an
    IPv6 address, drops its zone, leaves out the default port, IDNA-encodes a name that is not ASCII): what it wrote,
    into a connection that sends nothing."""
    probe = _Probe(host, port)
    probe.default_port = default_port  # a connection's class has its own (HTTPS: 443)
    probe.request("GET", "/", headers={"Accept-Encoding": "identity"})
    return next(line[6:] for line in probe.sent.split(b"\r\n") if line.startswith(b"Host: "))


class _Probe(http.client.HTTPConnection):
    sent = b""

    def send(self, data: object) -> None:
        if isinstance(data, bytes):
            self.sent += data
