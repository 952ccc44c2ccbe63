"""The setup doctor's pure parts (the manifest's bot scopes, the checklist as printed), and the IDs of the policy
file's rules resolved at the fake Slack."""

from __future__ import annotations

from pathlib import Path

from bot.cli.check import MANIFEST, Check, check_slack, manifest_bot_scopes, render
from bot.config import settings_from_env
from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.harness import APPROVER_GROUP, GROUP_APPROVER, bot_env

MANIFEST_TEXT = """\
display_information:
  name: Bot  # a comment
features:
  bot_user:
    display_name: impersonation-bot
oauth_config:
  redirect_urls:
    - https://example.com/
  scopes:
    user:
      - search:read
    bot:
      # why this one
      - commands
      - "chat:write"   # quoted, with a comment
      - users:read.email
settings:
  event_subscriptions:
    bot_events:
      - app_home_opened
"""


def test_reads_only_the_bot_scopes() -> None:
    assert manifest_bot_scopes(MANIFEST_TEXT) == ["commands", "chat:write", "users:read.email"]


def test_no_bot_scopes() -> None:
    assert manifest_bot_scopes("oauth_config:\n  scopes:\n    user:\n      - a\n") == []


def test_the_shipped_manifest() -> None:
    scopes = manifest_bot_scopes(MANIFEST.read_text())
    assert {"commands", "chat:write", "users:read.email", "usergroups:read", "channels:read"} <= set(scopes)


def test_render_marks_fixes_and_summary() -> None:
    out = render([
        Check("a", True, "Token accepted", "never shown"),
        Check("b", False, "Bot is not in C1", "invite it"),
        Check("c", None, "Descope not checked"),
    ])
    assert out.splitlines() == ["✓ Token accepted", "✗ Bot is not in C1 — invite it", "· Descope not checked", "",
                                "2 of 3 checks failed."]


def test_render_all_passed() -> None:
    assert render([Check("a", True, "fine")]).splitlines()[-1] == "All 1 checks passed."


def test_the_ids_of_the_policy_files_allowing_rules_are_resolved_too(
        fakes: tuple[FakeSlack, FakeDescope], tmp_path: Path) -> None:
    slack, descope = fakes
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[[rule]]\ntenants = ["bank-*"]\napprovers = ["{GROUP_APPROVER}", "UGONE1"]\n'
                      f'requesters = ["{APPROVER_GROUP}", "SNONE1"]\n\n'
                      '[[rule]]\ntargets = ["*@corp.example"]\nallow = false\nrequesters = ["UNOBODY1"]\n')
    settings = settings_from_env(bot_env(slack, descope, "sqlite://", POLICY_FILE=str(policy)))
    checks = {c.name: c for c in check_slack(settings, []) if c.name.startswith("slack.policy.")}
    assert sorted(checks) == ["slack.policy.rule1.approvers.UGONE1", "slack.policy.rule1.requesters.SNONE1"]
    gone, none = checks["slack.policy.rule1.approvers.UGONE1"], checks["slack.policy.rule1.requesters.SNONE1"]
    assert (gone.ok, none.ok) == (False, False)
    assert gone.detail == ("POLICY_FILE, rule 1, key approvers: user UGONE1 does not resolve (users.info answered "
                           "user_not_found)")
    assert gone.fix.endswith("in POLICY_FILE, rule 1, key approvers")
    assert none.detail.startswith("POLICY_FILE, rule 1, key requesters: user group SNONE1 does not resolve")


def test_the_manifest_at_the_root_is_the_one_the_package_ships() -> None:
    root = Path(__file__).resolve().parents[3] / "slack-app-manifest.yml"
    assert root.read_text() == MANIFEST.read_text(), "edit bot/slack/manifest.yml and copy it to the root"
