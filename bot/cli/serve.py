"""``impersonation-bot serve`` (the default): run the bot. HTTP mode on ``PORT`` (with ``WEB_CONCURRENCY`` serving
processes, ``bot.server.workers``, when above one), or Socket Mode when ``SLACK_APP_TOKEN`` is set.

Before anything is made (a database file, a listening port, a serving process): the configuration is read whole, then
Slack's acceptance of the tokens and the database are checked (``ready``), and ``PORT`` is bound (HTTP mode). What keeps
the bot from starting is said first, one line each, exit 2; a SQLite file made by a start that then fails is removed
again."""

from __future__ import annotations

import argparse
import socket
from typing import TYPE_CHECKING
from urllib.error import URLError

from sqlalchemy.exc import OperationalError

from bot.cli import check_words as m
from bot.cli import ready
from bot.cli.exits import cannot_start, unreachable_database
from bot.config import ConfigError, Settings, settings_from_env

if TYPE_CHECKING:
    from bot.server.runtime import Runtime
    from bot.transport.board import Board


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("serve", help="run the bot (the default)",
                        description="Run the bot: HTTP on PORT, or Socket Mode when SLACK_APP_TOKEN is set. All "
                                    "settings come from the environment (see the README's Configuration).")


def run(args: argparse.Namespace) -> int:
    from bot.server.logs import configure

    try:
        settings = settings_from_env()
    except ConfigError as exc:
        return cannot_start(exc.problems)
    configure(settings.log_level, settings.secrets(), settings.log_format)
    problems = ready.problems(settings)
    listening = None
    if not settings.socket_mode:
        try:
            listening = socket.create_server(("0.0.0.0", settings.port), backlog=1024)
        except OSError as exc:
            problems.append(f"{m.PORT_TAKEN.format(port=settings.port, reason=exc.strerror or exc)}; {m.PORT_FIX}")
    if problems:
        if listening is not None:
            listening.close()
        return cannot_start(problems)
    if settings.processes > 1 and listening is not None:
        from bot.server.workers import serve
        from bot.transport.board import Board

        turns = Board.shared()  # one bot, one limit (Descope's, Slack's): a 429 one process meets holds the path in all
        return serve(settings, lambda shard: runtime(settings, shard, turns), listening)
    started = runtime(settings, (0, 1))
    if isinstance(started, int):
        return started
    started.serve(listening)
    return 0


def runtime(settings: Settings, shard: tuple[int, int], turns: Board | None = None) -> Runtime | int:
    """The bot's runtime (a serving process's ``shard``, with the turns at Descope and Slack it shares with the
    others), or the exit code once what stops it has been said."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.server.runtime import Runtime
    from bot.store.engine import undone_if_failed

    try:
        with undone_if_failed(settings.database_url):
            return Runtime(settings, shard, turns=turns)
    except OperationalError as exc:
        return unreachable_database(exc)
    except BoltError as exc:  # Bolt's own auth.test (in App()) refused, though ``ready`` was answered a moment ago
        refusal = exc.__context__
        if not isinstance(refusal, SlackApiError):
            raise
        return cannot_start([ready.slack_refused("slack.token", settings, refusal, m.SLACK_REFUSED,
                                                 m.SLACK_REFUSED_FIX).problem])
    except (URLError, OSError) as exc:  # or went unanswered
        return cannot_start([ready.slack_silent("slack.token", settings, exc).problem])
