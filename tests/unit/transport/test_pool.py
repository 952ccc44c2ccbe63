"""``bot.transport.pool``: kept connections are shared by the threads, the one used last first; the ones idle longer
than ``IDLE_SECONDS`` are closed by the next call to their host, whichever thread makes it; a fresh one is given when
asked for."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest

from bot.transport.pool import IDLE_SECONDS, Pool, key_of

KEPT = cast(http.client.HTTPResponse, SimpleNamespace(will_close=False))  # an answer that keeps its connection


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, int]]:
    listening = socket.create_server(("127.0.0.1", 0))
    listening.listen(8)
    yield listening, listening.getsockname()[1]
    listening.close()


def test_idle_connections_are_shared_and_closed_after_idling_too_long(server: tuple[socket.socket, int]) -> None:
    now = [1000.0]
    pool = Pool(clock=lambda: now[0])
    key = key_of("http", "127.0.0.1", server[1])
    first, reused = pool.take(key, 5)
    second, _ = pool.take(key, 5)  # two calls at once: two connections
    assert not reused and first is not second
    accepted = []  # the server's ends, kept open (a closed one makes the connection readable: dead)
    for conn in (first, second):
        conn.connect()
        accepted.append(server[0].accept()[0])
    pool.give_back(key, first, KEPT)
    now[0] += IDLE_SECONDS / 2
    pool.give_back(key, second, KEPT)
    taken, reused = pool.take(key, 5)  # the one used last, by whichever thread calls next
    assert taken is second and reused
    pool.give_back(key, second, KEPT)
    now[0] += IDLE_SECONDS / 2 + 1  # the first has now idled too long; the second has not
    taken, reused = pool.take(key, 5)
    assert taken is second and reused and first.sock is None  # the first closed on the way
    fresh, reused = pool.take(key, 5, fresh=True)
    assert fresh not in (first, second) and not reused
    pool.close()
    assert second.sock is None
    for end in accepted:
        end.close()
