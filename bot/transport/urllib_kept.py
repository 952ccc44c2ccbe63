"""Keep-alive HTTP for the Slack Web API client.

slack-sdk's ``WebClient`` sends each call through ``urllib.request.urlopen``: a new TCP (and, against Slack, TLS)
connection per call, and urllib's handler chain around it. That was a fifth of the bot's CPU per session (issue 13's
profile: eleven calls a session). ``KeepAlive`` keeps ``http.client`` connections, shared by the threads, per host
(``pool``), reused from call to call, and answers the way ``urlopen`` does, so slack-sdk's own retry logic works
unchanged on top (each request written in one piece, ``wire``):
a status of 400 or more raises ``HTTPError`` (what its rate-limit and server-error handlers read), a failure to
connect raises ``URLError`` (what its connection-error handler retries).

A kept connection the server has meanwhile closed (an idle keep-alive timing out) fails on first use: that call is
sent again once on a new connection, as HTTP clients do. Only then, only when nothing at all came back, and never a
call that creates something (``CREATING``: a post Slack may have taken just before the connection went). A
connection the pool sees is dead is not reused at all.
"""

from __future__ import annotations

import http.client
import io
import ssl
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from bot.transport import wire
from bot.transport.pool import Pool, key_of

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
#: Web API methods that create something each time they are called: never sent twice, even on a kept connection that
#: broke (the server may have taken the call before it went; ``bot.slack.client`` retries them only when they surely
#: never left).
CREATING = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "chat.meMessage"})


def creates(url: str) -> bool:
    """Whether the Web API call at ``url`` (or path) is one of ``CREATING``."""
    return url.rsplit("/", 1)[-1] in CREATING


class KeepAlive:
    """Kept connections: ``post`` is the exchange ``bot.slack.client`` sends a call's every attempt through, and
    ``answer`` has ``urlopen``'s contract for what the ``WebClient`` asks of it."""

    def __init__(self, timeout: float, context: ssl.SSLContext | None = None) -> None:
        self.timeout = timeout
        self._pool = Pool(lambda: context)

    def post(self, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        """POST ``body`` to ``url``: the response (read to its end) and its body, whatever its status. A failure to
        connect or send raises ``URLError``; a connection that broke after sending, what ``http.client`` raised."""
        parts = urlsplit(url)
        key = key_of(parts.scheme, parts.hostname or "", parts.port)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn, reused = self._pool.take(key, self.timeout, fresh=attempt == 2)
            try:
                try:
                    wire.write(conn, "POST", path, headers.items(), body, defaults=True)
                except OSError as exc:  # urlopen's wording of a failure to connect or send
                    raise URLError(exc) from exc
                resp = wire.read(conn, "POST")
                data = resp.read()
            except (URLError, *_STALE) as exc:
                self._pool.drop(conn)
                stale = isinstance(exc, _STALE) or isinstance(getattr(exc, "reason", None), _STALE)
                if reused and stale and attempt == 1 and not creates(parts.path):
                    continue  # a kept connection the server had closed: once more, on a new one
                raise
            except BaseException:
                self._pool.drop(conn)
                raise
            self._pool.give_back(key, conn, resp)
            return resp, data
        raise AssertionError("unreachable")


def answer(url: str, resp: http.client.HTTPResponse, data: bytes) -> dict[str, Any]:
    """A response ``post`` read, as ``urlopen`` answers it to slack-sdk: ``HTTPError`` for a status of 400 or more,
    else ``{"status", "headers", "body"}`` (the body decoded by its charset)."""
    if resp.status >= 400:
        raise HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(data))
    charset = resp.headers.get_content_charset() or "utf-8"
    return {"status": resp.status, "headers": resp.headers, "body": data.decode(charset)}
