"""Kept ``http.client`` connections, shared by the threads: per (scheme, host, port), the idle ones, reused from call to
call, the one used last first.

A connection is taken out for one call and given back once its answer is read, so no two threads ever use one at
once, and a process holds at most as many as it makes calls at once to a host (not one per thread that ever called:
a pool of thirty threads kept thirty). A kept connection is checked before reuse: one idle longer than
``IDLE_SECONDS``, or readable while idle (the server closed it: an idle keep-alive timing out), is closed and replaced
by a new one, so a request is never sent on a connection already known to be dead; the idle ones that have waited
longer than that are closed by the next call to their host, whichever thread makes it. ``close`` closes every open
one, in use or idle.
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
    def __init__(self, context: Callable[[], ssl.SSLContext | None] = lambda: None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``context``: the TLS context for https connections (called once, when the first is opened)."""
        self._context_of = context
        self._context: ssl.SSLContext | None = None
        self._clock = clock
        self._idle: dict[Key, list[tuple[http.client.HTTPConnection, float]]] = {}  # oldest first
        self._all: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def take(self, key: Key, timeout: float | None, *, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """An idle kept connection to ``key`` if still good (and true), else (or when ``fresh``: a call sent again after
        a kept one failed) a new one, not yet connected (and false)."""
        while not fresh and (held := self._take_idle(key)) is not None:
            if held.sock is not None and not _readable(held.sock):
                return held, True
            self.drop(held)
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
        """Keep ``conn`` for the next call to ``key``, unless the answer closes it."""
        if response.will_close:
            self.drop(conn)
            return
        with self._lock:
            self._idle.setdefault(key, []).append((conn, self._clock()))

    def drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._all.discard(conn)

    def close(self) -> None:
        with self._lock:
            held, self._all, self._idle = self._all, set(), {}
        for conn in held:
            conn.close()

    def _take_idle(self, key: Key) -> http.client.HTTPConnection | None:
        """The idle connection to ``key`` used last, if it has not waited too long; those that have are closed."""
        stale: list[http.client.HTTPConnection] = []
        found = None
        with self._lock:
            idle = self._idle.get(key, [])
            cutoff = self._clock() - IDLE_SECONDS
            while idle and idle[0][1] <= cutoff:  # the oldest first
                stale.append(idle.pop(0)[0])
            if idle:
                found = idle.pop()[0]
        for conn in stale:
            self.drop(conn)
        return found


def _readable(sock: Any) -> bool:
    """An idle kept connection with something to read has been closed by the server (or is out of step)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
