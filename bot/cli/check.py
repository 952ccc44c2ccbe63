"""``impersonation-bot check``, the setup doctor: is everything the bot needs in place?

``run_checks()`` returns one ``Check`` (name, ok, detail, fix) per thing it looked at: the configuration (every
``ConfigError`` problem its own item), the Slack token (``auth.test``) and its granted scopes (the ``x-oauth-scopes``
header) against the app manifest's (``bot/slack/manifest.yml``), the bot's membership of the approvals channel, each ID
in ``APPROVERS``, ``REQUESTERS`` and the rules of ``POLICY_FILE`` that allow, Descope's acceptance of the management key
(a user look-up that finds nobody), the second factors the rules ask (``check_descope.check_mfa``: Descope's key set,
each method's verification), the audit search the watch on Descope needs (``check_watch``), and the database
(reachable, at the Alembic head). ``render`` prints them as a checklist.

It only reads: no message posted, no row stored, no migration run (SQLite: a missing file is not created).
Checks that need settings the configuration lacks are skipped. The wording is ``bot.cli.check_words``'.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.error import URLError

from bot.cli import check_words as m
from bot.cli import ready
from bot.cli.check_descope import check_mfa, check_watch
from bot.cli.ready import Check
from bot.config import ConfigError, Settings, database_url_from_env, is_group_id, settings_from_env
from bot.slack.manifest import MANIFEST, bot_scopes

if TYPE_CHECKING:
    from slack_sdk import WebClient


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("check", help="check the setup (Slack, Descope, the database) without changing anything",
                        description="Check that Slack, Descope and the database are ready for the bot, changing "
                                    "nothing; exits 0 when all is well, else 1 with what to fix.")


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    print(render(checks))
    return 0 if all(c.ok for c in checks) else 1


def run_checks(env: Mapping[str, str] | None = None, manifest: Path = MANIFEST) -> list[Check]:
    """Every check, on the settings of ``env`` (the environment, read by ``bot.config``, when not given)."""
    try:
        settings: Settings | None = settings_from_env(env)
        checks = [Check("config", True, m.CONFIG_OK)]
    except ConfigError as exc:
        settings = None
        checks = [Check("config", False, problem, m.CONFIG_FIX if problem in exc.unset else m.CONFIG_VALUE_FIX)
                  for problem in exc.problems]
    if settings is None:
        checks += [Check("slack", None, m.SKIPPED.format(what="Slack")),
                   Check("descope", None, m.SKIPPED.format(what="Descope"))]
        try:
            database_url = database_url_from_env(env)
        except ConfigError:
            return [*checks, Check("database", None, m.SKIPPED.format(what="The database"))]
    else:
        checks += check_slack(settings, bot_scopes(manifest.read_text()))
        key = ready.descope_key(settings)
        checks.append(key)
        if key.ok:  # what the key is for, once Descope accepts it
            checks += check_mfa(settings) + check_watch(settings)
        database_url = settings.database_url
    checks.append(check_database(database_url))
    return checks


def check_slack(settings: Settings, wanted: list[str]) -> list[Check]:
    """The bot token, then (Socket Mode) the app-level token, whatever the first answered; what needs the bot token
    (its scopes, the channel, the IDs) only once Slack accepts it, else one item saying they were not run."""
    from bot.slack.client import probe_client

    token, auth = ready.bot_token(settings)
    checks = [token]
    if settings.slack_app_token is not None:
        checks.append(ready.app_token(settings))
    if auth is None:
        return [*checks, Check("slack.rest", None, m.SLACK_REST_SKIPPED)]
    client = probe_client(settings)
    bot = str(auth.get("user") or "impersonation-bot")
    headers = {k.lower(): v for k, v in (auth.headers or {}).items()}
    granted = headers.get("x-oauth-scopes")
    if isinstance(granted, list):
        granted = ",".join(granted)
    if granted is None:
        checks.append(Check("slack.scopes", False, m.SCOPES_UNKNOWN, m.SCOPES_UNKNOWN_FIX))
    else:
        have = {s.strip() for s in str(granted).split(",") if s.strip()}
        missing = [s for s in wanted if s not in have]
        checks.append(Check("slack.scopes", True, m.SCOPES_OK.format(count=len(wanted))) if not missing else
                      Check("slack.scopes", False, m.SCOPES_MISSING.format(
                          s="s" if len(missing) > 1 else "", names=", ".join(missing)), m.SCOPES_FIX))
    checks.append(_check_channel(client, settings.approval_channel, bot))
    seen: set[str] = set()
    for setting, key, ids in _principal_lists(settings):
        for principal in ids:
            if principal not in seen:
                seen.add(principal)
                checks.append(_check_principal(client, setting, principal, f"slack.{key}.{principal}"))
    return checks


def _principal_lists(settings: Settings) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each list of Slack IDs the settings name: (as the checklist names it, as the check's name, the IDs).
    The environment's first, so an ID a rule takes from there is named by its variable; then the rules that allow
    (a rule with ``allow = false`` names nobody who acts)."""
    lists = [("APPROVERS", "approvers", settings.approvers), ("REQUESTERS", "requesters", settings.requesters),
             ("ESCALATION_APPROVERS", "escalation", settings.escalation_approvers)]
    for rule in settings.policy.rules:
        if rule.allow:
            where = f"POLICY_FILE, rule {rule.number}"
            lists += [(f"{where}, key approvers", f"policy.rule{rule.number}.approvers", rule.approvers),
                      (f"{where}, key requesters", f"policy.rule{rule.number}.requesters", rule.requesters),
                      (f"{where}, key escalate_to", f"policy.rule{rule.number}.escalate_to", rule.escalate_to)]
    return lists


