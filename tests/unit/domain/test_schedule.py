"""``bot.domain.schedule``: what is due for a request, and when. The scheduler, the sweep and the tick all
ask it, so these are the promises a person sees kept: an unanswered request expires on time, an approval
is activated, a session ends at the end of its window (or at once when someone stops it), and Slack
catches up with every change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.domain import State
from bot.domain.schedule import (
    LEASE_GRACE,
    SCHEDULE_COLUMNS,
    Due,
    Schedulable,
    Work,
    due_now,
    next_alarm,
    next_due,
    schedule,
    warning_time,
)

T0 = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DECIDED = T0 + timedelta(minutes=1)
STARTED = T0 + timedelta(minutes=2)
ENDS = T0 + timedelta(minutes=32)
PENDING_UNTIL = T0 + timedelta(minutes=30)


@dataclass(frozen=True)
class Row:
    """The columns the schedule reads; by default a request Slack shows as it is (caught up)."""

    state: str
    created_at: datetime = T0
    pending_until: datetime = PENDING_UNTIL
    decided_at: datetime | None = None
    ends_at: datetime | None = None
    stop_requested_at: datetime | None = None
    delivered_at: datetime | None = None
    lease_until: datetime | None = None
    version: int = 1
    slack_version: int = 1
    slack_lease_until: datetime | None = None
    remind_at: datetime | None = None
    warn_at: datetime | None = None
    escalate_at: datetime | None = None
    review_remind_at: datetime | None = None


def pending(**changes: Any) -> Row:
    return replace(Row(State.PENDING.value), **changes)


def approved(**changes: Any) -> Row:
    return replace(Row(State.APPROVED.value, decided_at=DECIDED), **changes)


def active(**changes: Any) -> Row:
    row = Row(State.ACTIVE.value, decided_at=DECIDED, ends_at=ENDS, delivered_at=STARTED + SECOND)
    return replace(row, **changes)


def test_the_row_is_schedulable_and_covers_every_column() -> None:
    row: Schedulable = pending()
    assert row.state == "pending"
    assert set(SCHEDULE_COLUMNS) == set(Row.__dataclass_fields__)


# --- pending ---------------------------------------------------------------------------------------------


def test_a_pending_request_is_due_to_expire_at_pending_until() -> None:
    row = pending()
    assert schedule(row) == [Due(PENDING_UNTIL, Work.EXPIRE)]
    assert next_due(row) == PENDING_UNTIL
    assert due_now(row, PENDING_UNTIL - SECOND) == []
    assert due_now(row, PENDING_UNTIL) == [Work.EXPIRE]
    assert due_now(row, PENDING_UNTIL + timedelta(hours=1)) == [Work.EXPIRE]  # overdue is still due


def test_a_pending_request_accepts_a_state_given_as_the_enum() -> None:
    assert schedule(replace(pending(), state=State.PENDING)) == [Due(PENDING_UNTIL, Work.EXPIRE)]


def test_a_pending_request_is_due_a_reminder_at_remind_at_before_it_expires() -> None:
    remind = T0 + timedelta(minutes=15)
    row = pending(remind_at=remind)
    assert schedule(row) == [Due(remind, Work.REMIND), Due(PENDING_UNTIL, Work.EXPIRE)]
    assert next_alarm(row, T0) == remind
    assert due_now(row, remind) == [Work.REMIND]
    assert due_now(row, PENDING_UNTIL) == [Work.EXPIRE, Work.REMIND]  # expiry first: then no reminder is owed
    assert schedule(pending(remind_at=PENDING_UNTIL)) == [Due(PENDING_UNTIL, Work.EXPIRE)]  # too late to remind
    assert schedule(approved(remind_at=remind)) == [Due(DECIDED, Work.ACTIVATE)]  # decided: no more reminders


def test_a_break_glass_session_is_reminded_for_review_whatever_its_state() -> None:
    remind = T0 + timedelta(hours=1)
    ended = replace(Row(State.STOPPED.value), review_remind_at=remind)
    for row in (active(review_remind_at=remind), ended):
        assert Due(remind, Work.REMIND_REVIEW) in schedule(row)
        assert next_alarm(row, T0) is not None and Work.REMIND_REVIEW in due_now(row, remind)
    assert schedule(Row(State.STOPPED.value)) == []  # reviewed (no reminder set): nothing more


def test_a_pending_request_is_looked_at_for_escalation_at_escalate_at_before_it_expires() -> None:
    look = T0 + timedelta(seconds=1)
    row = pending(escalate_at=look)
    assert schedule(row) == [Due(look, Work.ESCALATE), Due(PENDING_UNTIL, Work.EXPIRE)]
    assert next_alarm(row, T0) == look and due_now(row, look) == [Work.ESCALATE]
    assert due_now(row, PENDING_UNTIL) == [Work.EXPIRE, Work.ESCALATE]  # expiry first: then nothing escalates
    assert schedule(pending(escalate_at=PENDING_UNTIL)) == [Due(PENDING_UNTIL, Work.EXPIRE)]
    assert schedule(approved(escalate_at=look)) == [Due(DECIDED, Work.ACTIVATE)]  # decided: nothing to escalate


# --- approved ---------------------------------------------------------------------------------------------


def test_an_approved_request_is_due_to_activate_at_once() -> None:
    row = approved()
    assert schedule(row) == [Due(DECIDED, Work.ACTIVATE)]
    assert due_now(row, DECIDED) == [Work.ACTIVATE]


def test_an_approved_request_without_decided_at_is_due_from_its_creation() -> None:
    assert schedule(approved(decided_at=None)) == [Due(T0, Work.ACTIVATE)]


def test_an_approved_request_under_a_lease_is_due_just_after_the_lease_ends() -> None:
    lease = DECIDED + timedelta(seconds=60)
    row = approved(lease_until=lease)
    assert schedule(row) == [Due(lease + LEASE_GRACE, Work.ACTIVATE)]
    assert due_now(row, DECIDED + SECOND) == []  # another worker is activating it
    assert due_now(row, lease) == []  # the lease is still held at its last instant
    assert due_now(row, lease + LEASE_GRACE) == [Work.ACTIVATE]  # that worker died: take over
    assert LEASE_GRACE < SECOND


def test_a_lease_that_ended_before_the_work_fell_due_does_not_delay_it() -> None:
    assert schedule(approved(lease_until=DECIDED - timedelta(minutes=5))) == [Due(DECIDED, Work.ACTIVATE)]


# --- active -----------------------------------------------------------------------------------------------


def test_an_active_session_is_due_to_stop_at_ends_at() -> None:
    row = active()
    assert schedule(row) == [Due(ENDS, Work.STOP)]
    assert due_now(row, ENDS - SECOND) == []
    assert due_now(row, ENDS) == [Work.STOP]


def test_a_stop_request_is_due_at_once() -> None:
    asked = STARTED + timedelta(minutes=5)
    row = active(stop_requested_at=asked)
    assert schedule(row) == [Due(asked, Work.STOP)]
    assert due_now(row, asked) == [Work.STOP]
    assert next_due(row) == asked


def test_a_stop_is_not_due_while_another_workers_lease_holds_the_session() -> None:
    asked = STARTED + timedelta(minutes=5)
    lease = asked + timedelta(seconds=30)
    row = active(stop_requested_at=asked, lease_until=lease)
    assert due_now(row, asked + SECOND) == []
    assert due_now(row, lease) == []
    assert due_now(row, lease + LEASE_GRACE) == [Work.STOP]
    assert schedule(row) == [Due(lease + LEASE_GRACE, Work.STOP)]


def test_a_window_end_under_a_lease_waits_for_the_lease() -> None:
    lease = ENDS + timedelta(seconds=10)  # a stop attempt failed: retried when its back-off lease ends
    row = active(lease_until=lease)
    assert due_now(row, ENDS) == []
    assert schedule(row) == [Due(lease + LEASE_GRACE, Work.STOP)]


def test_an_active_session_without_an_end_has_nothing_to_stop() -> None:
    assert schedule(active(ends_at=None)) == []


# --- Slack ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [pending(), approved(), active()], ids=["pending", "approved", "active"])
def test_slack_work_is_due_when_slack_is_behind(row: Row) -> None:
    behind = replace(row, version=3, slack_version=2)
    assert Due(T0, Work.SYNC_SLACK) in schedule(behind)
    assert Work.SYNC_SLACK in due_now(behind, T0)
    assert Work.SYNC_SLACK not in due_now(row, T0 + timedelta(hours=1))


def test_an_undelivered_active_session_needs_slack() -> None:
    row = active(delivered_at=None)
    assert schedule(row) == [Due(T0, Work.SYNC_SLACK), Due(ENDS, Work.STOP)]
    assert due_now(row, STARTED) == [Work.SYNC_SLACK]


@pytest.mark.parametrize("state", [State.PENDING, State.APPROVED, State.STOPPED])
def test_undelivered_matters_only_while_active(state: State) -> None:
    row = Row(state.value, decided_at=DECIDED, ends_at=ENDS, delivered_at=None)
    assert Work.SYNC_SLACK not in [d.work for d in schedule(row)]


def test_slack_work_waits_for_the_slack_lease() -> None:
    lease = T0 + timedelta(minutes=3)
    row = active(version=2, slack_version=1, slack_lease_until=lease)
    assert Due(lease + LEASE_GRACE, Work.SYNC_SLACK) in schedule(row)
    assert due_now(row, lease) == []
    assert due_now(row, lease + LEASE_GRACE) == [Work.SYNC_SLACK]


def test_the_slack_lease_does_not_hold_back_state_work() -> None:
    row = pending(version=2, slack_version=1, slack_lease_until=PENDING_UNTIL + timedelta(minutes=1))
    assert due_now(row, PENDING_UNTIL) == [Work.EXPIRE]


# --- final states ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.STOPPED, State.DENIED, State.EXPIRED, State.FAILED])
def test_a_final_row_caught_up_has_nothing_due(state: State) -> None:
    row = Row(state.value, decided_at=DECIDED, ends_at=ENDS, stop_requested_at=STARTED, version=5, slack_version=5)
    assert schedule(row) == []
    assert next_due(row) is None
    assert next_alarm(row, T0) is None
    assert due_now(row, T0 + timedelta(days=1)) == []


@pytest.mark.parametrize("state", [State.STOPPED, State.DENIED, State.EXPIRED, State.FAILED])
def test_a_final_row_still_tells_slack(state: State) -> None:
    row = Row(state.value, version=5, slack_version=4)
    assert schedule(row) == [Due(T0, Work.SYNC_SLACK)]
    assert due_now(row, T0) == [Work.SYNC_SLACK]


# --- order and alarms -------------------------------------------------------------------------------------


def test_due_now_does_state_work_before_slack() -> None:
    # Slack work is dated earlier (the row's creation), but the state change goes first.
    row = pending(version=2, slack_version=1)
    assert schedule(row)[0].work is Work.SYNC_SLACK
    assert due_now(row, PENDING_UNTIL) == [Work.EXPIRE, Work.SYNC_SLACK]
    ended = active(delivered_at=None)
    assert due_now(ended, ENDS) == [Work.STOP, Work.SYNC_SLACK]
    assert due_now(approved(version=2, slack_version=1), DECIDED) == [Work.ACTIVATE, Work.SYNC_SLACK]


def test_schedule_is_earliest_first_and_next_due_is_its_head() -> None:
    row = active(delivered_at=None)
    assert schedule(row) == sorted(schedule(row))
    assert next_due(row) == T0


def test_next_alarm_ignores_slack_work() -> None:
    row = pending(version=2, slack_version=1)
    assert next_due(row) == T0  # the sweep finds it at once
    assert next_alarm(row, T0) == PENDING_UNTIL  # but no alarm is armed for Slack


def test_next_alarm_ignores_past_times() -> None:
    assert next_alarm(pending(), PENDING_UNTIL - SECOND) == PENDING_UNTIL
    assert next_alarm(pending(), PENDING_UNTIL) is None
    assert next_alarm(approved(), DECIDED + SECOND) is None  # due already: the tick does it, no alarm
    assert next_alarm(active(), STARTED) == ENDS
    assert next_alarm(active(), ENDS + SECOND) is None


def test_next_alarm_wakes_when_a_lease_runs_out() -> None:
    lease = DECIDED + timedelta(seconds=60)
    assert next_alarm(approved(lease_until=lease), DECIDED) == lease + LEASE_GRACE


def test_an_active_session_is_due_its_warning_before_its_end_unless_stopping() -> None:
    warn = ENDS - timedelta(minutes=5)
    row = active(warn_at=warn)
    assert schedule(row) == [Due(warn, Work.WARN), Due(ENDS, Work.STOP)]
    assert next_due(row) == warn and due_now(row, warn) == [Work.WARN]
    assert due_now(row, ENDS) == [Work.STOP, Work.WARN]  # both late: the stop first (the tick returns after it)
    assert schedule(active(warn_at=warn, stop_requested_at=STARTED)) == [Due(STARTED, Work.STOP)]
    assert schedule(active(warn_at=ENDS)) == [Due(ENDS, Work.STOP)]  # not before the end: no warning


def test_the_warning_time_is_the_warning_before_the_end_for_long_enough_windows() -> None:
    five = timedelta(minutes=5)
    assert warning_time(STARTED, STARTED + timedelta(minutes=30), five) == STARTED + timedelta(minutes=25)
    assert warning_time(STARTED, STARTED + timedelta(minutes=10), five) == STARTED + timedelta(minutes=5)
    assert warning_time(STARTED, STARTED + timedelta(minutes=9), five) is None  # shorter than twice the warning
    assert warning_time(STARTED, STARTED + timedelta(minutes=30), timedelta(0)) is None  # off
