"""The rule that decides a request, in process (``Requests.submit`` with ``Settings.policy``): what it stores (its
name, the approvals needed), and the refusals it makes before anyone sees the request."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVER, OUTSIDER, REQUESTER, TARGET
from bot.domain import Draft, Forbidden, NotARequester, State, TooFewApprovers, WindowOutOfPolicy
from bot.domain.policy import Policy, Rule
from tests.fakes.inprocess import World

HOUR = timedelta(hours=1)


def _rule(number: int, name: str, **changes: object) -> Rule:
    base = Rule(number=number, name=name, requesters=(REQUESTER, APPROVER), approvers=(APPROVER, OUTSIDER),
                min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=20), max_duration=HOUR)
    return replace(base, **changes)  # type: ignore[arg-type]


def _with(world: World, *rules: Rule) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, policy=Policy(rules, "policy.toml"))


def test_the_first_matching_rule_is_stored_with_the_approvals_it_needs(world: World) -> None:
    _with(world, _rule(1, "bob", targets=("bob@*",)), _rule(2, "two", targets=("*@acme.com",), approvals=2))
    request = world.workflows.requests.submit(REQUESTER, Draft(TARGET, None, "why"))
    assert (request.rule_name, request.approvals_needed, request.duration) == ("two", 2, timedelta(minutes=20))


@pytest.mark.parametrize(("rule", "requester", "refusal"), [
    (_rule(1, "staff", allow=False), REQUESTER, Forbidden),
    (_rule(1, "support", requesters=(APPROVER,)), REQUESTER, NotARequester),
    (_rule(1, "two", approvals=2), APPROVER, TooFewApprovers),  # the other approver alone cannot make two
    (_rule(1, "short", max_duration=timedelta(minutes=10)), REQUESTER, WindowOutOfPolicy),
])
def test_a_rules_refusal_reaches_no_approver(world: World, rule: Rule, requester: str, refusal: type) -> None:
    _with(world, rule)
    with pytest.raises(refusal):
        world.workflows.requests.submit(requester, Draft(TARGET, timedelta(minutes=30), "why"))
    live = world.store.list_requests(states=[State.PENDING])
    assert live == []  # nothing waits for approval (a forbidden target is kept only as a refused request)
    assert [a.action for a in world.store.audit()] == (["refused"] if refusal is Forbidden else [])