def _check_channel(client: WebClient, channel: str, bot: str) -> Check:
    from slack_sdk.errors import SlackApiError

    try:
        info = client.conversations_info(channel=channel)["channel"]
    except (URLError, OSError) as exc:
        return Check("slack.channel", False, m.CHANNEL_UNANSWERED.format(channel=channel, reason=_reason(exc)),
                     m.SLACK_SILENT_FIX)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error == "missing_scope":
            needed = str(exc.response.get("needed") or "channels:read")
            return Check("slack.channel", False, m.CHANNEL_UNKNOWN.format(channel=channel, error=error),
                         m.CHANNEL_SCOPE_FIX.format(needed=needed))
        return Check("slack.channel", False, m.CHANNEL_UNKNOWN.format(channel=channel, error=error),
                     m.CHANNEL_UNKNOWN_FIX.format(bot=bot))
    if not info.get("is_member"):
        return Check("slack.channel", False, m.CHANNEL_OUT.format(channel=channel), m.CHANNEL_OUT_FIX.format(bot=bot))
    return Check("slack.channel", True, m.CHANNEL_OK.format(channel=channel, name=info.get("name", "?")))


def _check_principal(client: WebClient, setting: str, principal: str, name: str) -> Check:
    fmt = {"setting": setting, "id": principal}
    try:
        return _resolve(client, principal, name, fmt)
    except (URLError, OSError) as exc:
        return Check(name, False, m.PRINCIPAL_UNANSWERED.format(**fmt, reason=_reason(exc)), m.SLACK_SILENT_FIX)


def _reason(exc: OSError) -> object:
    return getattr(exc, "reason", None) or exc


def _resolve(client: WebClient, principal: str, name: str, fmt: dict[str, str]) -> Check:
    from slack_sdk.errors import SlackApiError

    if is_group_id(principal):
        try:
            members = client.usergroups_users_list(usergroup=principal).get("users") or []
        except SlackApiError as exc:
            return Check(name, False, m.GROUP_UNKNOWN.format(**fmt, error=exc.response.get("error")),
                         m.GROUP_UNKNOWN_FIX.format(**fmt))
        if not members:
            return Check(name, False, m.GROUP_EMPTY.format(**fmt), m.GROUP_EMPTY_FIX.format(**fmt))
        return Check(name, True, m.GROUP_OK.format(**fmt, count=len(members), s="" if len(members) == 1 else "s"))
    try:
        user = client.users_info(user=principal)["user"]
    except SlackApiError as exc:
        return Check(name, False, m.USER_UNKNOWN.format(**fmt, error=exc.response.get("error")),
                     m.USER_UNKNOWN_FIX.format(**fmt))
    if user.get("deleted"):
        return Check(name, False, m.USER_GONE.format(**fmt), m.USER_GONE_FIX.format(**fmt))
    return Check(name, True, m.USER_OK.format(**fmt, name=f"@{user.get('name', '?')}"))


def check_database(url: str) -> Check:
    """Connects and compares the Alembic revision with the head, without migrating (nor creating a SQLite file)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import make_engine
    from bot.store.migrate import MIGRATIONS

    parsed = make_url(url)
    reached = ready.database(url, first_start=False)
    if not reached.ok or reached.detail != m.DATABASE_REACHABLE:  # unreachable, or a SQLite file not made yet
        return reached
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    # SQLite without make_engine's connect hook, which would switch the file to WAL: this check only reads.
    engine = create_engine(url) if parsed.get_backend_name() == "sqlite" else make_engine(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check("database", False, m.DATABASE_SILENT.format(reason=reason), m.DATABASE_SILENT_FIX)
    finally:
        engine.dispose()
    if current != heads:
        return Check("database", False, m.DATABASE_BEHIND.format(
            current=", ".join(sorted(current)) or "no revision", head=", ".join(sorted(heads))), m.DATABASE_FIX)
    return Check("database", True, m.DATABASE_OK.format(revision=", ".join(sorted(heads))))


def render(checks: list[Check]) -> str:
    """The checklist: one line per check, ``✓``/``✗``/``·``, a failure followed by `` — <fix>``; then a summary."""
    lines = []
    for check in checks:
        mark = m.SKIP if check.ok is None else m.PASS if check.ok else m.FAIL
        fix = f" — {check.fix}" if check.fix and not check.ok else ""
        lines.append(f"{mark} {check.detail}{fix}")
    failed = sum(1 for c in checks if c.ok is False)
    skipped = sum(1 for c in checks if c.ok is None)
    ran = len(checks) - skipped
    summary = m.SUMMARY_OK.format(count=ran) if not failed else m.SUMMARY_FAIL.format(failed=failed, count=ran)
    if skipped:
        summary += m.SUMMARY_SKIPPED.format(skipped=skipped)
    return "\n".join([*lines, "", summary])

