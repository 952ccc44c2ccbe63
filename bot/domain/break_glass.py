"""Break-glass, as rules: a session its requester starts at once, with no approver, in an emergency, reviewed after by
its rule's approvers. What may be asked (``check_break_glass``), and the refusals, as data.

    BreakGlassRefused (PolicyViolation)
     ├── BreakGlassNotAllowed   the rules deciding the request do not allow break-glass (``break_glass``)
     ├── BreakGlassNoReason     a reason shorter than ``MIN_REASON`` characters
     ├── BreakGlassTooLong      a window longer than the cap (``break_glass_max_duration``): refused, never cut
     └── BreakGlassTooOften     ``break_glass_per_day`` started in the past 24 hours already: the next at ``next_at``
    MayNotReview (NotAllowed)   the requester reviewing their own, or someone not among its rule's approvers
    AlreadyReviewed             reviewed or flagged already (by whom: on the request)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.errors import DomainError, NotAllowed, PolicyViolation
from bot.domain.policy import Decision
from bot.domain.request import RequestView

MIN_REASON = 15
#: How long a break-glass request waits for its requester to prove themselves (``approval_mfa``) before it expires.
PROOF_WINDOW = timedelta(minutes=5)
DAY = timedelta(hours=24)


class BreakGlassRefused(PolicyViolation):
    #: What the audit trail calls the refusal (``Failure.description`` of the refused request it keeps).
    kind = "refused"


class BreakGlassNotAllowed(BreakGlassRefused):
    kind = "not_allowed"

    def __init__(self, login_id: str, rule: str) -> None:
        super().__init__(login_id, rule)
        self.login_id = login_id
        self.rule = rule


class BreakGlassNoReason(BreakGlassRefused):
    kind = "no_reason"

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


class BreakGlassTooLong(BreakGlassRefused):
    kind = "too_long"

    def __init__(self, asked: timedelta, cap: timedelta, rule: str) -> None:
        super().__init__(asked, cap, rule)
        self.asked = asked
        self.cap = cap
        self.rule = rule


class BreakGlassTooOften(BreakGlassRefused):
    kind = "too_often"

    def __init__(self, limit: int, next_at: datetime) -> None:
        super().__init__(limit, next_at)
        self.limit = limit
        self.next_at = next_at


class MayNotReview(NotAllowed):
    """``own``: the requester clicked on their own break-glass session; else not among its rule's approvers."""

    def __init__(self, request_id: str, user_id: str, *, own: bool) -> None:
        super().__init__(request_id, user_id, own)
        self.request_id = request_id
        self.user_id = user_id
        self.own = own


class AlreadyReviewed(DomainError):
    def __init__(self, request: RequestView) -> None:
        super().__init__(request.id)
        self.request = request


def check_break_glass(login_id: str, decision: Decision, window: timedelta, reason: str, *,
                      starts: Sequence[datetime]) -> None:
    """Raise unless the rules let this break-glass request go: they allow it, a reason long enough, a window within
    the cap, and fewer than the day's allowance started in the past 24 hours (``starts``: when each was, oldest
    first; the next is allowed a day after the one whose passing leaves room)."""
    if not decision.break_glass:
        raise BreakGlassNotAllowed(login_id, decision.name)
    if len(reason.strip()) < MIN_REASON:
        raise BreakGlassNoReason(len(reason.strip()))
    if window > decision.break_glass_max_duration:
        raise BreakGlassTooLong(window, decision.break_glass_max_duration, decision.name)
    limit = decision.break_glass_per_day
    if len(starts) >= limit:
        raise BreakGlassTooOften(limit, starts[len(starts) - limit] + DAY)
