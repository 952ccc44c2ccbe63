"""``python -m bot policy``: which rule decides a request and what it allows (``bot.cli.policy.report``), read
from the environment alone (``main``), exit 2 with every problem when the policy cannot be read."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.cli.policy import report
from bot.config import environment_rule
from bot.domain.policy import Policy, Rule
from bot.domain.proof import Mfa
from bot.domain.target import Target
from tests.unit.factories import POLICY_EXAMPLE

ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENT = environment_rule(("U0AAA", "S0BBB"), ("U0REQ",),
                               (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)))
REGULATED = Rule(number=1, name="regulated tenants", requesters=("U0REQ",), approvers=("S0SECOPS",), approvals=2,
                 min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=30),
                 max_duration=timedelta(hours=1), tenants=("bank-*", ""))
STAFF = Rule(number=2, name="rule 2", requesters=(), approvers=(), min_duration=timedelta(minutes=1),
             default_duration=timedelta(minutes=1), max_duration=timedelta(minutes=1), allow=False,
             targets=("*@ourcompany.com",))
POLICY = Policy(rules=(REGULATED, STAFF), source="policy.toml")
SETTINGS = ("POLICY_FILE", "APPROVERS", "REQUESTERS", "MIN_DURATION", "DEFAULT_DURATION", "MAX_DURATION",
            "APPROVAL_MFA", "REVEAL_MFA", "BREAK_GLASS", "BREAK_GLASS_MAX_DURATION", "BREAK_GLASS_PER_DAY",
            "ESCALATE_AFTER", "ESCALATION_APPROVERS")


def test_a_matching_rule_and_all_it_allows() -> None:
    assert report("jane@bank.com", "bank-eu", POLICY, ENVIRONMENT).splitlines() == [
        'jane@bank.com in tenant bank-eu: rule 1 ("regulated tenants") of POLICY_FILE policy.toml decides.',
        '  tenants           bank-*, "" (no tenant)',
        "  targets           any login ID",
        "  allow             true",
        "  requesters        U0REQ",
        "  approvers         S0SECOPS",
        "  approvals         2 (distinct approvers, never the requester)",
        "  approval_mfa      none: a click",
        "  min_duration      1m",
        "  default_duration  30m",
        "  max_duration      1h",
        "  reveal_mfa        none: a click on Show token shows the token",
        "  break_glass       not allowed",
        "  escalate_after    never",
    ]


def test_a_refusing_rule_lists_nothing_it_ignores() -> None:
    assert report("bo@ourcompany.com", "acme", POLICY, ENVIRONMENT).splitlines() == [
        "bo@ourcompany.com in tenant acme: rule 2 of POLICY_FILE policy.toml decides.",
        "  tenants  any tenant",
        "  targets  *@ourcompany.com",
        "  allow    false: nobody may impersonate these targets",
    ]


def test_no_rule_matches() -> None:
    lines = report("jane@acme.com", "acme", POLICY, ENVIRONMENT).splitlines()
    assert lines[0] == ("jane@acme.com in tenant acme: no rule of POLICY_FILE policy.toml matches, so the "
                        "environment's settings decide.")
    assert lines[1:] == [
        "  allow             true",
        "  requesters        U0REQ",
        "  approvers         U0AAA, S0BBB",
        "  approvals         1 (distinct approvers, never the requester)",
        "  approval_mfa      none: a click",
        "  min_duration      1m",
        "  default_duration  30m",
        "  max_duration      4h",
        "  reveal_mfa        none: a click on Show token shows the token",
        "  break_glass       not allowed",
        "  escalate_after    never",
    ]


def test_no_policy_file() -> None:
    first = report("jane@acme.com", None, Policy(), ENVIRONMENT).splitlines()[0]
    assert first == ("jane@acme.com with no tenant: POLICY_FILE is not set, so the environment's settings decide "
                     "every request.")


def test_what_a_request_needs_of_its_approvers_and_its_requester() -> None:
    totp = Rule(number=1, name="regulated tenants", requesters=("U0REQ",), approvers=("S0SECOPS",),
                min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=30),
                max_duration=timedelta(hours=1), tenants=("bank-*",), approval_mfa=Mfa.TOTP, reveal_mfa=Mfa.EMAIL)
    lines = report("jane@bank.com", "bank-eu", Policy(rules=(totp,), source="policy.toml"), ENVIRONMENT).splitlines()
    assert "  approval_mfa      totp: each approver types the 6-digit code of their authenticator app (verified at " \
           "Descope)" in lines
    assert "  reveal_mfa        email: the requester types a code Descope mails them before Show token shows the " \
           "token" in lines
    email = environment_rule(("U0AAA",), (), (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)),
                             approval_mfa=Mfa.EMAIL, reveal_mfa=Mfa.TOTP)
    lines = report("jane@acme.com", "acme", Policy(), email).splitlines()
    assert "  approval_mfa      email: each approver types a code Descope mails them" in lines
    assert "  reveal_mfa        totp: the requester types the 6-digit code of their authenticator app (verified at " \
           "Descope) before Show token shows the token" in lines


def test_a_request_under_several_rules_needs_the_strictest_second_factor() -> None:
    bank = Rule(number=1, name="bank", requesters=("U0REQ",), approvers=("U0AAA",), min_duration=timedelta(minutes=1),
                default_duration=timedelta(minutes=30), max_duration=timedelta(hours=1), tenants=("bank-*",),
                approval_mfa=Mfa.EMAIL, reveal_mfa=Mfa.EMAIL)
    environment = environment_rule(("U0AAA",), ("U0REQ",),
                                   (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)),
                                   approval_mfa=Mfa.TOTP)
    banker = Target(verified=True, tenants=(("bank-eu", None), ("acme", None)))
    lines = report("banker@bank.test", None, Policy(rules=(bank,), source="policy.toml"), environment,
                   banker).splitlines()
    assert lines[1:3] == ["  - the environment's settings, for no tenant, tenant acme",
                          "  - rule 1 (\"bank\") of POLICY_FILE policy.toml, for tenant bank-eu"]
    assert [line.split(":")[0] for line in lines if "_mfa" in line] == ["  approval_mfa      totp",
                                                                        "  reveal_mfa        email"]


def test_a_refusing_rule_needs_no_second_factor() -> None:
    refusing = Rule(number=1, name="frozen", requesters=(), approvers=(), min_duration=timedelta(minutes=1),
                    default_duration=timedelta(minutes=1), max_duration=timedelta(minutes=1), allow=False,
                    approval_mfa=Mfa.TOTP, reveal_mfa=Mfa.TOTP)
    assert "_mfa" not in report("jane@acme.com", "acme", Policy(rules=(refusing,), source="p.toml"), ENVIRONMENT)


def test_break_glass_and_escalation_of_a_rule_and_of_the_environment() -> None:
    urgent = Rule(number=1, name="on call", requesters=("U0REQ",), approvers=("S0SECOPS",),
                  min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=30),
                  max_duration=timedelta(hours=1), tenants=("bank-*",), break_glass=True,
                  break_glass_max_duration=timedelta(hours=2), break_glass_per_day=1,
                  escalate_after=timedelta(minutes=20), escalate_to=("U0BOSS", "S0ONCALL"))
    lines = report("jane@bank.com", "bank-eu", Policy(rules=(urgent,), source="policy.toml"), ENVIRONMENT).splitlines()
    assert lines[-2:] == [
        "  break_glass       allowed: up to 2h, 1 a day per requester, no approver; the approvers review it after",
        "  escalate_after    after 20m to U0BOSS, S0ONCALL",
    ]
    environment = environment_rule(("U0AAA",), (), (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)),
                                   break_glass=True, escalate_after=timedelta(hours=1), escalate_to=("S0ONCALL",))
    lines = report("jane@acme.com", "acme", Policy(), environment).splitlines()
    assert lines[-2:] == [
        "  break_glass       allowed: up to 30m, 3 a day per requester, no approver; the approvers review it after",
        "  escalate_after    after 1h to S0ONCALL",
    ]


def test_a_request_under_several_rules_breaks_glass_and_escalates_as_strictly_as_they_all_allow() -> None:
    bank = Rule(number=1, name="bank", requesters=("U0REQ",), approvers=("U0AAA",), min_duration=timedelta(minutes=1),
                default_duration=timedelta(minutes=30), max_duration=timedelta(hours=1), tenants=("bank-*",),
                break_glass=True, break_glass_max_duration=timedelta(minutes=15), break_glass_per_day=5,
                escalate_after=timedelta(minutes=10), escalate_to=("U0BOSS",))
    window = (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4))
    banker = Target(verified=True, tenants=(("bank-eu", None), ("acme", None)))
    policy = Policy(rules=(bank,), source="policy.toml")
    both = environment_rule(("U0AAA",), ("U0REQ",), window, break_glass=True, break_glass_per_day=2,
                            escalate_after=timedelta(minutes=45), escalate_to=("S0ONCALL", "U0BOSS"))
    lines = report("banker@bank.test", None, policy, both, banker).splitlines()
    assert lines[-2:] == [
        "  break_glass       allowed: up to 15m, 2 a day per requester, no approver; the approvers review it after",
        "  escalate_after    after 45m to U0BOSS",  # the latest, to whom every rule lets decide
    ]
    neither = environment_rule(("U0AAA",), ("U0REQ",), window)  # one rule without: none of it
    lines = report("banker@bank.test", None, policy, neither, banker).splitlines()
    assert lines[-2:] == ["  break_glass       not allowed", "  escalate_after    never"]


def test_a_refusing_rule_says_nothing_of_break_glass_or_escalation() -> None:
    refusing = Rule(number=1, name="frozen", requesters=(), approvers=(), min_duration=timedelta(minutes=1),
                    default_duration=timedelta(minutes=1), max_duration=timedelta(minutes=1), allow=False,
                    break_glass=True, escalate_after=timedelta(minutes=5), escalate_to=("U0BOSS",))
    text = report("jane@acme.com", "acme", Policy(rules=(refusing,), source="p.toml"), ENVIRONMENT)
    assert "break_glass" not in text and "escalate_after" not in text


# --- the command --------------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only what the policy needs, no Slack or Descope settings at all."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DESCOPE_", "DATABASE_")) or name in SETTINGS:
            monkeypatch.delenv(name)
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_EXAMPLE)
    monkeypatch.setenv("POLICY_FILE", str(path))
    monkeypatch.setenv("APPROVERS", "U0AAA,S0BBB")
    return monkeypatch


def test_the_command_prints_the_deciding_rule(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", " Jane@Bank.com ", "--tenant", "BANK-EU"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('Jane@Bank.com in tenant BANK-EU: rule 1 ("regulated tenants") of POLICY_FILE ')
    assert "  approvals         2 (distinct approvers, never the requester)" in out
    assert "  requesters        U0AAA, S0BBB" in out  # REQUESTERS unset: the approvers


def test_the_command_reads_the_environments_second_factors(env: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("APPROVAL_MFA", "TOTP")
    env.setenv("REVEAL_MFA", "email")
    assert main(["policy", "jane@bank.com", "--tenant", "bank-eu"]) == 0  # the rule sets none: the environment's
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out if "_mfa" in line] == ["  approval_mfa      totp",
                                                                      "  reveal_mfa        email"]


def test_the_command_reads_the_environments_break_glass_and_escalation(env: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("BREAK_GLASS", "yes")
    env.setenv("BREAK_GLASS_MAX_DURATION", "6h")  # past MAX_DURATION: its own cap
    env.setenv("BREAK_GLASS_PER_DAY", "2")
    env.setenv("ESCALATE_AFTER", "30m")
    env.setenv("ESCALATION_APPROVERS", "U0BOSS,S0ONCALL")
    assert main(["policy", "jane@bank.com", "--tenant", "bank-eu"]) == 0  # the rule sets none: the environment's
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        "  break_glass       allowed: up to 6h, 2 a day per requester, no approver; the approvers review it after",
        "  escalate_after    after 30m to U0BOSS, S0ONCALL",
    ]


def test_escalation_half_set_is_a_problem(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("ESCALATE_AFTER", "30m")
    env.setenv("BREAK_GLASS_PER_DAY", "0")
    assert main(["policy", "jane@bank.com", "--tenant", "bank-eu"]) == 2
    err = capsys.readouterr().err
    assert "  - ESCALATE_AFTER is set (`30m`) but ESCALATION_APPROVERS is not: escalation needs both" in err
    assert "  - BREAK_GLASS_PER_DAY must be a whole number from 1 to 100, not `0`" in err


def test_a_wrong_second_factor_is_a_problem(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("REVEAL_MFA", "sms")
    assert main(["policy", "jane@bank.com", "--tenant", "bank-eu"]) == 2
    assert "REVEAL_MFA must be one of none, totp, email, not `sms`" in capsys.readouterr().err


def test_an_empty_tenant_is_no_tenant(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With rules naming tenants, a request naming none is decided by the target's tenants: without Descope's
    settings to look them up, the command says such a request is refused (as the bot refuses it) and why."""
    assert main(["policy", "jane@acme.com", "--tenant", " "]) == 0
    out = capsys.readouterr().out
    assert out.startswith("jane@acme.com with no tenant: refused. Its token would reach every tenant the user is in")
    assert "DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY are not set" in out and out.rstrip().endswith("(--tenant).")


