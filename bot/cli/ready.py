"""What ``serve`` makes sure of before it touches anything (a database file, a port, a serving process): Slack accepts
the bot token (and, in Socket Mode, the app-level token), and the database answers, or its SQLite file can be made
where ``DATABASE_URL`` says. Every problem is said at once, each with its fix; when there is one, nothing is created.

The questions are asked once, without retries or log lines of their own (``bot.slack.client.probe_client``): the
first thing a person reads is what is wrong, not a library's retries.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.error import URLError

from bot.cli import check_words as m
from bot.cli.exits import database_silent
from bot.config import Settings

if TYPE_CHECKING:
    from slack_sdk.errors import SlackApiError


def problems(settings: Settings) -> list[str]:
    found = slack_problems(settings)
    database = database_problem(settings.database_url)
    return [*found, database] if database else found


def slack_problems(settings: Settings) -> list[str]:
    """Whether Slack accepts the bot token (``auth.test``) and, in Socket Mode, the app-level token
    (``apps.connections.open``, whose one-time URL is left unused)."""
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import probe_client

    try:
        probe_client(settings).auth_test()
    except SlackApiError as exc:
        return [slack_refused(exc)]
    except (URLError, OSError) as exc:  # refused, unreachable, timed out
        return [slack_silent(settings, exc)]
    if settings.slack_app_token is None:
        return []
    token = settings.slack_app_token.get()
    try:
        probe_client(settings, token).apps_connections_open(app_token=token)
    except SlackApiError as exc:
        return [f"{m.APP_TOKEN_REFUSED.format(error=exc.response.get('error'))}; {m.APP_TOKEN_REFUSED_FIX}"]
    except (URLError, OSError) as exc:
        return [slack_silent(settings, exc)]
    return []


def slack_refused(exc: SlackApiError) -> str:
    return f"{m.SLACK_REFUSED.format(error=exc.response.get('error'))}; {m.SLACK_REFUSED_FIX}"


def slack_silent(settings: Settings, exc: OSError) -> str:
    reason = getattr(exc, "reason", exc)
    return f"{m.SLACK_SILENT.format(url=settings.slack_api_url, reason=reason)}; {m.SLACK_SILENT_FIX}"


def database_problem(url: str) -> str | None:
    """Whether the database answers; a SQLite file not made yet: whether its folder exists and may be written (the
    file itself is made by the migrations, once everything else is known good)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or os.path.exists(path):
            return None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return f"{m.DATABASE_NO_FOLDER.format(folder=folder)}; {m.DATABASE_FOLDER_FIX}"
        if not os.access(folder, os.W_OK):
            return f"{m.DATABASE_FOLDER_READ_ONLY.format(folder=folder)}; {m.DATABASE_FOLDER_FIX}"
        return None
    engine = make_engine(url)
    try:
        with engine.connect():
            return None
    except SQLAlchemyError as exc:
        return database_silent(exc)
    finally:
        engine.dispose()
