"""Break-glass in the store: a session its requester starts at once, with no approver, reviewed after.

    insert_break_glass    the request, stored started (``approved``: its activation due at once) or,
                          where the requester must first prove themselves, waiting for that (``pending``, briefly);
                          in one transaction, serialised per requester, with the caps of any request and the number
                          of break-glass sessions they started in the past 24 hours
    start_break_glass     a waiting one started, once its requester proved themselves
    review / flag         an approver's "Looks right" or "Stop and flag" (the stop itself: ``Lifecycle.ask_stop``)
    remind_review         the approvers reminded that it awaits review (the next reminder at ``following``)
    break_glass_started   how many a requester started since a moment, and the oldest of them

Each is one transaction with its audit row (``break_glass``, ``reviewed``, ``flagged``, ``review_reminded``),
conditional, so two approvers' clicks, or two replicas' reminders, count once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain import RequestView, State
from bot.domain.audit import SYSTEM, Action
from bot.domain.proof import Mfa
from bot.store.core import StoreCore
from bot.store.models import RequestRow, as_view
from bot.store.rows import insert_row, live_rows, new_request, pending_count
from bot.store.sql import Row, Tx

_STARTED = ("SELECT count(*), min(decided_at) FROM requests WHERE requester_id = ? AND break_glass = ? "
            "AND decided_at > ?")
_UNREVIEWED = [Row.reviewed_at.is_(None), Row.flagged_at.is_(None)]
_BREAK_GLASS = Row.break_glass == True  # noqa: E712 (a condition, not a comparison)


class BreakGlassRecords(StoreCore):
    def insert_break_glass(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
                           reason: str, now: datetime, started: bool, wait_until: datetime,
                           review_remind_at: datetime | None, target: dict[str, str | None] | None,
                           rule_name: str | None, slack_lease_until: datetime, approval_mfa: Mfa,
                           guard: Callable[[list[RequestView], int, int, datetime | None], None]) -> RequestRow:
        """Store a break-glass request: ``started`` (``approved`` by its requester: its activation due at once, for
        whoever claims it), else waiting for its requester's proof until ``wait_until``. ``guard`` is shown
        the requester's open requests for the same target, how many they have pending, and how many break-glass
        sessions they started in the past 24 hours (and when the oldest of those), and raises to refuse."""
        with self.write() as s:
            if self.db.postgres:  # SQLite: BEGIN IMMEDIATE already serialises
                s.one("SELECT pg_advisory_xact_lock(hashtext(?))", ("impersonation-requester:" + requester_id,))
            count, oldest = _started_since(s, requester_id, now - timedelta(hours=24))
            guard([as_view(row) for row in live_rows(s, requester_id, login_id, tenant)],
                  pending_count(s, requester_id), count, oldest)
            values: dict[str, Any] = dict(requester_id=requester_id, login_id=login_id, tenant=tenant,
                                          duration=duration, reason=reason, created_at=now, break_glass=True,
                                          rule_name=rule_name, approvals_needed=0, slack_lease_until=slack_lease_until,
                                          review_remind_at=review_remind_at,
                                          approval_mfa=approval_mfa.value if approval_mfa.needed else None,
                                          **(target or {}))
            if started:
                values.update(state=State.APPROVED, pending_until=now, decided_by=requester_id, decided_at=now)
            else:
                values.update(state=State.PENDING, pending_until=wait_until)
            row = insert_row(s, new_request(**values), actor=requester_id,
                             action=Action.BREAK_GLASS if started else Action.REQUESTED, detail=None)
        self.on_outcome("break_glass" if started else "submitted")
        return row

    def start_break_glass(self, request_id: str, requester_id: str, now: datetime) -> RequestRow | None:
        """A break-glass request whose requester (``requester_id``) proved themselves: started (``approved`` by
        them: its activation due at once). ``None``: it no longer waits (withdrawn, expired)."""
        moved = self._transition_row(request_id, [State.PENDING], State.APPROVED, actor=requester_id,
                                     action=Action.BREAK_GLASS, now=now,
                                     where=[_BREAK_GLASS, Row.requester_id == requester_id],
                                     decided_by=requester_id, decided_at=now)
        return None if moved is None else moved[0]

    def review(self, request_id: str, by: str, now: datetime) -> bool:
        """``by`` says the break-glass session looks right (once: False when reviewed or flagged already)."""
        return self._record(request_id, actor=by, action=Action.REVIEWED, now=now,
                            where=[_BREAK_GLASS, *_UNREVIEWED], reviewed_by=by, reviewed_at=now,
                            review_remind_at=None)

    def flag(self, request_id: str, by: str, now: datetime) -> bool:
        """``by`` flags the break-glass session (once: False when reviewed or flagged already); its stop is asked for
        separately."""
        return self._record(request_id, actor=by, action=Action.FLAGGED, now=now,
                            where=[_BREAK_GLASS, *_UNREVIEWED], flagged_by=by, flagged_at=now,
                            review_remind_at=None)

    def remind_review(self, request_id: str, due: datetime, *, following: datetime | None, sent: int,
                      detail: str, now: datetime) -> bool:
        """The review reminder due at ``due``, recorded once (the next at ``following``)."""
        return self._record(request_id, actor=SYSTEM, action=Action.REVIEW_REMINDED, now=now, detail=detail,
                            where=[Row.review_remind_at == due, *_UNREVIEWED], review_remind_at=following,
                            review_reminders_sent=sent)

    def break_glass_started(self, requester_id: str, since: datetime) -> tuple[int, datetime | None]:
        with self.db.read() as s:
            return _started_since(s, requester_id, since)


def _started_since(tx: Tx, requester_id: str, since: datetime) -> tuple[int, datetime | None]:
    found = tx.one(_STARTED, (requester_id, True, since))
    return (int(found[0]), tx.moment(found[1])) if found else (0, None)
