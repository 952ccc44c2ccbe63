"""``bot.domain.states``: the state machine. Pure functions, no I/O."""

from __future__ import annotations

import itertools

import pytest

from bot.domain import FINAL_STATES, LIVE_STATES, TRANSITIONS, DomainError, InvalidTransition, State, check_transition

ALLOWED = {
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.DENIED),
    (State.PENDING, State.EXPIRED),
    (State.APPROVED, State.ACTIVE),
    (State.APPROVED, State.FAILED),
    (State.ACTIVE, State.STOPPED),
    (State.PENDING, State.FAILED),  # the requester lost the right to ask before the approval counted
    (State.APPROVED, State.STOPPED),  # called off while being activated, before a token was minted
}
ALL_PAIRS = list(itertools.product(State, State))


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


def test_live_and_final_states_are_every_state_once() -> None:
    assert set(LIVE_STATES) | FINAL_STATES == set(State)
    assert not set(LIVE_STATES) & FINAL_STATES


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
