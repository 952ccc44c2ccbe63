"""``bot.domain``: the state machine and the rules on who may do what. Pure functions, no I/O."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import (
    FINAL_STATES,
    TRANSITIONS,
    AlreadyDecided,
    DomainError,
    InvalidTransition,
    NotAllowed,
    RequestView,
    State,
    check_approver,
    check_duration,
    check_may_stop,
    check_transition,
    describe_outcome,
    is_member,
)

T0 = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)

ALLOWED = {
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.DENIED),
    (State.PENDING, State.EXPIRED),
    (State.APPROVED, State.ACTIVE),
    (State.APPROVED, State.FAILED),
    (State.ACTIVE, State.STOPPED),
}
ALL_PAIRS = list(itertools.product(State, State))


def view(state: State = State.PENDING, **changes: object) -> RequestView:
    fields: dict[str, object] = {
        "id": "K7M2QX9A",
        "requester_id": "UREQ",
        "login_id": "jane@acme.com",
        "tenant": None,
        "duration": timedelta(minutes=30),
        "reason": "checking invoice",
        "state": state,
        "created_at": T0,
        "pending_until": T0 + timedelta(minutes=30),
    }
    fields.update(changes)
    return RequestView(**fields)  # type: ignore[arg-type]


def test_transition_table_is_exactly_the_design() -> None:
    table = {(s, t) for s, targets in TRANSITIONS.items() for t in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition(current: State, target: State) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_refused_transition(current: State, target: State) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, target)
    assert str(current) in str(info.value) and str(target) in str(info.value)


def test_invalid_transition_is_a_programming_error_not_a_user_error() -> None:
    assert not issubclass(InvalidTransition, DomainError)


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_final_states_have_no_way_out(state: State) -> None:
    assert state.is_final
    assert TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize("state", [State.PENDING, State.APPROVED, State.ACTIVE])
def test_live_states_are_not_final(state: State) -> None:
    assert not state.is_final
    assert TRANSITIONS[state]


def test_every_state_is_reachable_from_pending() -> None:
    seen, frontier = {State.PENDING}, [State.PENDING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(State)


def test_state_values_are_the_stored_strings() -> None:
    assert [s.value for s in State] == ["pending", "approved", "active", "stopped", "denied", "expired", "failed"]
    assert f"{State.ACTIVE}" == "active"


# --- describe_outcome ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "changes", "expected"),
    [
        (State.PENDING, {}, "Request `K7M2QX9A` is still waiting for approval."),
        (State.APPROVED, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already approved by <@UBO>."),
        (State.ACTIVE, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already approved by <@UBO>."),
        (State.APPROVED, {}, "Request `K7M2QX9A` was already approved."),
        (State.STOPPED, {"decided_by": "UBO"},
         "Request `K7M2QX9A` was already approved by <@UBO>, and its session has ended."),
        (State.DENIED, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already denied by <@UBO>."),
        (State.EXPIRED, {}, "Request `K7M2QX9A` already expired: nobody answered it in time."),
        # The failure text holds what the requester typed: it stays in the (escaped) approval message.
        (State.FAILED, {"decided_by": "UBO", "failure": "no user <https://evil.example|x>"},
         "Request `K7M2QX9A` was approved by <@UBO> but failed: its approval message says why."),
    ],
)
def test_describe_outcome(state: State, changes: dict[str, object], expected: str) -> None:
    assert describe_outcome(view(state, **changes)) == expected


@pytest.mark.parametrize("state", list(State))
def test_describe_outcome_covers_every_state(state: State) -> None:
    text = describe_outcome(view(state, decided_by="UBO"))
    assert isinstance(text, str)
    assert "K7M2QX9A" in text


def test_already_decided_carries_request_and_message() -> None:
    request = view(State.DENIED, decided_by="UBO")
    error = AlreadyDecided(request)
    assert error.request is request
    assert str(error) == describe_outcome(request)
    assert isinstance(error, DomainError)


# --- who may do what -----------------------------------------------------------------------------------


def test_approver_may_decide_on_someone_elses_request() -> None:
    check_approver("UBO", "UREQ", is_approver=True)


def test_self_approval_is_refused_even_for_an_approver() -> None:
    with pytest.raises(NotAllowed, match="your own request"):
        check_approver("UREQ", "UREQ", is_approver=True)


def test_self_approval_is_refused_for_a_non_approver() -> None:
    with pytest.raises(NotAllowed, match="your own request"):
        check_approver("UREQ", "UREQ", is_approver=False)


def test_non_approver_is_refused() -> None:
    with pytest.raises(NotAllowed, match="Only approvers"):
        check_approver("UBO", "UREQ", is_approver=False)


def test_not_allowed_is_a_domain_error() -> None:
    assert issubclass(NotAllowed, DomainError)


@pytest.mark.parametrize(
    ("actor", "is_approver"),
    [("UREQ", False), ("UREQ", True), ("UBO", True)],
)
def test_may_stop(actor: str, is_approver: bool) -> None:
    check_may_stop(actor, view(State.ACTIVE), is_approver)


def test_stranger_may_not_stop() -> None:
    with pytest.raises(NotAllowed, match="requester or an approver"):
        check_may_stop("USTRANGER", view(State.ACTIVE), is_approver=False)


LOW, HIGH = timedelta(minutes=1), timedelta(hours=4)


@pytest.mark.parametrize("duration", [LOW, timedelta(minutes=30), HIGH])
def test_check_duration_within_bounds(duration: timedelta) -> None:
    assert check_duration(duration, LOW, HIGH) is None


def test_check_duration_too_short() -> None:
    assert check_duration(timedelta(seconds=59), LOW, HIGH) == "the shortest window allowed is 1m"


def test_check_duration_too_long() -> None:
    assert check_duration(HIGH + timedelta(seconds=1), LOW, HIGH) == "the longest window allowed is 4h"


def test_is_member() -> None:
    assert is_member("U1", {"U1", "S9"}, set())
    assert is_member("U2", {"U1", "S9"}, {"U2", "U3"})
    assert not is_member("U4", {"U1", "S9"}, {"U2", "U3"})
    assert not is_member("U1", (), ())


def test_stopping_property() -> None:
    assert not view(State.ACTIVE).stopping
    assert view(State.ACTIVE, stop_requested_at=T0).stopping
    assert not view(State.STOPPED, stop_requested_at=T0).stopping
