"""Escalation in process (``bot.workflows.escalations``): looked at just after a request is made (its approvers all
deactivated: at once), then once ``ESCALATE_AFTER`` has passed; exactly once across replicas; the escalation
approvers may decide it only after; reminders leave deactivated approvers out and mention the escalation approvers
once it escalated."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVER, OUTSIDER
from bot.domain import NotAnApprover, State
from bot.domain.audit import Action
from bot.domain.outcomes import Escalated, Reminded, decode_detail
from bot.workflows.escalations import CHECK_AFTER
from tests.fakes.inprocess import World

BACKUP = "UBACKUP1"


@pytest.fixture
def escalating(world: World) -> World:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, escalate_after=timedelta(minutes=30), escalation_approvers=(BACKUP,),
                           pending_timeout=timedelta(hours=2))
    return world


def look(world: World, request_id: str, replica: bool = False) -> bool:
    workflows = world.replica() if replica else world.workflows
    return workflows.ticker.escalations.look(request_id)


def escalations(world: World, request_id: str) -> list[Escalated]:
    return [detail for e in world.store.audit(request_id=request_id) if e.action == Action.ESCALATED
            for detail in [decode_detail(e.detail)] if isinstance(detail, Escalated)]


def test_a_request_is_looked_at_just_after_it_is_made_then_escalates_after_the_wait(escalating: World) -> None:
    w = escalating
    request_id = w.submit().id
    ts = w.posted(request_id)
    assert w.row(request_id).escalate_at == w.row(request_id).created_at + CHECK_AFTER
    w.clock.advance(CHECK_AFTER.total_seconds())
    assert not look(w, request_id)  # its approver is active: put off until the wait is over
    assert w.row(request_id).escalate_at == w.row(request_id).created_at + timedelta(minutes=30)
    with pytest.raises(NotAnApprover):
        w.workflows.approvals.decide(request_id, BACKUP, True, message_ts=ts)
    w.clock.advance(30 * 60)
    assert look(w, request_id) and not look(w, request_id, replica=True)  # once, whoever looks
    assert escalations(w, request_id) == [Escalated((BACKUP,), 1800)]
    view = w.view(request_id)
    assert view.escalated_at == w.clock() and view.escalated_to == (BACKUP,)
    w.workflows.approvals.decide(request_id, BACKUP, True, message_ts=ts)
    assert w.view(request_id).state is State.ACTIVE


def test_approvers_all_deactivated_escalate_at_once(escalating: World) -> None:
    w = escalating
    w.directory.deactivated.add(APPROVER)
    request_id = w.submit().id
    w.clock.advance(CHECK_AFTER.total_seconds())
    assert look(w, request_id)
    assert escalations(w, request_id) == [Escalated((BACKUP,), 1800, no_active_approver=True)]


def test_no_escalation_without_escalation_rules(world: World) -> None:
    request_id = world.submit().id
    assert world.row(request_id).escalate_at is None
    world.clock.advance(3600)
    assert not look(world, request_id) and escalations(world, request_id) == []


def test_a_decided_request_never_escalates(escalating: World) -> None:
    w = escalating
    request_id = w.submit().id
    w.workflows.approvals.decide(request_id, APPROVER, False, message_ts=w.posted(request_id))
    w.clock.advance(3600)
    assert not look(w, request_id) and escalations(w, request_id) == []


def test_reminders_skip_deactivated_approvers_and_name_the_backup_once_escalated(escalating: World) -> None:
    w = escalating
    ctx = w.workflows.ctx
    ctx.settings = replace(ctx.settings, approvers=(APPROVER, OUTSIDER), reminder_interval=timedelta(minutes=1))
    w.directory.deactivated.add(OUTSIDER)
    request_id = w.submit().id
    w.clock.advance(60)
    assert w.workflows.ticker.reminders.remind(request_id)
    w.clock.advance(30 * 60)
    assert look(w, request_id)
    w.clock.advance(3 * 60)
    assert w.workflows.ticker.reminders.remind(request_id)
    mentioned = [detail.approvers for e in w.store.audit(request_id=request_id) if e.action == Action.REMINDED
                 for detail in [decode_detail(e.detail)] if isinstance(detail, Reminded)]
    assert mentioned == [(APPROVER,), (APPROVER, BACKUP)]
