"""``/livez`` (``bot.server.web``): alive while the process's own clock runs, whatever the database; 503 naming what
stopped otherwise, so that an orchestrator replaces the process. ``/healthz`` is the database's. A Slack request's
database deadline ends with the request."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult

from bot.devtools.signing import sign, slash_command_body
from bot.server.web import make_wsgi
from bot.slack.listeners.base import ANSWER_WITHIN
from bot.store import Store, make_engine
from bot.store.patience import from_now_on, time_left


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


def test_a_slack_request_s_database_deadline_ends_with_it() -> None:
    """The middleware sets the deadline for the rest of the request (``from_now_on``, as ``slack.app.Admission``
    does): the next thing the waitress thread serves (``/metrics`` …) must not wait for a lock no longer than that."""
    def installed(**_: Any) -> AuthorizeResult:  # no auth.test: nothing here reaches Slack
        return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_user_id="UBOT")

    app = App(signing_secret="secret", authorize=installed, process_before_response=True)
    seen: list[float | None] = []

    @app.command("/impersonate")
    def command(ack: Ack) -> None:
        from_now_on(ANSWER_WITHIN)
        seen.append(time_left())
        ack()

    wsgi = make_wsgi(app, Store(make_engine("sqlite://")), "secret")
    body = slash_command_body("help").encode()
    environ = {"PATH_INFO": "/slack/events", "REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/x-www-form-urlencoded",
               **{"HTTP_" + name.upper().replace("-", "_"): value
                  for name, value in sign("secret", body.decode()).items()}}
    answered: list[str] = []
    b"".join(wsgi(environ, lambda status, headers: answered.append(status)))
    assert answered == ["200 OK"] and seen and seen[0] is not None and 0 < seen[0] <= ANSWER_WITHIN
    assert time_left() is None
