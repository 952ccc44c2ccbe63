"""``impersonation-bot serve`` (the default): run the bot. HTTP mode on ``PORT`` (with ``WEB_CONCURRENCY`` serving
processes, ``bot.server.workers``, when above one), or Socket Mode when ``SLACK_APP_TOKEN`` is set. What keeps it
from starting (the configuration, an unreachable database, a token Slack refuses) is said in one line, exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING
from urllib.error import URLError

from sqlalchemy.exc import OperationalError

from bot.cli.exits import CANNOT, cannot_start, unreachable_database
from bot.config import ConfigError, Settings, settings_from_env

if TYPE_CHECKING:
    from bot.server.runtime import Runtime


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("serve", help="run the bot (the default)",
                        description="Run the bot: HTTP on PORT, or Socket Mode when SLACK_APP_TOKEN is set. All "
                                    "settings come from the environment (see the README's Configuration).")


def run(args: argparse.Namespace) -> int:
    from bot.server.logs import configure

    try:
        settings = settings_from_env()
    except ConfigError as exc:
        return cannot_start(exc)
    configure(settings.log_level, settings.secrets(), settings.log_format)
    if settings.processes > 1:
        from bot.server.workers import serve

        return serve(settings, lambda shard: runtime(settings, shard))
    started = runtime(settings, (0, 1))
    if isinstance(started, int):
        return started
    started.serve()
    return 0


def runtime(settings: Settings, shard: tuple[int, int]) -> Runtime | int:
    """The bot's runtime (a serving process's ``shard``), or the exit code once what stops it has been said."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.server.runtime import Runtime

    try:
        return Runtime(settings, shard)
    except OperationalError as exc:
        return unreachable_database(exc)
    except (URLError, TimeoutError, ConnectionError) as exc:  # auth.test (in Bolt's App()) got no answer
        print(f"impersonation-bot cannot start: Slack's Web API does not answer at {settings.slack_api_url} "
              f"({getattr(exc, 'reason', exc)}); check SLACK_API_URL and the network", file=sys.stderr)
        return CANNOT
    except BoltError as exc:
        # Bolt's App() checks the token with auth.test and turns Slack's refusal (invalid_auth,
        # token_revoked, account_inactive …) into a BoltError raised while handling the SlackApiError.
        refusal = exc.__context__
        if not isinstance(refusal, SlackApiError):
            raise
        print(f"impersonation-bot cannot start: Slack rejected SLACK_BOT_TOKEN (auth.test answered "
              f"{refusal.response.get('error')}); check the bot token (xoxb-…) on the app's OAuth & Permissions page",
              file=sys.stderr)
        return CANNOT
