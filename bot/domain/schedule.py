"""What is due for a request, and when: the one answer the scheduler, the sweep and the tick all ask.

``schedule(row)`` lists each piece of work the row is waiting for with the moment it falls due;
``next_due(row)`` is the earliest of them. The store writes that moment into ``requests.next_due_at``
on every write (indexed), so the sweep finds due rows with one range scan, the scheduler arms one
alarm per request at it, and ``Ticker.tick`` does whatever ``due_now`` says.

Work that calls out runs under a lease (``lease_until`` for the request's own work, ``slack_lease_until``
for the Slack projection): while a lease is held the work is not due; it falls due ``LEASE_GRACE`` after
the lease ends (a lease is free once ``lease_until < now``), so a worker that died is replaced then.

"Due now" has no clock here: such work is dated by the row's own past (when it was decided, started,
asked to stop, created), which every ``now`` has passed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.states import State

LEASE_GRACE = timedelta(milliseconds=20)


class Work(enum.StrEnum):
    EXPIRE = "expire"  # a pending request nobody answered in time
    ACTIVATE = "activate"  # an approval whose token is not minted yet
    STOP = "stop"  # a session past its window, or asked to stop
    REMIND = "remind"  # a pending request's next reminder to the approvers
    ESCALATE = "escalate"  # a pending request looked at for escalation (no approver active, or waited too long)
    REMIND_REVIEW = "remind_review"  # a break-glass session's approvers reminded to review it (even once it ended)
    WARN = "warn"  # the requester warned that the session ends soon (EXPIRY_WARNING)
    SYNC_SLACK = "sync_slack"  # Slack does not show the row's latest version (or the token is not delivered)


class Schedulable(Protocol):
    """The columns the schedule reads (a ``RequestRow`` or a row of ``SCHEDULE_COLUMNS``)."""

    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def pending_until(self) -> datetime: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def stop_requested_at(self) -> datetime | None: ...
    @property
    def delivered_at(self) -> datetime | None: ...
    @property
    def lease_until(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...
    @property
    def slack_version(self) -> int: ...
    @property
    def slack_lease_until(self) -> datetime | None: ...
    @property
    def remind_at(self) -> datetime | None: ...
    @property
    def warn_at(self) -> datetime | None: ...
    @property
    def escalate_at(self) -> datetime | None: ...
    @property
    def review_remind_at(self) -> datetime | None: ...


#: The names of those columns, for queries that fetch only what the schedule needs.
SCHEDULE_COLUMNS = ("state", "created_at", "pending_until", "decided_at", "ends_at", "stop_requested_at",
                    "delivered_at", "lease_until", "version", "slack_version", "slack_lease_until", "remind_at",
                    "warn_at", "escalate_at", "review_remind_at")


@dataclass(frozen=True, order=True)
class Due:
    at: datetime
    work: Work


def _after_lease(at: datetime, lease_until: datetime | None) -> datetime:
    return at if lease_until is None else max(at, lease_until + LEASE_GRACE)


def schedule(row: Schedulable) -> list[Due]:
    """Every piece of work the request waits for, earliest first (empty: nothing more will happen)."""
    state = State(row.state)
    due: list[Due] = []
    if state is State.PENDING:
        due.append(Due(row.pending_until, Work.EXPIRE))
        if row.remind_at is not None and row.remind_at < row.pending_until:
            due.append(Due(row.remind_at, Work.REMIND))
        if row.escalate_at is not None and row.escalate_at < row.pending_until:
            due.append(Due(row.escalate_at, Work.ESCALATE))
    elif state is State.APPROVED:
        due.append(Due(_after_lease(row.decided_at or row.created_at, row.lease_until), Work.ACTIVATE))
    elif state is State.ACTIVE:
        end = row.stop_requested_at if row.stop_requested_at is not None else row.ends_at
        if end is not None:
            due.append(Due(_after_lease(end, row.lease_until), Work.STOP))
            if row.warn_at is not None and row.stop_requested_at is None and row.warn_at < end:
                due.append(Due(row.warn_at, Work.WARN))
    if row.review_remind_at is not None:  # whatever the state: a break-glass session is reviewed after it ended too
        due.append(Due(row.review_remind_at, Work.REMIND_REVIEW))
    undelivered = state is State.ACTIVE and row.delivered_at is None
    if row.slack_version < row.version or undelivered:
        due.append(Due(_after_lease(row.created_at, row.slack_lease_until), Work.SYNC_SLACK))
    return sorted(due)


def warning_time(started_at: datetime, ends_at: datetime, warning: timedelta) -> datetime | None:
    """When to warn the requester that a session ends (``EXPIRY_WARNING`` before), or ``None``: warnings off, or
    a window shorter than twice the warning (the warning would come before half the session had passed)."""
    if not warning or ends_at - started_at < 2 * warning:
        return None
    return ends_at - warning


def next_due(row: Schedulable) -> datetime | None:
    """When the request next needs work (``requests.next_due_at``); ``None`` when it never will."""
    due = schedule(row)
    return due[0].at if due else None


def next_alarm(row: Schedulable, now: datetime) -> datetime | None:
    """When to wake for the request's next state work after ``now`` (``None``: no alarm). Slack work is not
    armed: whoever changes a row kicks its sync at once, and the sweep catches a failed one."""
    upcoming = [d.at for d in schedule(row) if d.work is not Work.SYNC_SLACK and d.at > now]
    return min(upcoming, default=None)


def due_now(row: Schedulable, now: datetime) -> list[Work]:
    """The work due at ``now``, in the order to do it (state changes before Slack)."""
    return [d.work for d in sorted(schedule(row), key=lambda d: list(Work).index(d.work)) if d.at <= now]
