"""``Response``: ``http.client``'s response, its header block read without the ``email`` package's parser.

``http.client`` hands every response's header block to ``email.parser`` (a feed parser built for MIME messages: a
state machine of generators, a line at a time), which cost about a third of the CPU of a call to Slack or Descope on a
kept connection (issue 28's profile; twelve such calls a session). ``Response.begin`` is ``HTTPResponse.begin`` with
that one step replaced: the header lines are split here, each header (with its folded continuation lines) turned into
the same name and value by the same policy (``compat32``'s ``header_source_parse``, what the feed parser calls) and
stored as it would store it (``set_raw``), so ``headers`` is the ``HTTPMessage`` it always was, read the same way.
Everything else (the status line, ``100 Continue``, chunked bodies, ``Content-Length``, whether the connection closes)
is ``http.client``'s own code. A line that is no header (no colon) ends the headers, as it ends them there.
"""

from __future__ import annotations

import http.client
import re
from typing import BinaryIO

#: ``http.client``'s limits on a header line and on the number of headers.
MAX_LINE = 65536
MAX_HEADERS = 100
#: A line the feed parser reads as part of the headers (``email.feedparser.headerRE``): a name and a colon, a folded
#: line, or an envelope line (``From ``, skipped). Any other line ends them.
_HEADER_LINE = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")


def read_headers(fp: BinaryIO) -> http.client.HTTPMessage:
    """The header block at ``fp`` (up to and including the blank line) as ``parse_headers`` would answer it."""
    message = http.client.HTTPMessage()
    policy = message.policy
    lines: list[str] = []  # the header being read: its first line and its continuation lines
    count = 0
    ended = False  # a line that is no header was met: the rest of the block is not read as headers
    while True:
        raw = fp.readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        count += 1
        if count > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if raw in (b"\r\n", b"\n", b""):
            break
        line = raw.decode("iso-8859-1")
        if ended or not _HEADER_LINE.match(line):
            ended = True
            continue
        if line[0] in " \t":
            if lines:
                lines.append(line)  # a folded line: part of the header before it
            continue  # (a first line folded is no header)
        if lines:
            message.set_raw(*policy.header_source_parse(lines))
            lines = []
        if not line.startswith("From ") and line.find(":") > 0:  # no envelope line, no header without a name
            lines.append(line)
    if lines:
        message.set_raw(*policy.header_source_parse(lines))
    return message


class Response(http.client.HTTPResponse):
    """An ``HTTPResponse`` whose headers are read by ``read_headers`` (set as a connection's ``response_class``)."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:  # until a response other than 100 Continue
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            read_headers(self.fp)  # a 100's headers: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_headers(self.fp)
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True
