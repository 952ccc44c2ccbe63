"""``python -m bot`` refusing to start: one plain message naming what is wrong, never a traceback.

The bot runs as a child process. Settings problems (malformed URLs among them) come out together, as
one list; a bot token that Slack refuses at start (``auth.test`` at the fake Slack) comes out as one
line naming ``SLACK_BOT_TOKEN``; a Slack or a database that does not answer is named the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

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
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"impersonation-bot cannot start: Slack rejected SLACK_BOT_TOKEN (auth.test answered {error}); "
                     "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"], result.stderr
    assert token not in result.stderr
    (call,) = slack.calls_of("auth.test")  # asked once: no retry, and Bolt does not ask again
    assert call.params.get("_failed")
    assert not (tmp_path / "bot.db").exists()  # nothing made before the configuration is known good


def test_a_slack_that_does_not_answer_stops_the_bot_with_one_line(fakes: tuple[FakeSlack, FakeDescope],
                                                                   tmp_path: Path) -> None:
    slack, descope = fakes
    closed = free_port()  # nothing listens there
    result = run_bot(bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}",
                             SLACK_API_URL=f"http://127.0.0.1:{closed}/api/"))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]  # no retries logged ahead of it
    assert line.startswith(f"impersonation-bot cannot start: Slack's Web API does not answer at "
                           f"http://127.0.0.1:{closed}/api/ (")
    assert line.endswith("; check SLACK_API_URL and the network")
    assert not (tmp_path / "bot.db").exists()


def test_every_problem_is_said_at_once_and_nothing_is_made(fakes: tuple[FakeSlack, FakeDescope],
                                                           tmp_path: Path) -> None:
    slack, descope = fakes
    nowhere = tmp_path / "missing" / "bot.db"
    taken = socket.create_server(("0.0.0.0", 0))
    port = taken.getsockname()[1]
    try:
        result = run_bot(bot_env(slack, descope, f"sqlite:///{nowhere}", SLACK_BOT_TOKEN="xoxb-wrong", PORT=str(port),
                                 WEB_CONCURRENCY="2"))
    finally:
        taken.close()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and lines[0] == "impersonation-bot cannot start:", result.stderr
    assert lines[1].startswith("  - Slack rejected SLACK_BOT_TOKEN (auth.test answered invalid_auth)"), result.stderr
    assert lines[2] == (f"  - The folder {nowhere.parent} for the SQLite database does not exist; create it, or point "
                        "DATABASE_URL somewhere the bot may write"), result.stderr
    assert lines[3].startswith(f"  - Port {port} cannot be listened on ("), result.stderr
    assert lines[3].endswith("; stop what uses it, or set PORT to a free port"), result.stderr
    assert not nowhere.parent.exists()


def test_a_socket_mode_token_slack_rejects_is_said_before_anything_starts(
        fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path) -> None:
    slack, descope = fakes
    result = run_bot(bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}", SLACK_APP_TOKEN="xapp-1-revoked"))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("impersonation-bot cannot start: Slack rejected SLACK_APP_TOKEN (apps.connections.open "
                           "answered invalid_auth); turn Socket Mode on")
    assert "xapp-1-revoked" not in result.stderr
    assert not (tmp_path / "bot.db").exists()


def test_audit_on_a_missing_database_says_so_and_makes_none(tmp_path: Path) -> None:
    path = tmp_path / "never.db"
    result = run_bot({"DATABASE_URL": f"sqlite:///{path}"}, "audit")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"impersonation-bot cannot start: The SQLite database file {path} does not exist; "
                                     "check DATABASE_URL (the bot makes the file when it first starts)")
    assert not path.exists()


@pytest.mark.parametrize("command", [[], ["migrate"], ["audit"]])
def test_a_database_that_does_not_answer_is_named_without_its_password(tmp_path: Path,
                                                                      command: list[str]) -> None:
    url = f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:{free_port()}/bot"
    result = run_bot(valid_env(tmp_path, DATABASE_URL=url), *command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "The database does not answer (" in result.stderr
    assert "check DATABASE_URL and that the database server is up" in result.stderr
    assert DB_PASSWORD not in result.stderr


def test_a_management_key_descope_refuses_stops_the_bot_before_anything_is_made(
        fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path) -> None:
    slack, descope = fakes
    result = run_bot(bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}", DESCOPE_MANAGEMENT_KEY="K-rotated"))
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("impersonation-bot cannot start: Descope refused the management key (401 E011003); "
                           "check DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY")
    assert "K-rotated" not in result.stderr
    assert not (tmp_path / "bot.db").exists()


def test_audit_reads_an_unmigrated_database_without_migrating_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    result = run_bot({"DATABASE_URL": f"sqlite:///{path}"}, "audit")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("impersonation-bot cannot start: The database is not at the bot's schema")
    assert result.stderr.strip().endswith("run: impersonation-bot migrate")
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert inspect(engine).get_table_names() == []  # nothing was made in it
    finally:
        engine.dispose()


def test_migrate_names_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bot.db"
    result = run_bot({"DATABASE_URL": f"sqlite:///{path}"}, "migrate")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"impersonation-bot cannot start: The folder {path.parent} for the SQLite "
                                     "database does not exist; create it, or point DATABASE_URL somewhere the bot "
                                     "may write")


def test_ctrl_c_while_a_check_waits_on_slack_ends_it_without_a_traceback(
        fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path) -> None:
    slack, descope = fakes
    slack.set_latency("auth.test", 8.0)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DESCOPE_", "DATABASE_", "PORT"))}
    env = {**inherited, **bot_env(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}")}
    # As from a terminal: SIGINT not ignored (a parallel test worker ignores it, and a child would inherit that).
    proc = subprocess.Popen([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    slack.wait_for_call("auth.test", timeout=20)  # waiting on Slack's answer now
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
