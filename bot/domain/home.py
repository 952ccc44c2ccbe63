"""What a person's App Home shows, as data: their own requests, and, for approvers, the requests waiting for
them (never their own) and the live sessions. Each list is capped (Slack allows 100 blocks on a Home) and
knows how many it leaves out, so the Home can say "+N more"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.request import RequestView

#: How many of each list a Home shows (the Home view stays well under Slack's 100 blocks).
MINE_SHOWN = 10
AWAITING_SHOWN = 15
SESSIONS_SHOWN = 20
#: How many waiting requests are read to find those waiting for one approver (whose rules name them).
AWAITING_SCAN = 500
TO_REVIEW_SHOWN = 10


@dataclass(frozen=True)
class Listed:
    """The first requests of a list, and how many the whole list holds."""

    shown: tuple[RequestView, ...] = ()
    total: int = 0

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.shown))


@dataclass(frozen=True)
class Home:
    """One person's Home at ``at``. ``awaiting`` and ``sessions`` are ``None`` unless they are an approver."""

    user_id: str
    at: datetime
    mine: Listed  # open requests first, then the latest ended ones
    awaiting: Listed | None = None  # pending requests of others, oldest first (the next to expire on top)
    sessions: Listed | None = None  # approved and active sessions, everyone's
    stoppable: frozenset[str] = frozenset()  # the sessions listed that this person may stop (their rules')
    to_review: Listed | None = None  # break-glass sessions of others awaiting review that this person may review

    @property
    def approver(self) -> bool:
        return self.awaiting is not None
