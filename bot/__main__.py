"""Command line: ``python -m bot [serve | migrate]``.

``serve`` (the default) runs the bot: HTTP mode on ``$PORT``, or Socket Mode when ``SLACK_APP_TOKEN`` is
set. ``migrate`` only brings the database schema up to date (the Procfile's ``release:`` step).
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.config import ConfigError, Settings
from bot.logs import configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Slack bot for gated Descope impersonation")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the bot (default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        from bot.migrate import migrate
        from bot.store import make_engine

        configure(os.environ.get("LOG_LEVEL", "INFO").upper(), [])
        engine = make_engine(os.environ.get("DATABASE_URL") or "sqlite:///impersonation.db")
        migrate(engine)
        print("database is up to date")
        return 0

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"impersonation-bot cannot start.\n{exc}", file=sys.stderr)
        return 2
    configure(settings.log_level, settings.secrets())

    from bot.runtime import Runtime

    Runtime(settings).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
