"""HTTP mode: a small WSGI app served by waitress (a multi-threaded production server).

Routes: ``POST /slack/events`` (commands, interactivity and events: the body read once by ``slack.guard.read``, which
turns away one Bolt could not parse, and dispatched to Bolt as read, answered through Bolt's WSGI response) and
``GET /healthz`` (answers 200 when the database answers within a second, and on SQLite can be written: readiness),
``GET /livez`` (answers 200 while the process's own clock runs, the alarm, the lease keeper and the periodic jobs,
whatever the database: liveness, which a database outage must not fail, since the bot outlives one) and
``GET /metrics`` (Prometheus, ``bot.server.metrics``).
Everything else is a 404.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_sdk.signature import SignatureVerifier

from bot.server.metrics import Metrics
from bot.slack.guard import ReadRequest, read
from bot.slack.listeners.base import ANSWER_WITHIN
from bot.store import Store
from bot.store.patience import waiting_at_most

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
EVENTS_PATH = "/slack/events"
HEALTH_WITHIN = 1.0  # seconds a health check's database work may wait for a lock (bot.store.patience)


WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi(app: App, store: Store, signing_secret: str, metrics: Metrics | None = None,
              stopped: Callable[[], str | None] = lambda: None) -> WSGIApp:
    """``stopped``: what of the process's own clock no longer runs (``None``: all of it), for ``/livez``."""
    verifier = SignatureVerifier(signing_secret)

    def respond(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == EVENTS_PATH:
            if method != "POST":
                return respond(start_response, "405 Method Not Allowed", {"error": "POST only"})
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            text = raw.decode("utf-8", "replace")  # not UTF-8: not what Slack signed, so refused as unsigned
            reading = read(text, environ.get("CONTENT_TYPE"))
            if reading.problem is not None:  # Bolt could not even parse it: answer here, signed or not
                if not verifier.is_valid(raw, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
                                         environ.get("HTTP_X_SLACK_SIGNATURE", "")):
                    return respond(start_response, "401 Unauthorized", {"error": "invalid request"})
                log.warning("refused a malformed Slack request: %s", reading.problem)
                return respond(start_response, "400 Bad Request",
                               {"error": "malformed request", "why": reading.problem})
            # Its database work waits no longer than Slack does for the answer (``slack.app.Admission`` sets it), and
            # that deadline ends with the request: the next one this thread serves (``/metrics`` …) starts without it.
            with waiting_at_most(ANSWER_WITHIN):
                answer = app.dispatch(ReadRequest(raw_body=text, body=reading.body,
                                                  query=environ.get("QUERY_STRING", ""),
                                                  headers=WsgiHttpRequest(environ).get_headers(),
                                                  checked=reading.checked))
            response = WsgiHttpResponse(status=answer.status, headers=answer.headers, body=answer.body)
            start_response(response.status, response.get_headers())
            return response.get_body()
        if path == "/healthz" and method in ("GET", "HEAD"):
            try:
                with waiting_at_most(HEALTH_WITHIN):
                    store.ping()
            except Exception as exc:
                log.warning("health check: database unreachable (%s)", type(exc).__name__)
                return respond(start_response, "503 Service Unavailable", {"status": "database unreachable"})
            return respond(start_response, "200 OK", {"status": "ok"})
        if path == "/livez" and method in ("GET", "HEAD"):
            dead = stopped()
            if dead is not None:
                log.error("liveness: %s no longer runs", dead)
                return respond(start_response, "503 Service Unavailable", {"status": f"{dead} stopped"})
            return respond(start_response, "200 OK", {"status": "alive"})
        if path == "/metrics" and method in ("GET", "HEAD") and metrics is not None:
            body, content_type = metrics.render()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body] if method == "GET" else [b""]
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return wsgi
