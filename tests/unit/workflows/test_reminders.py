"""Reminders in process, on a controlled clock: due at ``REMINDER_INTERVAL``, then twice that, four times …;
exactly one per due time when two replicas race for it; none once the request is decided."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.devtools.harness import APPROVER
from bot.domain.outcomes import Reminded, decode_detail
from tests.fakes.inprocess import World


def _reminders(world: World, request_id: str) -> list[Reminded]:
    found = [decode_detail(e.detail) for e in world.store.audit(request_id=request_id) if e.action == "reminded"]
    return [r for r in found if isinstance(r, Reminded)]


def test_reminders_double_and_race_to_exactly_one_each(world: World) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, reminder_interval=timedelta(minutes=5))
    request = world.submit("remind me")
    world.posted(request.id)
    other = world.replica()
    other.ctx.settings = ctx.settings
    moments = []
    for _ in range(60):  # ten minutes in ten-second steps, both replicas sweeping each time
        world.clock.advance(10)
        world.workflows.ticker.sweep()
        other.ticker.sweep()
        if len(_reminders(world, request.id)) > len(moments):
            moments.append(world.clock() - request.created_at)
    # At 5 min, then 10 min later (15 min): past the 10 minutes watched only the first; watch on.
    for _ in range(60):
        world.clock.advance(10)
        world.workflows.ticker.sweep()
        other.ticker.sweep()
        if len(_reminders(world, request.id)) > len(moments):
            moments.append(world.clock() - request.created_at)
    assert moments == [timedelta(minutes=5), timedelta(minutes=15)]
    assert [r.count for r in _reminders(world, request.id)] == [1, 2]
    assert _reminders(world, request.id)[0].approvers == (APPROVER,)


def test_no_reminder_once_decided(world: World) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, reminder_interval=timedelta(minutes=5))
    request = world.submit("decided")
    ts = world.posted(request.id)
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    world.clock.advance(6 * 60)
    world.workflows.ticker.sweep()
    assert _reminders(world, request.id) == []


def test_a_reminder_mentions_only_the_approvers_who_have_not_approved(world: World) -> None:
    from bot.devtools.harness import REQUESTER
    from bot.domain.policy import Policy, Rule

    ctx = world.workflows.ctx
    two = Rule(number=1, name="two", requesters=(REQUESTER,), approvers=(APPROVER, "UAPPR9", "SOPS1"),
               min_duration=timedelta(minutes=1), default_duration=timedelta(minutes=30),
               max_duration=timedelta(hours=1), approvals=2)
    ctx.settings = replace(ctx.settings, reminder_interval=timedelta(minutes=5), policy=Policy((two,)))
    request = world.submit("two of three")
    ts = world.posted(request.id)
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    world.clock.advance(5 * 60)
    world.workflows.ticker.sweep()
    assert [r.approvers for r in _reminders(world, request.id)] == [("UAPPR9", "SOPS1")]
