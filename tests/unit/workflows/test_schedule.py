"""The one schedule (``bot.domain.schedule``) as the workflows use it: every write keeps ``next_due_at``,
the scheduler's alarm is armed at the next state work, ``Store.due`` finds a row once its moment has
passed, and one ``tick`` puts right a row written before ``next_due_at`` existed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.devtools.harness import APPROVER
from bot.domain import State
from bot.domain.schedule import LEASE_GRACE
from bot.store.models import REQUESTS
from tests.fakes.inprocess import RecordingTimers, World

SECOND = timedelta(seconds=1)


@pytest.fixture
def timers(world: World) -> RecordingTimers:
    """In the scheduler's place (``Workflows.build(timers=…)``): what the workflows arm and kick, recorded."""
    recording = RecordingTimers()
    world.workflows.ctx.timers = recording
    return recording


def test_the_schedule_is_written_armed_and_found_as_the_workflows_go(world: World, timers: RecordingTimers) -> None:
    store, clock = world.store, world.clock
    request = world.submit("schedule")
    row = world.row(request.id)
    # Just submitted: the approval message is owed at once, by the kick, under the Slack lease the request was born
    # with; the sweep takes it over only if that lease runs out. The request expires at pending_until.
    assert row.created_at == clock() and row.slack_lease_until == timers.slack_leases[request.id] > clock()
    assert row.next_due_at == row.slack_lease_until + LEASE_GRACE
    assert timers.alarms[request.id] == row.pending_until and request.id in timers.kicks
    assert store.due(clock()) == [] and store.due(row.next_due_at) == [request.id]

    ts = world.posted(request.id)
    row = world.row(request.id)
    assert row.next_due_at == row.pending_until  # posted: nothing owed but the expiry
    assert request.id not in store.due(clock())
    assert request.id not in store.due(row.pending_until - SECOND)
    assert store.due(row.pending_until) == [request.id]

    clock.advance(10)
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    active = world.view(request.id)
    assert active.state is State.ACTIVE and active.ends_at == clock() + timedelta(minutes=30)
    row = world.row(request.id)
    assert row.next_due_at == active.ends_at  # the stop, and nothing before it (Slack caught up)
    assert timers.alarms[request.id] == active.ends_at  # the scheduler wakes for the stop
    assert store.earliest_due() == active.ends_at  # what the alarm is set at, at a start

    # Due only once next_due_at has passed.
    assert request.id not in store.due(clock())
    assert request.id not in store.due(active.ends_at - SECOND)
    assert store.due(active.ends_at) == [request.id]
    assert store.due(active.ends_at + SECOND) == [request.id]

    # At the alarm, one tick stops the session and brings Slack up to date; nothing is due any more.
    clock.now = active.ends_at
    kicks = len(timers.kicks)
    world.workflows.ticker.tick(request.id)
    row = world.row(request.id)
    assert row.state == "stopped" and world.descope.stopped == world.descope.minted
    assert row.slack_version == row.version and row.next_due_at is None and len(timers.kicks) == kicks
    assert store.due(clock() + timedelta(days=365)) == []
    assert store.earliest_due() is None


def test_with_a_backlog_every_stop_goes_out_before_the_slack_updates(world: World, timers: RecordingTimers) -> None:
    """Many sessions ending together (or while the bot was down): a tick stops its session and hands the Slack
    update back to the pool, behind the stops already waiting there, with the Slack lease the end took."""
    request_id = world.approved()
    ends_at = world.row(request_id).ends_at
    assert ends_at is not None
    world.clock.now = ends_at
    timers.backlogged = True
    world.workflows.ticker.tick(request_id)
    row = world.row(request_id)
    assert row.state == "stopped" and world.descope.stopped == world.descope.minted
    assert row.slack_version < row.version and timers.kicks[-1] == request_id  # Slack's turn comes after
    assert row.slack_lease_until is not None and timers.slack_leases[request_id] == row.slack_lease_until
    assert timers.works[request_id].row.state == "stopped"  # the work the end read, carried
    world.workflows.ticker.tick(request_id, timers.slack_leases[request_id], timers.works[request_id])  # the pool's
    row = world.row(request_id)
    assert row.slack_version == row.version and row.next_due_at is None


def test_a_stop_while_another_worker_updates_slack_leaves_the_update_to_that_worker(
        world: World, timers: RecordingTimers) -> None:
    """The stop takes the Slack lease with the end only when it is free: a worker holding it (a replica's sweep, say)
    keeps it, nothing is told twice, and its catch-up then takes in the end."""
    request_id = world.approved()
    ends_at = world.row(request_id).ends_at
    assert ends_at is not None
    world.clock.now = ends_at
    taken = world.clock() + world.workflows.ctx.leases.lease
    assert world.store.claim_slack(request_id, world.clock(), taken) is not None
    world.workflows.ticker.tick(request_id)
    row = world.row(request_id)
    assert row.state == "stopped" and world.descope.stopped == world.descope.minted
    assert row.slack_lease_until == taken and row.slack_version < row.version and not world.notifier.outcomes
    world.workflows.projection.sync_slack(request_id, taken)  # the holder's pass
    row = world.row(request_id)
    assert row.slack_version == row.version and [o.id for o in world.notifier.outcomes] == [request_id]


