"""Leases (``bot.workflows.leases``), in process: slow work keeps its lease while the keeper renews it, a
dead worker's lease runs out for another replica, and a lease handed on between threads stays renewed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from bot.devtools.harness import APPROVER, REQUESTER, TARGET
from bot.domain import Draft, State
from bot.store import Lease
from tests.fakes.inprocess import World


def test_slow_work_keeps_its_lease_and_a_dead_workers_lease_runs_out(world: World) -> None:
    workflows, leases = world.workflows, world.workflows.ctx.leases
    draft = Draft(login_id=TARGET, duration=timedelta(minutes=30), reason="slow descope", tenant=None)
    request = workflows.requests.submit(REQUESTER, draft)
    world.descope.gate = threading.Event()
    clicking = threading.Thread(target=workflows.approvals.decide, args=(request.id, APPROVER, True),
                                kwargs={"message_ts": world.posted(request.id)})
    clicking.start()
    try:
        time.sleep(0.3)  # the approval is now waiting on Descope
        other = world.replica()
        for _ in range(4):  # minutes pass; our keeper renews, the other replica's sweep keeps off
            world.clock.advance(leases.lease.total_seconds() * 0.6)
            leases.renew()
            other.ticker.sweep()
        assert world.row(request.id).state == "approved"
    finally:
        world.descope.gate.set()
        clicking.join(10)
    assert world.row(request.id).state == "active"
    assert world.descope.calls == 1  # only one impersonate call despite the other replica's sweeps

    # A worker that dies holding a lease: once it runs out, another replica takes the work over.
    request_id = workflows.requests.submit(REQUESTER, Draft("bob@acme.com", timedelta(minutes=30), "dead worker")).id
    world.store._transition(request_id, [State.PENDING], State.APPROVED, actor=APPROVER, action="approved",
                           now=world.clock(), decided_by=APPROVER, decided_at=world.clock(),
                           lease_until=world.clock() + leases.lease)
    world.replica().ticker.sweep()
    assert world.row(request_id).state == "approved"
    world.clock.advance(leases.lease.total_seconds() + 1)
    world.replica().ticker.sweep()
    assert world.row(request_id).state == "active"


def test_a_lease_handed_on_within_one_process_keeps_being_renewed(world: World) -> None:
    """Two threads of one process, one after the other, on one request's Slack lease: the first gives the
    lease back in the database, the second takes it at once; the first forgetting *its* hold must not
    make the keeper stop renewing the second's (which would let another replica's sweep start a second
    sync of the same request mid-work)."""
    request_id = world.submit("lease hand-over").id
    leases, column = world.workflows.ctx.leases, Lease.SLACK
    first_until = world.clock() + leases.lease
    first = leases.hold(request_id, column, first_until)
    world.store._set(request_id, slack_lease_until=None)  # the first thread's catch-up write
    second_until = world.clock() + leases.lease
    assert world.store.claim_slack(request_id, world.clock(), second_until) is not None
    leases.hold(request_id, column, second_until)
    leases.release(request_id, column, holder=first)  # the first thread's `finally`, a moment late
    world.clock.advance(leases.lease.total_seconds() * 0.6)
    leases.renew()
    assert world.row(request_id).slack_lease_until == world.clock() + leases.lease
