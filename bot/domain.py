"""The impersonation request: its states, the moves between them, and who may make them.

Pure: no Slack, no HTTP, no SQL. The service asks this module *whether* something may happen;
the store makes it happen atomically.

    pending ──approve──▶ approved ──activate──▶ active ──stop/expire──▶ stopped
       │                    │
       ├──deny──▶ denied    └──Descope refused──▶ failed
       └──nobody answered──▶ expired
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.durations import format_duration


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

#: Every allowed move. Anything else is refused by ``check_transition``.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.APPROVED, State.DENIED, State.EXPIRED}),
    State.APPROVED: frozenset({State.ACTIVE, State.FAILED}),
    State.ACTIVE: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
    State.DENIED: frozenset(),
    State.EXPIRED: frozenset(),
    State.FAILED: frozenset(),
}


class DomainError(Exception):
    """A user asked for something the rules do not allow. The message is shown to them."""


class NotFound(DomainError):
    pass


class NotAllowed(DomainError):
    pass


class PolicyViolation(DomainError):
    pass


class AlreadyDecided(DomainError):
    """A click on a request that is no longer pending."""

    def __init__(self, request: RequestView) -> None:
        self.request = request
        super().__init__(describe_outcome(request))


class InvalidTransition(Exception):
    """A programming error: the code tried a move the state machine forbids."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(f"{current} → {target} is not an allowed transition")


@dataclass(frozen=True)
class Draft:
    """A request as typed, before it is stored."""

    login_id: str
    duration: timedelta
    reason: str
    tenant: str | None = None


@dataclass(frozen=True)
class RequestView:
    """A stored request as the rest of the program sees it (never carries the token)."""

    id: str
    requester_id: str
    login_id: str
    tenant: str | None
    duration: timedelta
    reason: str
    state: State
    created_at: datetime
    pending_until: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = None
    stopped_at: datetime | None = None
    stopped_by: str | None = None
    stop_requested_at: datetime | None = None
    failure: str | None = None
    channel_id: str | None = None
    channel_ts: str | None = None

    @property
    def stopping(self) -> bool:
        return self.state is State.ACTIVE and self.stop_requested_at is not None


def describe_outcome(request: RequestView) -> str:
    """One sentence on where a request stands, for someone clicking on it late."""
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    match request.state:
        case State.PENDING:
            return f"Request `{request.id}` is still waiting for approval."
        case State.APPROVED | State.ACTIVE:
            return f"Request `{request.id}` was already approved{who}."
        case State.STOPPED:
            return f"Request `{request.id}` was already approved{who}, and its session has ended."
        case State.DENIED:
            return f"Request `{request.id}` was already denied{who}."
        case State.EXPIRED:
            return f"Request `{request.id}` already expired: nobody answered it in time."
        case State.FAILED:
            return f"Request `{request.id}` was approved{who} but failed: its approval message says why."


def check_duration(duration: timedelta, low: timedelta, high: timedelta) -> str | None:
    """``None`` when allowed, else why not (in words for the user)."""
    if duration < low:
        return f"the shortest window allowed is {format_duration(low)}"
    if duration > high:
        return f"the longest window allowed is {format_duration(high)}"
    return None


def check_approver(clicker: str, requester: str, is_approver: bool) -> None:
    """Raise ``NotAllowed`` unless ``clicker`` may decide on ``requester``'s request."""
    if clicker == requester:
        raise NotAllowed("You cannot approve or deny your own request: another approver has to.")
    if not is_approver:
        raise NotAllowed("Only approvers can approve or deny impersonation requests.")


def check_may_stop(actor: str, request: RequestView, is_approver: bool) -> None:
    if actor != request.requester_id and not is_approver:
        raise NotAllowed("Only the requester or an approver can stop this session.")


def is_member(user_id: str, principals: Collection[str], group_members: Collection[str]) -> bool:
    """Direct membership, or membership through one of the listed user groups (already resolved)."""
    return user_id in principals or user_id in group_members
