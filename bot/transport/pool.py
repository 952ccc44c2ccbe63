"""Kept ``http.client`` connections: one per thread and (scheme, host, port), reused from call to call.

A kept connection is checked before reuse: one idle longer than ``IDLE_SECONDS``, or readable while idle (the server
closed it: an idle keep-alive timing out), is closed and replaced by a new one, so a request is never sent on a
connection already known to be dead. ``close`` closes every open one, whichever thread holds it.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.transport.response import Response

#: A connection idle longer than this is closed rather than reused (servers drop idle ones after some seconds).
IDLE_SECONDS = 30.0

Key = tuple[str, str, int]  # scheme, host, port


def key_of(scheme: str, host: str, port: int | None) -> Key:
    return scheme, host, port or (443 if scheme == "https" else 80)


class Pool:
    def __init__(self, context: Callable[[], ssl.SSLContext | None] = lambda: None) -> None:
        """``context``: the TLS context for https connections (called once, when the first is opened)."""
        self._context_of = context
        self._context: ssl.SSLContext | None = None
        self._local = threading.local()
        self._all: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def take(self, key: Key, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept connection to ``key`` if still good (and true), else a new one, not yet connected (and
        false)."""
        held = self._kept().pop(key, None)
        if held is not None:
            conn, since = held
            if time.monotonic() - since < IDLE_SECONDS and conn.sock is not None and not _readable(conn.sock):
                return conn, True
            self.drop(conn)
        scheme, host, port = key
        if scheme == "https":
            if self._context is None:
                self._context = self._context_of()
            new: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                                          context=self._context)
        else:
            new = http.client.HTTPConnection(host, port, timeout=timeout)
        new.response_class = Response  # headers read without the email parser
        with self._lock:
            self._all.add(new)
        return new, False

    def give_back(self, key: Key, conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        """Keep ``conn`` for this thread's next call to ``key``, unless the answer closes it."""
        if response.will_close:
            self.drop(conn)
        else:
            self._kept()[key] = (conn, time.monotonic())

    def drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._all.discard(conn)

    def close(self) -> None:
        with self._lock:
            held, self._all = self._all, set()
        for conn in held:
            conn.close()

    def _kept(self) -> dict[Key, tuple[http.client.HTTPConnection, float]]:
        kept: dict[Key, tuple[http.client.HTTPConnection, float]] | None = getattr(self._local, "kept", None)
        if kept is None:
            kept = self._local.kept = {}
        return kept


def _readable(sock: Any) -> bool:
    """An idle kept connection with something to read has been closed by the server (or is out of step)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
