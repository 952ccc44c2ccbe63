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
    audit = sub.add_parser("audit", help="export the audit trail (JSON lines or CSV) to stdout")
    audit.add_argument("--since", help="ISO date/time (UTC) or a duration back from now, e.g. 24h")
    audit.add_argument("--request", help="only this request ID")
    audit.add_argument("--format", choices=["json", "csv"], default="json")
    args = parser.parse_args(argv)

    if args.command == "audit":
        from bot.audit import export, parse_since
        from bot.migrate import migrate
        from bot.store import Store, make_engine

        try:
            since = parse_since(args.since) if args.since else None
        except ValueError as exc:
            parser.error(str(exc))
        engine = make_engine(os.environ.get("DATABASE_URL") or "sqlite:///impersonation.db")
        migrate(engine)
        count = export(Store(engine), sys.stdout, since=since, fmt=args.format,
                       request_id=args.request.upper() if args.request else None)
        print(f"{count} audit entries", file=sys.stderr)
        return 0

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