def test_a_request_naming_no_tenant_is_decided_by_every_tenant_of_its_target() -> None:
    banker = Target(verified=True, tenants=(("bank-eu", "Bank Eu"), ("acme", None)))
    assert report("banker@bank.test", None, POLICY, ENVIRONMENT, banker).splitlines() == [
        "banker@bank.test with no tenant: its token would reach every tenant the user is in (bank-eu, acme), so "
        "these rules all decide, the strictest winning:",
        '  - rule 1 ("regulated tenants") of POLICY_FILE policy.toml, for no tenant, tenant bank-eu',
        "  - the environment's settings, for tenant acme",
        "  allow             true",
        "  requesters        in each rule's: U0REQ; U0REQ",
        "  approvers         in each rule's: S0SECOPS; U0AAA, S0BBB",
        "  approvals         2 (distinct approvers, never the requester)",
        "  approval_mfa      none: a click",
        "  min_duration      1m",
        "  default_duration  30m",
        "  max_duration      1h",
        "  reveal_mfa        none: a click on Show token shows the token",
        "  break_glass       not allowed",
        "  escalate_after    never",
    ]
    # Its one tenant's rule alone when nothing else applies; named, the tenant's rule as before.
    alone = Target(verified=True, tenants=(("bank-eu", None),))
    assert report("banker@bank.test", None, POLICY, ENVIRONMENT, alone).startswith(
        'banker@bank.test with no tenant: rule 1 ("regulated tenants") of POLICY_FILE policy.toml decides.')


def test_a_request_naming_no_tenant_whose_tenants_are_unknown_is_refused() -> None:
    text = report("banker@bank.test", None, POLICY, ENVIRONMENT, None, "Descope did not answer the look-up in time")
    assert text == ("banker@bank.test with no tenant: refused. Its token would reach every tenant the user is in, "
                    "rules of POLICY_FILE policy.toml name tenants, and which tenants the user is in is not known "
                    "(Descope did not answer the look-up in time). Name the tenant (--tenant).")


def test_the_command_names_every_problem(env: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "x"\napprovals = 0\n')
    env.setenv("POLICY_FILE", str(bad))
    env.delenv("APPROVERS")
    assert main(["policy", "jane@acme.com"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "  - APPROVERS is not set" in captured.err
    assert f'  - POLICY_FILE {bad}, rule 1 ("x"), key approvals: must be at least 1' in captured.err


def test_the_command_in_a_process(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DESCOPE_")) and k not in SETTINGS}
    done = subprocess.run([sys.executable, "-m", "bot", "policy", "bo@ourcompany.com"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**env, "POLICY_FILE": str(path), "APPROVERS": "U0AAA"})
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "  allow    false: nobody may impersonate these targets"
