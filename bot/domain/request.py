"""A request as typed (``Draft``) and as stored (``RequestView``, which never carries the token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.outcomes import Failure, Legacy
from bot.domain.states import State
from bot.domain.target import Target


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
    failure: Failure | Legacy | None = None
    channel_id: str | None = None
    channel_ts: str | None = None
    next_due_at: datetime | None = None
    delivery: str | None = None  # "reveal" or "dm", once the session has started
    target: Target | None = None  # the pre-flight's look-up (None: stored before it existed)

    @property
    def stopping(self) -> bool:
        return self.state is State.ACTIVE and self.stop_requested_at is not None

    @property
    def withdrawn(self) -> bool:
        """Denied by the requester themself."""
        return self.state is State.DENIED and self.decided_by == self.requester_id
