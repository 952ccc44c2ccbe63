"""``/livez`` (``bot.server.web``): alive while the process's own clock runs, whatever the database; 503 naming what
stopped otherwise, so that an orchestrator replaces the process. ``/healthz`` is the database's."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from slack_bolt import App

from bot.server.web import make_wsgi
from bot.store import Store, make_engine


def _get(wsgi: Any, path: str) -> tuple[str, dict[str, Any]]:
    answered: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answered.append(status)

    body: Iterable[bytes] = wsgi({"PATH_INFO": path, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()},
                                 start_response)
    return answered[0], json.loads(b"".join(body))


def test_livez_says_alive_while_the_clock_runs_and_names_what_stopped_otherwise() -> None:
    app = App(token="xoxb-test", signing_secret="secret", token_verification_enabled=False)
    store = Store(make_engine("sqlite://"))
    stopped: list[str | None] = [None]
    wsgi = make_wsgi(app, store, "secret", stopped=lambda: stopped[0])
    assert _get(wsgi, "/livez") == ("200 OK", {"status": "alive"})
    stopped[0] = "the alarm"
    assert _get(wsgi, "/livez") == ("503 Service Unavailable", {"status": "the alarm stopped"})
