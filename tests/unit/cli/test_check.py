"""The setup doctor's pure parts (the checklist as printed), and the IDs of the policy file's rules resolved at the
fake Slack."""

from __future__ import annotations

from pathlib import Path

from bot.cli.check import Check, check_slack, render
from bot.config import settings_from_env
from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.harness import APPROVER_GROUP, GROUP_APPROVER, bot_env


def test_render_marks_fixes_and_summary() -> None:
    out = render([
        Check("a", True, "Token accepted", "never shown"),
        Check("b", False, "Bot is not in C1", "invite it"),
        Check("c", None, "Descope not checked"),
    ])
    assert out.splitlines() == ["✓ Token accepted", "✗ Bot is not in C1 — invite it", "· Descope not checked", "",
                                "1 of 2 checks failed. 1 not run until what they need is fixed."]


def test_skipped_checks_are_not_counted_as_failed() -> None:
    out = render([Check("config", True, "Configuration read"), Check("slack", None, "Slack not checked")])
    assert out.splitlines()[-1] == "All 1 checks passed. 1 not run until what they need is fixed."


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
