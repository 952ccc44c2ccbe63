"""``python -m bot check`` against the fakes: every line ✓ and exit 0 on a good setup; for each kind of fault,
exit 1 and the line that names it with its fix; and never a change anywhere (no chat.* or views.* call, no
impersonate/stop/logout at Descope, the database schema as it was)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.descope_api import (
    AUDIT_SEARCH,
    IMPERSONATE,
    KEYS,
    LOGOUT,
    OTP_SIGNIN_EMAIL,
    STOP_IMPERSONATION,
    TOTP_VERIFY,
)
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, APPROVER_GROUP, ROOT, bot_env, free_port
from bot.devtools.socket_mode import FakeSocketMode
from bot.store import make_engine
from bot.store.migrate import MIGRATIONS, migrate

Fakes = tuple[FakeSlack, FakeDescope]


def _migrated(url: str) -> str:
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return _migrated(f"sqlite:///{tmp_path / 'bot.db'}")


def _tables(url: str) -> set[str]:
    engine = create_engine(url) if url.startswith("sqlite") else make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def run_check(fakes: Fakes, database_url: str, *, drop: tuple[str, ...] = (), **overrides: str) -> tuple[int, str]:
    slack, descope = fakes
    env = {**os.environ, **bot_env(slack, descope, database_url, **overrides)}
    for name in (*drop, *(() if "SLACK_APP_TOKEN" in overrides else ("SLACK_APP_TOKEN",))):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.stderr == "" or "Traceback" not in done.stderr, done.stderr
    changing = [c.method for c in slack.calls if c.method.startswith(("chat.", "views.", "conversations.open"))]
    assert changing == [], changing
    assert [c.path for c in descope.calls if c.path in (IMPERSONATE, STOP_IMPERSONATION, LOGOUT)] == []
    return done.returncode, done.stdout


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("✗")]


def test_all_pass(fakes: Fakes, database_url: str) -> None:
    code, out = run_check(fakes, _migrated(database_url))
    lines = [line for line in out.splitlines() if line.strip()]
    checks, summary = lines[:-1], lines[-1]
    assert code == 0, out
    assert checks and all(line.startswith("✓ ") for line in checks), out
    assert summary == f"All {len(checks)} checks passed."
    assert "✓ Slack bot token accepted (team T0001, bot UBOT)" in checks
    assert f"✓ Bot is a member of the approvals channel {APPROVAL_CHANNEL} (#approvals)" in checks
    assert f"✓ APPROVERS: user group {APPROVER_GROUP} has 1 member" in checks
    assert any(line.startswith("✓ Database reachable and migrated") for line in checks)
    assert "xoxb-test-token" not in out and "K-test" not in out


def test_config_missing_and_invalid(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, drop=("SLACK_BOT_TOKEN",), SLACK_APPROVAL_CHANNEL="approvals")
    assert code == 1
    failed = failed_lines(out)
    assert any("SLACK_BOT_TOKEN is not set" in line and "set it in the environment" in line for line in failed), out
    (malformed,) = [line for line in failed if "SLACK_APPROVAL_CHANNEL must be a channel ID" in line]
    assert "set it" not in malformed and "write it as the line says" in malformed, out  # it is set: wrongly
    assert "· Slack not checked: the configuration must be fixed first" in out
    assert "· Descope not checked" in out
    assert any(line.startswith("✓ Database reachable and migrated") for line in out.splitlines()), out
    assert fakes[0].calls == [] and fakes[1].calls == []


def test_token_rejected(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, SLACK_BOT_TOKEN="xoxb-wrong")
    assert code == 1
    assert failed_lines(out) == ["✗ Slack rejected SLACK_BOT_TOKEN (auth.test answered invalid_auth) — copy the Bot "
                                 "User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"], out
    assert "xoxb-wrong" not in out
    # What needs the token is not run, and is said so; the summary counts it apart from what failed.
    assert "· The bot token's scopes, the approvals channel and the Slack IDs not checked" in out, out
    assert out.rstrip().endswith("checks failed. 1 not run until what they need is fixed."), out


def test_a_gateway_error_page_is_an_outage_not_a_refused_token(fakes: Fakes, sqlite_url: str) -> None:
    fakes[0].fail_next("auth.test", status=502)
    code, out = run_check(fakes, sqlite_url)
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith(f"✗ Slack's Web API at {fakes[0].url}"), out
    assert "answered HTTP 502" in line and "SLACK_BOT_TOKEN" not in line, out


@pytest.mark.parametrize(("token", "ok"), [("xapp-1-test", True), ("xapp-1-revoked", False)])
def test_socket_mode_app_token(fakes: Fakes, sqlite_url: str, token: str, ok: bool) -> None:
    with FakeSocketMode() as sm:
        fakes[0].attach_socket_mode(sm)
        code, out = run_check(fakes, _migrated(sqlite_url), SLACK_APP_TOKEN=token)
    if ok:
        assert code == 0 and "✓ Slack accepts SLACK_APP_TOKEN (Socket Mode)" in out, out
    else:
        assert code == 1
        assert failed_lines(out) == ["✗ Slack rejected SLACK_APP_TOKEN (apps.connections.open answered invalid_auth) "
                                     "— turn Socket Mode on (Settings → Socket Mode) and copy an app-level token "
                                     "(xapp-…) with the connections:write scope from Basic Information → App-Level "
                                     "Tokens"], out
    assert token not in out
    assert sm.connections == []  # asked, never connected


def test_slack_going_silent_midway_is_named_per_check_never_a_traceback(fakes: Fakes, sqlite_url: str) -> None:
    slack = fakes[0]
    slack.drop_next("conversations.info")
    slack.drop_next("users.info", count=10)
    code, out = run_check(fakes, _migrated(sqlite_url))
    assert code == 1
    failed = failed_lines(out)
    assert any(line.startswith(f"✗ The approvals channel {APPROVAL_CHANNEL} could not be checked: Slack did not "
                               "answer") for line in failed), out
    assert any(line.startswith("✗ APPROVERS: ") and "could not be checked: Slack did not answer" in line
               for line in failed) or any(line.startswith("✗ REQUESTERS: ") for line in failed), out
    assert all(line.endswith("— check SLACK_API_URL and the network") for line in failed), out


def test_scope_missing(fakes: Fakes, sqlite_url: str) -> None:
    fakes[0].scopes.remove("users:read.email")
    code, out = run_check(fakes, sqlite_url)
    assert code == 1
    assert failed_lines(out) == ["✗ Bot token lacks the scope users:read.email — add them under OAuth & Permissions "
                                 "→ Bot Token Scopes (or paste the output of `impersonation-bot manifest` on the app's "
                                 "App Manifest page) and reinstall the app"], out


def test_channel_scope_missing(fakes: Fakes, sqlite_url: str) -> None:
    fakes[0].scopes.remove("channels:read")
    code, out = run_check(fakes, sqlite_url)
    assert code == 1
    assert f"✗ The approvals channel {APPROVAL_CHANNEL} was not found (missing_scope) — add the scope channels:read " \
           "(as `impersonation-bot manifest` asks) and reinstall the app" in failed_lines(out), out


def test_bot_not_in_channel(fakes: Fakes, sqlite_url: str) -> None:
    fakes[0].add_channel(APPROVAL_CHANNEL, is_member=False)
    code, out = run_check(fakes, sqlite_url)
    assert code == 1
    assert failed_lines(out) == [f"✗ Bot is not in the approvals channel {APPROVAL_CHANNEL} — invite it: "
                                 "/invite @impersonation-bot in that channel"], out


def test_channel_unknown(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, SLACK_APPROVAL_CHANNEL="C0ELSEWHERE")
    assert code == 1
    assert failed_lines(out)[0].startswith("✗ The approvals channel C0ELSEWHERE was not found (channel_not_found) — "
                                           "check SLACK_APPROVAL_CHANNEL"), out


def test_approver_does_not_resolve(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, APPROVERS=f"UNOBODY1,{APPROVER_GROUP}")
    assert code == 1
    assert failed_lines(out) == ["✗ APPROVERS: user UNOBODY1 does not resolve (users.info answered user_not_found) — "
                                 "use the member ID from the person's profile (⋮ → Copy member ID) in APPROVERS"], out


def test_group_does_not_resolve(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, REQUESTERS=f"{APPROVER},SNOGROUP")
    assert code == 1
    assert failed_lines(out) == ["✗ REQUESTERS: user group SNOGROUP does not resolve (usergroups.users.list answered "
                                 "no_such_subteam) — use a user-group ID (S…) from usergroups.list in REQUESTERS"], out


def test_descope_key_refused(fakes: Fakes, sqlite_url: str) -> None:
    code, out = run_check(fakes, sqlite_url, DESCOPE_MANAGEMENT_KEY="K-wrong")
    assert code == 1
    assert failed_lines(out) == ["✗ Descope refused the management key (401 E011003) — check DESCOPE_PROJECT_ID and "
                                 "DESCOPE_MANAGEMENT_KEY (Company Settings → Management Keys; see "
                                 "docs/DESCOPE.md)"], out
    assert "K-wrong" not in out


def test_descope_unreachable(fakes: Fakes, sqlite_url: str) -> None:
    port = free_port()
    code, out = run_check(fakes, sqlite_url, DESCOPE_BASE_URI=f"http://127.0.0.1:{port}")
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith(f"✗ Descope does not answer at http://127.0.0.1:{port} (Descope unavailable"), out
    assert line.endswith("— check DESCOPE_BASE_URI (or unset it to use Descope's) and the network"), out


def test_database_unreachable(fakes: Fakes) -> None:
    url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{free_port()}/nowhere"
    code, out = run_check(fakes, url)
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith("✗ The database does not answer ("), out
    assert line.endswith("— check DATABASE_URL and that the database server is up"), out
    assert "s3cret" not in out


def test_a_sqlite_file_not_made_yet_is_fine_and_not_created(fakes: Fakes, tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    code, out = run_check(fakes, f"sqlite:///{path}")
    assert code == 0, out  # a first setup: the bot makes it when it first starts
    assert f"✓ The SQLite database file {path} is not made yet: the bot makes it when it first starts" in out
    assert not path.exists()


def test_a_sqlite_file_whose_folder_is_missing_is_named(fakes: Fakes, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bot.db"
    code, out = run_check(fakes, f"sqlite:///{path}")
    assert code == 1
    assert failed_lines(out) == [f"✗ The folder {path.parent} for the SQLite database does not exist — create it, or "
                                 "point DATABASE_URL somewhere the bot may write"], out


def test_database_not_migrated(fakes: Fakes, database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:  # one revision short of the head
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            command.downgrade(config, "-1")
    finally:
        engine.dispose()
    before = _tables(database_url)
    code, out = run_check(fakes, database_url)
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith("✗ The database is not migrated (at "), out
    assert line.endswith("— run: impersonation-bot migrate"), out
    assert _tables(database_url) == before


def test_second_factors_in_use_are_checked_at_descope_and_nothing_is_mailed(fakes: Fakes, sqlite_url: str) -> None:
    _, descope = fakes
    code, out = run_check(fakes, sqlite_url, APPROVAL_MFA="totp", REVEAL_MFA="email")
    assert code == 0, out
    assert "✓ Descope's signing keys fetched (1 RS256): the bot can check the session a code opens" in out
    assert "✓ Descope answers Authenticator Apps (TOTP) verification" in out
    assert "✓ Descope answers OTP by email verification" in out
    assert descope.calls_to(OTP_SIGNIN_EMAIL) == [] and not any(descope.mailed(login) for login in descope.users)


def test_no_second_factor_in_use_asks_descope_nothing_about_them(fakes: Fakes, sqlite_url: str) -> None:
    _, descope = fakes
    code, out = run_check(fakes, sqlite_url)
    assert code == 0 and "signing keys" not in out, out
    assert [c for c in descope.calls if c.path.startswith(KEYS) or c.path == TOTP_VERIFY] == []


def test_a_key_set_that_cannot_be_fetched_is_named(fakes: Fakes, sqlite_url: str) -> None:
    _, descope = fakes
    descope.fail_next(descope.keys_path, status=404)
    code, out = run_check(fakes, sqlite_url, APPROVAL_MFA="totp")
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith("✗ Descope's key set could not be fetched (Descope refused (404"), out
    assert line.endswith("— check DESCOPE_PROJECT_ID and DESCOPE_BASE_URI (the keys are at /v2/keys/<project ID>)")


def test_the_watch_on_descope_needs_the_key_to_search_the_audit(fakes: Fakes, sqlite_url: str) -> None:
    _, descope = fakes
    code, out = run_check(fakes, sqlite_url)
    assert code == 0 and "✓ Descope lets the management key search its audit" in out, out
    descope.fail_next(AUDIT_SEARCH, status=403, body={"errorCode": "E011003", "errorDescription": "not allowed"})
    code, out = run_check(fakes, sqlite_url)
    assert code == 1
    [line] = failed_lines(out)
    assert line.startswith("✗ Descope refused the management key's search of its audit"), out
    assert line.endswith("or set RECONCILE_INTERVAL=0 to turn the watch off"), out
    code, out = run_check(fakes, sqlite_url, RECONCILE_INTERVAL="0")
    assert code == 0 and "audit" not in out.replace("audit trail", ""), out
