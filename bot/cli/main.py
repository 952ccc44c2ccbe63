"""Command line: ``python -m bot [serve | migrate | check | policy | audit | demo]``.

``serve`` (the default) runs the bot: HTTP mode on ``$PORT`` (with ``WEB_CONCURRENCY`` serving processes,
``bot.server.workers``, when above one), or Socket Mode when ``SLACK_APP_TOKEN`` is set. ``check`` is the setup doctor
(``bot.cli.check``): reads, changes nothing, exits 1 if anything is amiss. ``migrate`` only brings the database schema
up to date (the Procfile's ``release:`` step). ``policy <login-id> [--tenant <id>]`` says which rule of
``POLICY_FILE`` decides such a request and what it allows (``bot.cli.policy``; it reads only the settings the
policy needs). ``demo`` plays the whole flow against the shipped stand-ins (``bot.cli.demo``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING
from urllib.error import URLError

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.config import (
    ConfigError,
    Settings,
    database_url_from_env,
    descope_from_env,
    policy_from_env,
    retention_from_env,
)
from bot.server.logs import configure

if TYPE_CHECKING:
    from bot.server.runtime import Runtime


def _cannot_start(problem: object) -> int:
    print(f"impersonation-bot cannot start.\n{problem}", file=sys.stderr)
    return 2


def _unreachable_database(exc: Exception) -> int:
    """The database named by DATABASE_URL did not answer: one line, never the URL (it may hold a password)."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return _cannot_start(f"- DATABASE_URL: the database does not answer ({reason})")


def _migrated_engine() -> Engine | int:
    """The engine of DATABASE_URL with the schema brought up to date, or the exit code once the problem
    has been said (for ``migrate`` and ``audit``, which need no other setting)."""
    from bot.store import make_engine
    from bot.store.migrate import migrate

    try:
        database_url = database_url_from_env(os.environ)
    except ConfigError as exc:
        return _cannot_start(exc)
    engine = make_engine(database_url)
    try:
        migrate(engine)
    except OperationalError as exc:
        return _unreachable_database(exc)
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Slack bot for gated Descope impersonation")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the bot (default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser("check", help="check the setup (Slack, Descope, database) without changing anything")
    sub.add_parser("demo", help="play the whole flow against local stand-ins of Slack and Descope (no accounts)")
    policy = sub.add_parser("policy", help="say which rule of POLICY_FILE decides a request, and what it allows")
    policy.add_argument("login_id", metavar="login-id", help="the login ID to impersonate, e.g. jane@acme.com")
    policy.add_argument("--tenant", help="the tenant ID the request names (left out: a request without a tenant)")
    audit = sub.add_parser("audit", help="export the audit trail (JSON lines or CSV) to stdout")
    audit.add_argument("--since", help="ISO date/time (UTC) or a duration back from now, e.g. 24h")
    audit.add_argument("--request", help="only this request ID")
    audit.add_argument("--format", choices=["json", "csv"], default="json")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from bot.cli.demo import run

        return run()

    if args.command == "policy":
        from bot.cli.policy import look_up, report

        login_id, tenant = args.login_id.strip(), (args.tenant or "").strip() or None
        try:
            rules, environment = policy_from_env(os.environ)
            descope = descope_from_env(os.environ) if tenant is None and rules.names_tenants else None
        except ConfigError as exc:
            return _cannot_start(exc)
        target, why = look_up(descope, login_id) if tenant is None and rules.names_tenants else (None, "")
        print(report(login_id, tenant, rules, environment, target, why))
        return 0

    if args.command == "check":
        from bot.cli.check import render, run_checks

        checks = run_checks(os.environ)
        print(render(checks))
        return 0 if all(c.ok for c in checks) else 1

    if args.command == "audit":
        from bot.cli.audit import export, parse_since, retention_line
        from bot.store import Store

        try:
            since = parse_since(args.since) if args.since else None
        except ValueError as exc:
            parser.error(str(exc))
        try:
            retention = retention_from_env(os.environ)
        except ConfigError as exc:
            return _cannot_start(exc)
        engine = _migrated_engine()
        if isinstance(engine, int):
            return engine
        print(retention_line(retention), file=sys.stderr)
        count = export(Store(engine), sys.stdout, since=since, fmt=args.format,
                       request_id=args.request.upper() if args.request else None)
        print(f"{count} audit entries", file=sys.stderr)
        return 0

    if args.command == "migrate":
        configure(os.environ.get("LOG_LEVEL", "INFO").upper(), [],
                  "json" if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "text")
        engine = _migrated_engine()
        if isinstance(engine, int):
            return engine
        print("database is up to date")
        return 0

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        return _cannot_start(exc)
    configure(settings.log_level, settings.secrets(), settings.log_format)

    if settings.processes > 1:
        from bot.server.workers import serve

        return serve(settings, lambda shard: _runtime(settings, shard))
    runtime = _runtime(settings, (0, 1))
    if isinstance(runtime, int):
        return runtime
    runtime.serve()
    return 0


def _runtime(settings: Settings, shard: tuple[int, int]) -> Runtime | int:
    """The bot's runtime (a serving process's ``shard``), or the exit code once what stops it has been said."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.server.runtime import Runtime

    try:
        return Runtime(settings, shard)
    except OperationalError as exc:
        return _unreachable_database(exc)
    except (URLError, TimeoutError, ConnectionError) as exc:  # auth.test (in Bolt's App()) got no answer
        print(f"impersonation-bot cannot start: Slack's Web API does not answer at {settings.slack_api_url} "
              f"({getattr(exc, 'reason', exc)}); check SLACK_API_URL and the network", file=sys.stderr)
        return 2
    except BoltError as exc:
        # Bolt's App() checks the token with auth.test and turns Slack's refusal (invalid_auth,
        # token_revoked, account_inactive …) into a BoltError raised while handling the SlackApiError.
        refusal = exc.__context__
        if not isinstance(refusal, SlackApiError):
            raise
        print(f"impersonation-bot cannot start: Slack rejected SLACK_BOT_TOKEN (auth.test answered "
              f"{refusal.response.get('error')}); check the bot token (xoxb-…) on the app's OAuth & Permissions page",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
