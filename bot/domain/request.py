"""A request as typed (``Draft``) and as stored (``RequestView``, which never carries the token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.outcomes import Failure, Legacy
from bot.domain.proof import Mfa
from bot.domain.states import State
from bot.domain.target import Target


@dataclass(frozen=True)
class Draft:
    """A request as typed, before it is stored."""

    login_id: str
    duration: timedelta | None  # None: the rule's default window
    reason: str
    tenant: str | None = None
    break_glass: bool = False  # an emergency: the session starts at once, with no approver, and is reviewed after


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
    rule_name: str | None = None  # the POLICY_FILE rule that decided it (None: the environment's settings)
    approvals_needed: int = 1
    approved_by: tuple[str, ...] = ()  # who approved so far (all of them, once approved)
    extends: str | None = None  # an extension: the session it extends
    extended_by: str | None = None  # a session an extension replaced: that extension
    approval_mfa: Mfa = Mfa.NONE  # the second factor each approver proves themselves with (none: a click)
    reveal_mfa: Mfa = Mfa.NONE  # the one the requester proves themselves with before Show token shows the token
    proved: tuple[tuple[str, Mfa], ...] = ()  # the approvers who proved themselves, and how
    escalated_at: datetime | None = None  # when it escalated (nobody answered in time, or no approver was active)
    escalated_to: tuple[str, ...] = ()  # the user and group IDs who may decide it since
    break_glass: bool = False  # started at once by its requester, with no approver: reviewed after
    reviewed_by: str | None = None  # the approver who said a break-glass session looks right
    reviewed_at: datetime | None = None
    flagged_by: str | None = None  # … or stopped and flagged it
    flagged_at: datetime | None = None

    @property
    def awaiting_review(self) -> bool:
        """A break-glass session that started and nobody has reviewed or flagged yet."""
        return (self.break_glass and self.reviewed_at is None and self.flagged_at is None
                and self.state in (State.APPROVED, State.ACTIVE, State.STOPPED, State.FAILED))

    def proof_of(self, approver: str) -> Mfa | None:
        """How ``approver`` proved themselves when approving (``None``: a click alone)."""
        return dict(self.proved).get(approver)

    @property
    def counted(self) -> tuple[str, ...]:
        """The approvers whose approval counts: each, or where the request asks a second factor, those who proved
        themselves with it."""
        return tuple(a for a in self.approved_by if self.approval_mfa.satisfied_by(self.proof_of(a)))

    @property
    def approvals_missing(self) -> int:
        return max(0, self.approvals_needed - len(self.counted))

    @property
    def stopping(self) -> bool:
        return self.state is State.ACTIVE and self.stop_requested_at is not None

    @property
    def withdrawn(self) -> bool:
        """Denied by the requester themself."""
        return self.state is State.DENIED and self.decided_by == self.requester_id
