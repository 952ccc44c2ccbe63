"""``bot.domain.policy``: which rules decide a request (``Policy.decide``) and what they allow together
(``Decision``): for a request naming no tenant, every rule of every tenant of its target, the strictest winning."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.domain import TooFewApprovers
from bot.domain.policy import Decision, Policy, Rule, environment_rule
from bot.domain.proof import Mfa
from bot.domain.rules import check_approvable

ENV = environment_rule(("UA", "UB", "UC"), ("UR",), (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)))


def rule(number: int, name: str, **kw: object) -> Rule:
    values: dict[str, object] = dict(requesters=("UR",), approvers=("UA", "UB", "UC"),
                                     min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=30),
                                     max_duration=timedelta(hours=4))
    values.update(kw)
    return Rule(number=number, name=name, **values)  # type: ignore[arg-type]


BANK = rule(1, "bank", tenants=("bank-*",), approvals=2, max_duration=timedelta(hours=1), approvers=("UA", "UB"))
FROZEN = rule(2, "frozen", tenants=("frozen",), allow=False)
NO_TENANT = rule(3, "no tenant", tenants=("",), min_duration=timedelta(minutes=10), requesters=("UR", "UX"))
POLICY = Policy((BANK, FROZEN, NO_TENANT), "policy.toml")


def member(user: str, principals: Sequence[str]) -> bool:
    return user in principals


def test_a_named_tenant_is_decided_by_its_rule_alone() -> None:
    assert POLICY.decide("x@bank.test", "bank-eu", None, ENV).rules == (BANK,)
    assert POLICY.decide("x@bank.test", "acme", None, ENV).rules == (ENV,)


def test_no_tenant_named_brings_in_the_rule_for_no_tenant_and_each_tenants_rule_once() -> None:
    decision = POLICY.decide("x@bank.test", None, ("bank-eu", "bank-us", "acme"), ENV)
    assert decision.rules == (NO_TENANT, BANK, ENV)
    assert decision.name == "no tenant + bank + default"
    assert decision.approvals == 2
    assert (decision.min_duration, decision.max_duration) == (timedelta(minutes=10), timedelta(hours=1))
    assert decision.default_duration == timedelta(minutes=30)
    assert decision.may_request("UR", member) and not decision.may_request("UX", member)  # in every rule's list
    assert decision.may_approve("UA", member) and not decision.may_approve("UC", member)  # not in the bank rule's
    assert decision.approvers() == ("UA", "UB")  # those every rule names: who surely may approve


def test_allow_false_anywhere_forbids() -> None:
    decision = POLICY.decide("x@acme.com", None, ("acme", "frozen"), ENV)
    assert not decision.allow and decision.forbidding == FROZEN


def test_unknown_tenants_fail_closed_only_when_rules_name_tenants() -> None:
    unknown = POLICY.decide("x@bank.test", None, None, ENV)
    assert unknown.tenants_unknown and not unknown.allow and unknown.rules == (NO_TENANT,)
    assert Policy((rule(1, "targets only", targets=("*@x.com",)),)).decide("y@x.com", None, None, ENV).allow
    assert Policy((NO_TENANT,)).decide("y@x.com", None, None, ENV).allow  # [""] names no tenant


def test_the_strictest_second_factor_wins() -> None:
    none, email, totp = (rule(n, m.value, approval_mfa=m, reveal_mfa=m) for n, m in enumerate(Mfa, start=1))
    assert (Decision((none, email)).approval_mfa, Decision((none, email)).reveal_mfa) == (Mfa.EMAIL, Mfa.EMAIL)
    assert (Decision((email, totp)).approval_mfa, Decision((totp, email)).reveal_mfa) == (Mfa.TOTP, Mfa.TOTP)
    assert Decision((none,)).approval_mfa == Decision((ENV,)).reveal_mfa == Mfa.NONE  # by default: a click
    mixed = Decision((rule(1, "a", approval_mfa=Mfa.TOTP), rule(2, "b", reveal_mfa=Mfa.EMAIL)))
    assert (mixed.approval_mfa, mixed.reveal_mfa) == (Mfa.TOTP, Mfa.EMAIL)  # each of its own


def test_the_environments_rule_carries_its_second_factors() -> None:
    window = (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4))
    environment = environment_rule(("UA",), (), window, approval_mfa=Mfa.EMAIL, reveal_mfa=Mfa.TOTP)
    assert (environment.approval_mfa, environment.reveal_mfa) == (Mfa.EMAIL, Mfa.TOTP)
    decision = Policy((rule(1, "bank", tenants=("bank-*",), approval_mfa=Mfa.TOTP),)).decide(
        "x@bank.test", None, ("bank-eu", "acme"), environment)
    assert (decision.approval_mfa, decision.reveal_mfa) == (Mfa.TOTP, Mfa.TOTP)


def test_a_default_outside_the_common_window_is_brought_into_it() -> None:
    short = rule(1, "short", max_duration=timedelta(minutes=20), default_duration=timedelta(minutes=15))
    long = rule(2, "long", min_duration=timedelta(minutes=16), default_duration=timedelta(hours=1), tenants=("b",))
    assert Decision((short, long)).default_duration == timedelta(minutes=16)


def test_too_few_approvers_counts_only_those_in_every_rule() -> None:
    only_people = Decision((BANK, rule(4, "other", approvers=("UB", "UC"))))  # in both: UB alone
    try:
        check_approvable("UR", only_people, lambda p: p.startswith("S"))
    except TooFewApprovers as refused:
        assert (refused.needed, refused.available) == (2, 1)
    else:
        raise AssertionError("a request needing two approvals from one eligible approver was admitted")
    check_approvable("UR", Decision((BANK, rule(4, "group", approvers=("SOPS",)))), lambda p: p.startswith("S"))


def test_a_rule_by_default_neither_breaks_glass_nor_escalates() -> None:
    assert (ENV.break_glass, ENV.break_glass_max_duration, ENV.break_glass_per_day) == (False, timedelta(minutes=30), 3)
    assert (ENV.escalate_after, ENV.escalate_to) == (None, ())
    decision = Decision((ENV,))
    assert not decision.break_glass and decision.escalate_after is None and decision.escalate_to() == ()


def test_break_glass_only_when_every_rule_allows_it_the_shortest_cap_and_the_fewest_a_day() -> None:
    loose = rule(1, "loose", break_glass=True, break_glass_max_duration=timedelta(hours=2), break_glass_per_day=5)
    tight = rule(2, "tight", break_glass=True, break_glass_max_duration=timedelta(minutes=15), break_glass_per_day=1)
    both = Decision((loose, tight))
    assert both.break_glass
    assert (both.break_glass_max_duration, both.break_glass_per_day) == (timedelta(minutes=15), 1)
    assert not Decision((loose, rule(3, "without"))).break_glass
    assert not Decision((loose, rule(4, "frozen", allow=False, break_glass=True))).break_glass  # nobody may at all
    assert not Decision((loose,), tenants_unknown=True).break_glass


def test_escalation_only_when_every_rule_escalates_after_the_latest_delay() -> None:
    soon = rule(1, "soon", escalate_after=timedelta(minutes=10), escalate_to=("UBOSS", "SONCALL"))
    late = rule(2, "late", escalate_after=timedelta(hours=1), escalate_to=("SONCALL", "UCTO"), approvers=("UA",))
    decision = Decision((soon, late))
    assert decision.escalate_after == timedelta(hours=1)  # by then, every rule's people may act
    assert decision.escalate_to() == ("SONCALL",)  # only whom every rule lets decide (UBOSS, UCTO: one rule each)
    apart = Decision((rule(1, "a", escalate_after=timedelta(minutes=10), escalate_to=("SA",)),
                      rule(2, "b", escalate_after=timedelta(minutes=10), escalate_to=("SB",))))
    assert apart.escalate_to() == ("SA", "SB")  # sharing none: every rule's (groups may overlap)
    assert Decision((soon, rule(3, "never"))).escalate_after is None
    assert Decision((soon,)).escalate_after == timedelta(minutes=10)


def test_escalated_approvers_are_in_every_rules_approvers_or_escalate_to() -> None:
    soon = rule(1, "soon", escalate_after=timedelta(minutes=10), escalate_to=("UBOSS", "SONCALL"))
    late = rule(2, "late", escalate_after=timedelta(hours=1), escalate_to=("SONCALL", "UCTO"), approvers=("UA",))
    decision = Decision((soon, late))
    assert decision.may_approve_escalated("UA", member)  # an approver of both
    assert decision.may_approve_escalated("SONCALL", member)  # escalated to by both
    assert not decision.may_approve_escalated("UBOSS", member)  # the late rule does not escalate to them
    assert not decision.may_approve_escalated("UB", member)  # an approver of one rule only
    assert not decision.may_approve("SONCALL", member)  # before the escalation: an outsider
    assert Decision((soon,)).may_approve_escalated("UBOSS", member)


def test_the_environments_rule_carries_break_glass_and_escalation() -> None:
    window = (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4))
    environment = environment_rule(("UA",), (), window, break_glass=True, break_glass_max_duration=timedelta(hours=8),
                                   break_glass_per_day=2, escalate_after=timedelta(minutes=20),
                                   escalate_to=("SONCALL",))
    assert (environment.break_glass, environment.break_glass_max_duration, environment.break_glass_per_day) == (
        True, timedelta(hours=8), 2)
    assert (environment.escalate_after, environment.escalate_to) == (timedelta(minutes=20), ("SONCALL",))
    decision = Policy((rule(1, "bank", tenants=("bank-*",)),)).decide("x@bank.test", None, ("bank-eu",), environment)
    assert not decision.break_glass and decision.escalate_after is None  # the bank rule (built bare) has neither
