"""Who may do what, and which windows are allowed. Pure: each check raises a ``DomainError`` or returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.domain.errors import (
    MayNotStop,
    NotAnApprover,
    NotInTenant,
    OwnRequest,
    TargetDisabled,
    TooFewApprovers,
    WindowOutOfPolicy,
)
from bot.domain.policy import Decision
from bot.domain.request import RequestView
from bot.domain.states import State
from bot.domain.target import Target


def window_problem(duration: timedelta, low: timedelta, high: timedelta, rule: str = "") -> WindowOutOfPolicy | None:
    """``None`` when ``duration`` lies within ``[low, high]``, else the refusal (with both bounds and the rule's
    name, "" for the environment's)."""
    return None if low <= duration <= high else WindowOutOfPolicy(duration, low, high, rule)


def check_duration(duration: timedelta, low: timedelta, high: timedelta, rule: str = "") -> None:
    problem = window_problem(duration, low, high, rule)
    if problem is not None:
        raise problem


def check_window(duration: timedelta, decision: Decision) -> None:
    """``duration`` lies within what ``decision`` allows."""
    check_duration(duration, decision.min_duration, decision.max_duration, decision.name)


def check_approvable(requester_id: str, decision: Decision, is_group: Callable[[str], bool]) -> None:
    """Raise ``TooFewApprovers`` when the rules list only people (no user group, whose members may change) and fewer
    of them than they need approvals, counting those every rule lists, once the requester is left out: such a
    request could never be approved."""
    if any(is_group(p) for rule in decision.rules for p in rule.approvers):
        return
    eligible = set.intersection(*(set(rule.approvers) for rule in decision.rules)) - {requester_id}
    if len(eligible) < decision.approvals:
        raise TooFewApprovers(decision.name, decision.approvals, len(eligible))


def check_approver(clicker: str, request: RequestView, is_approver: bool) -> None:
    """Raise unless ``clicker`` may decide on ``request``: a second person, and an approver."""
    if clicker == request.requester_id:
        raise OwnRequest(request.id)
    if not is_approver:
        raise NotAnApprover(clicker)


def check_may_stop(actor: str, request: RequestView, *, may_deny: bool, may_end: bool) -> None:
    """Its requester may always stop a request (withdraw it, while it waits). Anyone else: while it waits for
    approval a stop is a deny, so only those who may deny it (``may_deny``: its rule's approvers); once approved, those
    who may end a session (``may_end``)."""
    if actor == request.requester_id:
        return
    if request.state is State.PENDING:
        if not may_deny:
            raise MayNotStop(request.id, actor, pending=True)
    elif not may_end:
        raise MayNotStop(request.id, actor)


def check_target(login_id: str, tenant: str | None, *, disabled: bool, target: Target) -> None:
    """The target Descope found may be impersonated as asked: enabled, and in the requested tenant."""
    if disabled:
        raise TargetDisabled(login_id, tenant)
    if tenant is not None and tenant not in {tenant_id for tenant_id, _ in target.tenants}:
        raise NotInTenant(login_id, tenant)
