"""``bot.domain.rules``: who may decide or stop, which windows are allowed. The refusals carry data; their
wording is tested with ``bot.slack.messages.replies`` (tests/unit/slack/messages/test_replies.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import (
    DomainError,
    MayNotStop,
    NotAllowed,
    NotAnApprover,
    OwnRequest,
    PolicyViolation,
    State,
    WindowOutOfPolicy,
    check_approver,
    check_duration,
    check_may_stop,
    window_problem,
)
from tests.unit.factories import view


def test_approver_may_decide_on_someone_elses_request() -> None:
    check_approver("UBO", view(), is_approver=True)


@pytest.mark.parametrize("is_approver", [True, False])
def test_self_approval_is_refused_approver_or_not(is_approver: bool) -> None:
    with pytest.raises(OwnRequest) as info:
        check_approver("UREQ", view(), is_approver=is_approver)
    assert isinstance(info.value, NotAllowed)
    assert info.value.request_id == "K7M2QX9A"


def test_non_approver_is_refused() -> None:
    with pytest.raises(NotAnApprover) as info:
        check_approver("UBO", view(), is_approver=False)
    assert isinstance(info.value, NotAllowed)
    assert info.value.user_id == "UBO"


def test_not_allowed_is_a_domain_error() -> None:
    assert issubclass(NotAllowed, DomainError)
    assert issubclass(PolicyViolation, DomainError)


@pytest.mark.parametrize(
    ("actor", "may_end"),
    [("UREQ", False), ("UREQ", True), ("UBO", True)],
)
@pytest.mark.parametrize("state", [State.ACTIVE, State.APPROVED])
def test_may_stop(actor: str, may_end: bool, state: State) -> None:
    check_may_stop(actor, view(state), may_deny=False, may_end=may_end)


def test_stranger_may_not_stop() -> None:
    with pytest.raises(MayNotStop) as info:
        check_may_stop("USTRANGER", view(State.ACTIVE), may_deny=False, may_end=False)
    assert isinstance(info.value, NotAllowed)
    assert (info.value.request_id, info.value.user_id) == ("K7M2QX9A", "USTRANGER")
    assert not info.value.pending


def test_a_stop_of_a_waiting_request_is_a_deny_for_its_rules_approvers_alone() -> None:
    check_may_stop("UREQ", view(State.PENDING), may_deny=False, may_end=False)  # its requester: a withdrawal
    check_may_stop("UBO", view(State.PENDING), may_deny=True, may_end=False)  # an approver of its rule: a deny
    with pytest.raises(MayNotStop) as info:  # one who may end sessions (APPROVERS), but not approve this one
        check_may_stop("UADMIN", view(State.PENDING), may_deny=False, may_end=True)
    assert info.value.pending


LOW, HIGH = timedelta(minutes=1), timedelta(hours=4)


@pytest.mark.parametrize("duration", [LOW, timedelta(minutes=30), HIGH])
def test_check_duration_within_bounds(duration: timedelta) -> None:
    assert check_duration(duration, LOW, HIGH) is None
    assert window_problem(duration, LOW, HIGH) is None


@pytest.mark.parametrize(("duration", "too_short"),
                         [(timedelta(seconds=59), True), (HIGH + timedelta(seconds=1), False)])
def test_check_duration_out_of_bounds_carries_both_bounds(duration: timedelta, too_short: bool) -> None:
    with pytest.raises(WindowOutOfPolicy) as info:
        check_duration(duration, LOW, HIGH)
    problem = info.value
    assert isinstance(problem, PolicyViolation)
    assert (problem.duration, problem.low, problem.high, problem.too_short) == (duration, LOW, HIGH, too_short)
    again = window_problem(duration, LOW, HIGH)
    assert again is not None and (again.duration, again.low, again.high) == (duration, LOW, HIGH)


