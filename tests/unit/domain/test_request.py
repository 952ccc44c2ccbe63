"""``bot.domain.request``: what a stored request says about itself."""

from __future__ import annotations

import pytest

from bot.domain import State
from tests.unit.factories import T0, view


def test_stopping_property() -> None:
    assert not view(State.ACTIVE).stopping
    assert view(State.ACTIVE, stop_requested_at=T0).stopping
    assert not view(State.STOPPED, stop_requested_at=T0).stopping


@pytest.mark.parametrize(("state", "decided_by", "withdrawn"), [
    (State.DENIED, "UREQ", True),  # denied by the requester themself
    (State.DENIED, "UBO", False),
    (State.APPROVED, "UREQ", False),
    (State.PENDING, None, False),
])
def test_withdrawn_is_a_denial_by_the_requester(state: State, decided_by: str | None, withdrawn: bool) -> None:
    assert view(state, decided_by=decided_by).withdrawn is withdrawn
