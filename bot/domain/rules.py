"""Who may do what, and which windows are allowed. Pure: each check raises a ``DomainError`` or returns."""

from __future__ import annotations

from collections.abc import Callable, Collection
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
from bot.domain.policy import Rule
from bot.domain.request import RequestView
from bot.domain.target import Target


def window_problem(duration: timedelta, low: timedelta, high: timedelta, rule: str = "") -> WindowOutOfPolicy | None:
    """``None`` when ``duration`` lies within ``[low, high]``, else the refusal (with both bounds and the rule's
    name, "" for the environment's)."""
    return None if low <= duration <= high else WindowOutOfPolicy(duration, low, high, rule)


def check_duration(duration: timedelta, low: timedelta, high: timedelta, rule: str = "") -> None:
    problem = window_problem(duration, low, high, rule)
    if problem is not None:
        raise problem


def check_window(duration: timedelta, rule: Rule) -> None:
    """``duration`` lies within what ``rule`` allows."""
    check_duration(duration, rule.min_duration, rule.max_duration, rule.name)


def check_approvable(requester_id: str, rule: Rule, is_group: Callable[[str], bool]) -> None:
    """Raise ``TooFewApprovers`` when ``rule`` lists only people (no user group, whose members may change) and fewer
    of them than it needs approvals once the requester is left out: such a request could never be approved."""
    if any(is_group(p) for p in rule.approvers):
        return
    available = len(set(rule.approvers) - {requester_id})
    if available < rule.approvals:
        raise TooFewApprovers(rule.name, rule.approvals, available)


def check_approver(clicker: str, request: RequestView, is_approver: bool) -> None:
    """Raise unless ``clicker`` may decide on ``request``: a second person, and an approver."""
    if clicker == request.requester_id:
        raise OwnRequest(request.id)
    if not is_approver:
        raise NotAnApprover(clicker)


def check_may_stop(actor: str, request: RequestView, is_approver: bool) -> None:
    if actor != request.requester_id and not is_approver:
        raise MayNotStop(request.id, actor)


def is_member(user_id: str, principals: Collection[str], group_members: Collection[str]) -> bool:
    """Direct membership, or membership through one of the listed user groups (already resolved)."""
    return user_id in principals or user_id in group_members


def check_target(login_id: str, tenant: str | None, *, disabled: bool, target: Target) -> None:
    """The target Descope found may be impersonated as asked: enabled, and in the requested tenant."""
    if disabled:
        raise TargetDisabled(login_id, tenant)
    if tenant is not None and tenant not in {tenant_id for tenant_id, _ in target.tenants}:
        raise NotInTenant(login_id, tenant)
