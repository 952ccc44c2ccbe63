"""``Store.approve``: one approver's Approve counted once, under the row's lock; the one that completes the
approvals a rule needs moves the request to ``approved`` (with the work lease); the tally is on the row
(``approved_by``) and in the audit (``approval`` rows with the count)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.domain import State
from bot.domain.outcomes import Tally, decode_detail
from bot.store import Store, Vote

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = T0 + timedelta(seconds=12)


def _pending(store: Store, needed: int) -> str:
    return store.insert(requester_id="UREQ1", login_id="jane@acme.com", tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=T0 + timedelta(minutes=30), now=T0, rule_name="two",
                        approvals_needed=needed).row.id


def test_two_of_two_the_first_is_counted_the_second_approves(store: Store) -> None:
    request_id = _pending(store, 2)
    first = store.approve(request_id, "UA", now=T0, lease_until=LEASE)
    assert first.vote is Vote.COUNTED and first.request is not None
    assert (first.request.state, first.request.approved_by, first.request.approvals_missing) == (State.PENDING,
                                                                                                ("UA",), 1)
    assert first.request.decided_by is None
    again = store.approve(request_id, "UA", now=T0, lease_until=LEASE)
    assert (again.vote, again.request) == (Vote.AGAIN, None)
    second = store.approve(request_id, "UB", now=T0, lease_until=LEASE)
    assert second.vote is Vote.APPROVED and second.request is not None
    assert (second.request.state, second.request.approved_by, second.request.decided_by) == (
        State.APPROVED, ("UA", "UB"), "UB")
    row = store.get_row(request_id)
    assert row is not None and row.lease_until == LEASE
    late = store.approve(request_id, "UC", now=T0, lease_until=LEASE)
    assert (late.vote, late.request) == (Vote.DECIDED, None)
    audit = [(a.action, a.actor, a.from_state, a.to_state) for a in store.audit(request_id=request_id)]
    assert audit == [("requested", "UREQ1", None, "pending"), ("approval", "UA", "pending", "pending"),
                     ("approved", "UB", "pending", "approved")]
    assert decode_detail(store.audit(request_id=request_id)[1].detail) == Tally(1, 2)


def test_one_approval_needed_approves_at_once(store: Store) -> None:
    counted = store.approve(_pending(store, 1), "UA", now=T0, lease_until=LEASE)
    assert counted.vote is Vote.APPROVED


def test_past_its_pending_time_nothing_is_counted(store: Store) -> None:
    counted = store.approve(_pending(store, 2), "UA", now=T0 + timedelta(minutes=30), lease_until=LEASE)
    assert (counted.vote, counted.request) == (Vote.DECIDED, None)


def test_many_threads_two_approvers_exactly_one_approval_completes(store: Store) -> None:
    request_id = _pending(store, 2)
    barrier = threading.Barrier(20)
    votes: list[Vote] = []

    def vote(approver: str) -> None:
        barrier.wait()
        votes.append(store.approve(request_id, approver, now=T0, lease_until=LEASE).vote)

    threads = [threading.Thread(target=vote, args=("UA" if i % 2 else "UB",)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert votes.count(Vote.APPROVED) == 1 and votes.count(Vote.COUNTED) == 1  # the rest: again, or decided
    assert len(votes) == 20 and set(votes) <= {Vote.APPROVED, Vote.COUNTED, Vote.AGAIN, Vote.DECIDED}
