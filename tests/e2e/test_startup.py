"""``python -m bot`` refusing to start: one plain message naming what is wrong, never a traceback.

The bot runs as a child process. Settings problems (malformed URLs among them) come out together, as
one list; a bot token that Slack refuses at start (``auth.test`` at the fake Slack) comes out as one
line naming ``SLACK_BOT_TOKEN``; a Slack or a database that does not answer is named the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.harness import ROOT, bot_env, free_port

DB_PASSWORD = "db-pass-5e71"


def run_bot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot *args`` with exactly the given Slack/Descope/database settings."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SLACK_", "DESCOPE_", "DATABASE_", "PORT"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**inherited, **env},
                          capture_output=True, text=True, timeout=60)


def valid_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_APPROVAL_CHANNEL": "C0APPROVE",
        "APPROVERS": "U0GOOD",
        "DESCOPE_PROJECT_ID": "P2x",
        "DESCOPE_MANAGEMENT_KEY": "K2x",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached: the settings are refused first
    }
    env.update(overrides)
    return env


@pytest.mark.parametrize(("base_uri", "database_url"), [
    ("ftp://x", "nonsense"),
    ("not a url", f"mysql://bot:{DB_PASSWORD}@db.internal/bot"),
    ("https://", f"oracle://bot:{DB_PASSWORD}@db.internal/bot"),
])
def test_malformed_urls_are_reported_with_the_other_problems(tmp_path: Path, base_uri: str,
                                                             database_url: str) -> None:
    result = run_bot(valid_env(tmp_path, DESCOPE_BASE_URI=base_uri, DATABASE_URL=database_url,
                               SLACK_APPROVAL_CHANNEL="#approvals"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, result.stderr
    assert any(p.startswith("  - DESCOPE_BASE_URI") and f"`{base_uri}`" in p for p in problems), problems
    assert any(p.startswith("  - DATABASE_URL") for p in problems), problems
    assert any(p.startswith("  - SLACK_APPROVAL_CHANNEL") for p in problems), problems
    assert DB_PASSWORD not in result.stderr
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.parametrize("command", ["migrate", "audit"])
def test_migrate_and_audit_name_a_malformed_database_url(tmp_path: Path, command: str) -> None:
    result = run_bot({"DATABASE_URL": f"nonsense:{DB_PASSWORD}"}, command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "DATABASE_URL is not a URL SQLAlchemy can read" in result.stderr
    assert DB_PASSWORD not in result.stderr


@pytest.mark.parametrize(("token", "fault", "error"), [
    ("xoxb-revoked-token-4417", None, "invalid_auth"),  # the fake Slack knows only xoxb-test-token
    ("xoxb-test-token", "account_inactive", "account_inactive"),
])
def test_a_bot_token_slack_rejects_stops_the_bot_with_one_line(
    fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path, token: str, fault: str | None, error: str
) -> None:
    slack, descope = fakes
    if fault:
        slack.fail_next("auth.test", status=200, error=fault)
    result = run_bot(bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}", SLACK_BOT_TOKEN=token))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    (message,) = [line for line in lines if "SLACK_BOT_TOKEN" in line]
    assert message == lines[-1], result.stderr
    assert message.startswith("impersonation-bot cannot start") and error in message
    assert token not in result.stderr
    (call,) = slack.calls_of("auth.test")
    assert call.params.get("_failed")


def test_a_slack_that_does_not_answer_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    result = run_bot(valid_env(tmp_path, SLACK_API_URL=f"http://127.0.0.1:{closed}/api/"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("impersonation-bot cannot start") and "SLACK_API_URL" in last
    assert f"127.0.0.1:{closed}" in last


@pytest.mark.parametrize("command", [[], ["migrate"], ["audit"]])
def test_a_database_that_does_not_answer_is_named_without_its_password(tmp_path: Path,
                                                                      command: list[str]) -> None:
    url = f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:{free_port()}/bot"
    result = run_bot(valid_env(tmp_path, DATABASE_URL=url), *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "- DATABASE_URL: the database does not answer" in result.stderr
    assert DB_PASSWORD not in result.stderr