@pytest.mark.parametrize("legacy", [None, "past"], ids=["null", "past"])
def test_a_row_from_before_next_due_at_is_rescheduled_by_one_tick(
        world: World, timers: RecordingTimers, legacy: str | None) -> None:
    store, clock = world.store, world.clock
    request_id = world.approved()
    ends_at = world.row(request_id).ends_at
    assert ends_at is not None and world.row(request_id).next_due_at == ends_at
    # As a row written before migration 0003 (NULL), or by an older schedule (a moment long past).
    stale: datetime | None = None if legacy is None else world.row(request_id).created_at - timedelta(hours=1)
    with store.engine.begin() as conn:
        conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id).values(next_due_at=stale))
    assert world.row(request_id).next_due_at == stale
    assert (request_id in store.due(clock())) is (stale is not None)  # a past moment makes it look due
    timers.alarms.clear()

    clock.advance(60)
    world.workflows.ticker.tick(request_id)
    row = world.row(request_id)
    assert row.state == "active" and row.next_due_at == ends_at  # rescheduled, and nothing was done early
    assert not world.descope.stopped
    assert timers.alarms[request_id] == ends_at
    assert request_id not in store.due(clock())
    assert store.due(ends_at) == [request_id]


def _count_posts(world: World) -> list[str]:
    posts: list[str] = []
    world.notifier.on_post = lambda request, ts: posts.append(request.id)
    return posts


def test_a_new_requests_kick_posts_its_approval_message_under_the_lease_it_was_born_with(
        world: World, timers: RecordingTimers) -> None:
    posts = _count_posts(world)
    request = world.submit("kicked")
    held = timers.slack_leases[request.id]
    world.workflows.ticker.tick(request.id, held)  # what the scheduler's pool runs for the submission's kick
    row = world.row(request.id)
    assert posts == [request.id] and row.channel_ts is not None
    assert row.slack_lease_until is None and row.slack_version == row.version  # the lease given back with the post
    assert row.next_due_at == row.pending_until and world.store.due(world.clock()) == []


def test_a_new_requests_kick_carries_the_work_read_with_the_insert_and_posts_from_it(
        world: World, timers: RecordingTimers) -> None:
    """The insert read what the first pass needs (the row, its audit rows, who opened the Home) in its own
    transaction: the kick posts from it, and the Homes of those who had opened theirs show the request."""
    posts = _count_posts(world)
    world.workflows.homes.opened(APPROVER)
    request = world.submit("carried")
    work = timers.works[request.id]
    assert work.row.id == request.id and work.viewers == [APPROVER]
    assert [entry.action for entry in work.unposted] == ["requested"]
    world.workflows.ticker.tick(request.id, timers.slack_leases[request.id], work)
    row = world.row(request.id)
    assert posts == [request.id] and row.channel_ts is not None and row.slack_version == row.version
    awaiting = world.notifier.homes[APPROVER].awaiting
    assert awaiting is not None and [r.id for r in awaiting.shown] == [request.id]


def test_a_kick_that_waited_in_the_pool_renews_the_lease_before_it_posts(world: World, timers: RecordingTimers) -> None:
    """The pool was backed up: the lease it was born with is renewed first (the keeper renews it only from the post
    on), so the post never runs on a lease about to run out, and does not wait for the sweep either."""
    posts = _count_posts(world)
    request = world.submit("late kick")
    held = timers.slack_leases[request.id]
    world.clock.now = held  # the whole lease spent waiting in the pool; nobody took it meanwhile
    world.workflows.ticker.tick(request.id, held)
    row = world.row(request.id)
    assert posts == [request.id] and row.channel_ts is not None and row.slack_lease_until is None


def test_a_kick_whose_lease_ran_out_and_was_taken_leaves_the_post_to_its_taker(
        world: World, timers: RecordingTimers) -> None:
    posts = _count_posts(world)
    request = world.submit("very late kick")
    held = timers.slack_leases[request.id]
    world.clock.now = held + LEASE_GRACE
    taken = world.clock() + world.workflows.ctx.leases.lease  # the sweep of another replica claimed it
    assert world.store.claim_slack(request.id, world.clock(), taken) is not None
    world.workflows.ticker.tick(request.id, held)
    assert posts == [] and world.row(request.id).slack_lease_until == taken


def test_a_crash_before_the_kick_leaves_the_approval_message_to_the_sweep_once_the_lease_runs_out(
        world: World, timers: RecordingTimers) -> None:
    posts = _count_posts(world)
    request = world.submit("crashed before its kick")  # the kick is never run: the process died after the insert
    held = timers.slack_leases[request.id]
    world.clock.now = held
    assert world.workflows.ticker.sweep() == 0  # the lease is the dead process's until it has run out
    world.clock.now = held + LEASE_GRACE
    assert world.workflows.ticker.sweep() == 1
    assert posts == [request.id] and world.row(request.id).channel_ts is not None
