"""``Store`` keeps ``requests.next_due_at`` never later than what the schedule says: exact after a write that
moves the schedule, possibly early (never late) after taking or renewing a lease, and exact again after a
lease is written together with anything else (a retry's backoff may be shorter than the lease it replaces)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import State
from bot.domain.schedule import LEASE_GRACE, next_due
from bot.store import Progress, RequestRow, Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _row(store: Store, request_id: str) -> RequestRow:
    row = store.get_row(request_id)
    assert row is not None
    return row


def _active(store: Store) -> str:
    request = store.insert(requester_id="UREQ1", login_id="jane@acme.com", tenant=None,
                           duration=timedelta(minutes=30), reason="r", pending_until=T0 + timedelta(minutes=30),
                           now=T0).row
    assert store._transition(request.id, [State.PENDING], State.APPROVED, actor="UAPPR1", action="approved", now=T0,
                            decided_by="UAPPR1", decided_at=T0)
    assert store._transition(request.id, [State.APPROVED], State.ACTIVE, actor="system", action="activated", now=T0,
                            started_at=T0, ends_at=T0 + timedelta(minutes=30), token_sealed="sealed",
                            delivered_at=T0)
    assert store.slack_caught_up(request.id, _row(store, request.id).version, Progress())
    return request.id


def test_every_write_that_moves_the_schedule_writes_it_exactly(store: Store) -> None:
    request_id = _active(store)
    row = _row(store, request_id)
    assert row.next_due_at == next_due(row) == T0 + timedelta(minutes=30)  # the window's end
    store._record(request_id, actor="UREQ1", action="stop_requested", now=T0 + timedelta(minutes=1),
                 stop_requested_at=T0 + timedelta(minutes=1), stop_requested_by="UREQ1")
    row = _row(store, request_id)
    assert row.next_due_at == next_due(row) <= T0 + timedelta(minutes=1)  # due at once (and Slack owes an update)


def test_a_lease_taken_leaves_it_early_and_a_shorter_backoff_is_written_exactly(store: Store) -> None:
    request_id = _active(store)
    store._record(request_id, actor="UREQ1", action="stop_requested", now=T0, stop_requested_at=T0,
                 stop_requested_by="UREQ1")
    store.slack_caught_up(request_id, _row(store, request_id).version, Progress())
    now = T0 + timedelta(seconds=1)
    assert store.claim_work(request_id, State.ACTIVE, now, timedelta(seconds=4))  # a worker takes the stop
    row = _row(store, request_id)
    assert row.next_due_at is not None and row.next_due_at <= next_due(row)  # early: allowed
    # The stop call failed: retry in 0.5 s, sooner than the 4 s lease it replaces.
    store._set(request_id, stop_attempts=1, lease_until=now + timedelta(milliseconds=500))
    row = _row(store, request_id)
    assert row.next_due_at == next_due(row) == now + timedelta(milliseconds=500) + LEASE_GRACE  # never late
    assert store.due(now + timedelta(seconds=1)) == [request_id]
