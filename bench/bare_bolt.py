"""The baseline: a bare Bolt app whose ``/impersonate`` listener only calls ``ack()``.

Default Bolt settings (``process_before_response=False``: the listener runs on Bolt's own 5-thread
pool and the request thread polls for the ack every 10 ms), served on the bot's server, waitress with 16 threads,
through Bolt's own WSGI adapter ``slack_bolt.adapter.wsgi.SlackRequestHandler`` (the bot reads the body once itself,
``bot.slack.guard.read``, and hands Bolt what it read). Run as its own process::

    PORT=… SLACK_API_URL=… SLACK_SIGNING_SECRET=… SLACK_BOT_TOKEN=… python -m bench.bare_bolt

Its ``WebClient`` points at the fake Slack, where ``auth.test`` (called when the app is built) answers.
``GET /healthz`` answers 200 so the benchmark can wait for it as it waits for the bot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress.server import create_server


def build() -> App:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.command("/impersonate")
    def on_command(ack: Ack) -> None:
        ack()

    return app


def wsgi_app(app: App) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    slack = SlackRequestHandler(app, path="/slack/events")

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        result: Iterable[bytes] = slack(environ, start_response)
        return result

    return wsgi


def main() -> None:
    # Same server and settings as the bot's (bot/server/runtime.py).
    server = create_server(wsgi_app(build()), host="127.0.0.1", port=int(os.environ["PORT"]), threads=16,
                           connection_limit=1000, backlog=1024, channel_timeout=30, ident="bare-bolt")
    server.run()


if __name__ == "__main__":
    main()
