"""Break-glass in the store: a session its requester starts at once, with no approver, reviewed after.

    insert_break_glass    the request, stored started (``approved``: its activation due at once) or, where the
                          requester must first prove themselves, waiting for that (``pending``, briefly); in one
                          transaction, serialised per requester, with the caps of any request and the break-glass
                          sessions they started in the past 24 hours (``guard``)
    start_break_glass     a waiting one started once its requester proved themselves: the same ``guard`` asked again
                          in that transaction (the rules and the day's allowance as they are now)
    review / flag         an approver's "Looks right" or "Stop and flag" (the flag asks the stop in the same write)
    remind_review         the approvers reminded that it awaits review (the next reminder at ``following``)
    break_glass_started   when a requester started each break-glass session since a moment, oldest first

Started means it left ``pending`` for ``approved`` (a withdrawn or expired one never started: it counts for nothing,
and nobody reviews it). Each is one transaction with its audit row (``break_glass``, ``reviewed``, ``flagged``,
``review_reminded``), conditional, so two approvers' clicks, or two replicas' reminders, count once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.domain import RequestView, State
from bot.domain.audit import SYSTEM, Action
from bot.domain.proof import Mfa
from bot.store.core import StoreCore
from bot.store.models import RequestRow, as_view, row_of
from bot.store.rows import add_audit, insert_row, live_rows, new_request, pending_count, rewrite
from bot.store.sql import SELECT_ROW, Row, Tx

#: The states of a break-glass session that started.
STARTED = (State.APPROVED.value, State.ACTIVE.value, State.STOPPED.value, State.FAILED.value)
_STARTED = (f"SELECT decided_at FROM requests WHERE requester_id = ? AND break_glass = ? AND decided_at > ? "
            f"AND state IN ({', '.join('?' * len(STARTED))}) ORDER BY decided_at")
_UNREVIEWED = [Row.reviewed_at.is_(None), Row.flagged_at.is_(None)]
_BREAK_GLASS = Row.break_glass == True  # noqa: E712 (a condition, not a comparison)
DAY = timedelta(hours=24)

#: What ``insert_break_glass`` and ``start_break_glass`` show their guard: the requester's open requests for the same
#: target, how many they have pending, and when they started each break-glass session in the past 24 hours.
Guard = Callable[[list[RequestView], int, list[datetime]], None]


class BreakGlassRecords(StoreCore):
    def insert_break_glass(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
                           reason: str, now: datetime, started: bool, wait_until: datetime,
                           review_remind_at: datetime | None, target: dict[str, str | None] | None,
                           rule_name: str | None, slack_lease_until: datetime, approval_mfa: Mfa, reveal_mfa: Mfa,
                           guard: Guard) -> RequestRow:
        """Store a break-glass request: ``started`` (``approved`` by its requester: its activation due at once, the
        first review reminder at ``review_remind_at``), else waiting for its requester's proof until ``wait_until``.
        ``guard`` raises to refuse (nothing is stored)."""
        with self.write() as s:
            self._serialised(s, requester_id)
            guard([as_view(row) for row in live_rows(s, requester_id, login_id, tenant)],
                  pending_count(s, requester_id), _started_since(s, requester_id, now - DAY))
            values: dict[str, Any] = dict(requester_id=requester_id, login_id=login_id, tenant=tenant,
                                          duration=duration, reason=reason, created_at=now, break_glass=True,
                                          rule_name=rule_name, approvals_needed=0, slack_lease_until=slack_lease_until,
                                          approval_mfa=approval_mfa.value if approval_mfa.needed else None,
                                          reveal_mfa=reveal_mfa.value if reveal_mfa.needed else None,
                                          **(target or {}))
            if started:
                values.update(state=State.APPROVED, pending_until=now, decided_by=requester_id, decided_at=now,
                              review_remind_at=review_remind_at)
            else:
                values.update(state=State.PENDING, pending_until=wait_until)
            row = insert_row(s, new_request(**values), actor=requester_id,
                             action=Action.BREAK_GLASS if started else Action.REQUESTED, detail=None)
        self.on_outcome("break_glass" if started else "submitted")
        return row

    def start_break_glass(self, request_id: str, requester_id: str, now: datetime, *,
                          review_remind_at: datetime | None, guard: Guard) -> RequestRow | None:
        """A break-glass request whose requester (``requester_id``) proved themselves, still waiting: started
        (``approved`` by them: its activation due at once), if ``guard`` lets it (it raises to refuse). ``None``: it
        no longer waits (withdrawn, expired)."""
        with self.write() as s:
            self._serialised(s, requester_id)
            waiting = s.row(_ROW, (request_id,))
            if waiting is None or not waiting.break_glass or waiting.state != State.PENDING.value or \
                    waiting.requester_id != requester_id or waiting.pending_until <= now:
                return None
            guard([as_view(row) for row in live_rows(s, requester_id, waiting.login_id, waiting.tenant)
                   if row.id != request_id],
                  pending_count(s, requester_id) - 1, _started_since(s, requester_id, now - DAY))
            written = rewrite(s, request_id, [Row.state == State.PENDING.value, _BREAK_GLASS],
                              {"state": State.APPROVED.value, "decided_by": requester_id, "decided_at": now,
                               "review_remind_at": review_remind_at}, bump=True)
            if written is None:
                return None
            add_audit(s, request_id, at=now, actor=requester_id, action=Action.BREAK_GLASS,
                      from_state=State.PENDING.value, to_state=State.APPROVED.value, detail=None)
            row = row_of(written[1])
        self.on_outcome("break_glass")
        return row

    def review(self, request_id: str, by: str, now: datetime) -> bool:
        """``by`` says the started break-glass session looks right (once: False when reviewed or flagged already)."""
        return self._record(request_id, actor=by, action=Action.REVIEWED, now=now,
                            where=[_BREAK_GLASS, Row.state.in_(STARTED), *_UNREVIEWED], reviewed_by=by,
                            reviewed_at=now, review_remind_at=None)

    def flag(self, request_id: str, by: str, now: datetime) -> bool:
        """``by`` flags the started break-glass session (once: False when reviewed or flagged already) and, while it
        runs or is being activated, asks its stop in the same write (a crash cannot leave it flagged and running)."""
        stopping: dict[str, bool] = {}

        def flagged(row: dict[str, Any]) -> dict[str, Any]:
            values: dict[str, Any] = {"flagged_by": by, "flagged_at": now, "review_remind_at": None}
            if row["state"] in (State.ACTIVE.value, State.APPROVED.value) and row["stop_requested_at"] is None:
                values.update(stop_requested_at=now, stop_requested_by=by)
                stopping["yes"] = True
            return values

        with self.write() as s:
            written = rewrite(s, request_id, [_BREAK_GLASS, Row.state.in_(STARTED), *_UNREVIEWED], flagged,
                              bump=True)
            if written is None:
                return False
            state = written[1]["state"]
            add_audit(s, request_id, at=now, actor=by, action=Action.FLAGGED, from_state=state, to_state=state,
                      detail=None)
            if stopping:
                add_audit(s, request_id, at=now, actor=by, action=Action.STOP_REQUESTED, from_state=state,
                          to_state=state, detail=None)
            return True

    def remind_review(self, request_id: str, due: datetime, *, following: datetime | None, sent: int,
                      detail: str, now: datetime) -> bool:
        """The review reminder due at ``due``, recorded once (the next at ``following``)."""
        return self._record(request_id, actor=SYSTEM, action=Action.REVIEW_REMINDED, now=now, detail=detail,
                            where=[Row.review_remind_at == due, *_UNREVIEWED], review_remind_at=following,
                            review_reminders_sent=sent)

    def break_glass_started(self, requester_id: str, since: datetime) -> list[datetime]:
        with self.db.read() as s:
            return _started_since(s, requester_id, since)

    def _serialised(self, tx: Tx, requester_id: str) -> None:
        """One requester's break-glass writes one after another (SQLite: ``BEGIN IMMEDIATE`` already serialises)."""
        if self.db.postgres:
            tx.one("SELECT pg_advisory_xact_lock(hashtext(?))", ("impersonation-requester:" + requester_id,))


_ROW = SELECT_ROW + " WHERE id = ?"


def _started_since(tx: Tx, requester_id: str, since: datetime) -> list[datetime]:
    return [moment for found in tx.all(_STARTED, (requester_id, True, since, *STARTED))
            if (moment := tx.moment(found[0])) is not None]
