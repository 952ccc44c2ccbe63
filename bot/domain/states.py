"""The request's states and the only moves between them.

    pending ──approve──▶ approved ──activate──▶ active ──stop/expire──▶ stopped
       │                    │   │                                     ▲
       ├──deny──▶ denied    │   └──stopped while being activated───────┘  (no token was minted)
       ├──nobody answered──▶ expired
       └──requester lost the right──▶ failed ◀──Descope refused──┘

``Store.transition`` checks every move against ``TRANSITIONS`` before it writes.
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    STOPPED = "stopped"
    DENIED = "denied"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({State.STOPPED, State.DENIED, State.EXPIRED, State.FAILED})
LIVE_STATES = (State.PENDING, State.APPROVED, State.ACTIVE)

#: Every allowed move. Anything else is refused by ``check_transition``.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.APPROVED, State.DENIED, State.EXPIRED, State.FAILED}),
    State.APPROVED: frozenset({State.ACTIVE, State.FAILED, State.STOPPED}),
    State.ACTIVE: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
    State.DENIED: frozenset(),
    State.EXPIRED: frozenset(),
    State.FAILED: frozenset(),
}


class InvalidTransition(Exception):
    """A programming error: the code tried a move the state machine forbids."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"{current} → {target} is not an allowed transition")
