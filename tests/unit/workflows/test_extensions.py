"""Expiry warnings and extensions in process, on a controlled clock (``bot.workflows.extensions``): the warning
falls due ``EXPIRY_WARNING`` before the end, once across replicas, never for a short window; an extension is a
linked request whose approval mints a token for the extended window (within the rule's maximum) before the session
it extends is retired; a session that ended first fails its extension, and a token minted meanwhile is revoked."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVER, OUTSIDER, REQUESTER
from bot.domain import AlreadyDecided, AlreadyOpen, MayNotExtend, NotExtendable, State
from bot.domain.outcomes import Ending, EndReason, FailureKind, Linked, decode_detail
from tests.fakes.inprocess import World


def _warn(world: World, warning: timedelta) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, expiry_warning=warning)


def _extended(world: World, session_id: str, extra: str = "10m") -> str:
    """Ask for ``extra`` more on the session, post it, approve it: the extension's ID."""
    extension = world.workflows.extensions.request(session_id, REQUESTER, timedelta(minutes=int(extra[:-1])), "more")
    world.workflows.approvals.decide(extension.id, APPROVER, True, message_ts=world.posted(extension.id))
    return extension.id


def test_the_warning_falls_due_before_the_end_once_across_replicas(world: World) -> None:
    _warn(world, timedelta(minutes=5))
    session_id = world.approved("30m")
    row = world.row(session_id)
    assert row.ends_at is not None and row.warn_at == row.ends_at - timedelta(minutes=5)
    other = world.replica()
    other.ctx.settings = world.workflows.ctx.settings
    world.clock.advance(24 * 60)
    world.workflows.ticker.sweep()
    assert world.notifier.warnings == []
    world.clock.advance(60)
    world.workflows.ticker.sweep()
    other.ticker.sweep()
    world.workflows.ticker.sweep()
    assert [w.id for w in world.notifier.warnings] == [session_id]
    assert [a.action for a in world.store.audit(request_id=session_id)].count("warned") == 1


def test_no_warning_for_a_window_shorter_than_twice_the_warning_or_when_off(world: World) -> None:
    _warn(world, timedelta(minutes=5))
    assert world.row(world.approved("9m")).warn_at is None
    _warn(world, timedelta(0))
    request = world.submit(login_id="bob@acme.com")
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=world.posted(request.id))
    assert world.row(request.id).warn_at is None


def test_an_extension_mints_the_longer_window_then_retires_the_session(world: World) -> None:
    session_id = world.approved("30m")
    first_token = world.descope.minted[-1]
    world.clock.advance(20 * 60)
    old_end = world.row(session_id).ends_at
    assert old_end is not None
    extension_id = _extended(world, session_id)
    new = world.row(extension_id)
    assert (new.state, new.extends_id, new.ends_at) == (State.ACTIVE.value, session_id, old_end + timedelta(minutes=10))
    assert len(world.descope.minted) == 2 and world.descope.minted[-1] != first_token
    assert decode_detail(world.store.audit(request_id=extension_id)[0].detail) == Linked(extends=session_id)
    assert world.view(extension_id).target == world.view(session_id).target is not None  # shown on its message too
    # Delivered (the approval synced Slack): only now is the old session asked to stop, linked to its extension.
    assert world.notifier.tokens[-1] == world.descope.minted[-1]
    old = world.row(session_id)
    assert old.extended_by == extension_id and old.stop_requested_at is not None
    world.workflows.ticker.sweep()
    assert world.view(session_id).state is State.STOPPED
    assert first_token in world.descope.revoked and world.descope.minted[-1] not in world.descope.revoked
    ended = [decode_detail(a.detail) for a in world.store.audit(request_id=session_id) if a.action == "stopped"]
    assert ended == [Ending(EndReason.EXTENDED)]


def test_the_extended_window_stays_within_the_rules_maximum(world: World) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, max_duration=timedelta(minutes=45))
    session_id = world.approved("30m")
    world.clock.advance(60)
    extension_id = _extended(world, session_id, "30m")  # 29 min left + 30 min > 45 min from now
    assert world.row(extension_id).ends_at == world.clock() + timedelta(minutes=45)


def test_only_the_requester_only_a_running_session_one_extension_at_a_time(world: World) -> None:
    session_id = world.approved("30m")
    extensions = world.workflows.extensions
    with pytest.raises(MayNotExtend):
        extensions.request(session_id, OUTSIDER, None, "not mine")
    first = extensions.request(session_id, REQUESTER, None, "more")
    assert first.duration == world.workflows.ctx.settings.default_duration  # the rule's default
    assert first.pending_until <= (world.row(session_id).ends_at or first.pending_until)  # lapses with the session
    with pytest.raises(AlreadyOpen):
        extensions.request(session_id, REQUESTER, timedelta(minutes=5), "again")
    world.workflows.requests.request_stop(session_id, REQUESTER)
    with pytest.raises(NotExtendable):
        extensions.request(session_id, REQUESTER, timedelta(minutes=5), "stopping")


def test_an_early_stop_takes_a_pending_extension_with_it(world: World) -> None:
    session_id = world.approved("30m")
    extension = world.workflows.extensions.request(session_id, REQUESTER, None, "more")
    ts = world.posted(extension.id)
    world.workflows.requests.request_stop(session_id, APPROVER)
    assert (world.view(extension.id).state, world.view(extension.id).decided_by) == (State.DENIED, "system")
    assert [a.actor for a in world.store.audit(request_id=extension.id) if a.action == "withdrawn"] == [APPROVER]
    with pytest.raises(AlreadyDecided):
        world.workflows.approvals.decide(extension.id, APPROVER, True, message_ts=ts)


def test_an_extension_of_a_session_stopping_by_itself_fails_and_mints_nothing(world: World) -> None:
    session_id = world.approved("30m")
    extension = world.workflows.extensions.request(session_id, REQUESTER, None, "more")
    ts = world.posted(extension.id)
    now = world.clock()  # the bot stops the session (its DM failed): no person's stop, nothing cascades
    assert world.store._record(session_id, actor="system", action="delivery_failed", now=now, stop_requested_at=now,
                              stop_requested_by="system")
    minted = len(world.descope.minted)
    world.workflows.approvals.decide(extension.id, APPROVER, True, message_ts=ts)
    failed = world.view(extension.id)
    assert failed.state is State.FAILED and failed.failure is not None
    assert failed.failure.kind is FailureKind.ORIGINAL_ENDED  # type: ignore[union-attr]
    assert len(world.descope.minted) == minted


def test_a_stop_of_the_session_stops_its_extension_not_yet_delivered(world: World) -> None:
    session_id = world.approved("30m")
    extension = world.workflows.extensions.request(session_id, REQUESTER, None, "more")
    world.posted(extension.id)
    now = world.clock()
    assert world.store.approve(extension.id, APPROVER, now=now, lease_until=now + timedelta(seconds=12)).request
    held = world.workflows.sessions.activate(extension.id)  # minted; the projection has not handed it over yet
    assert held is not None and world.view(extension.id).state is State.ACTIVE  # the Slack lease came with it
    world.workflows.requests.request_stop(session_id, REQUESTER)  # "Stop now" on the session's warning
    assert world.view(extension.id).stopping
    world.workflows.projection.sync_slack(extension.id, held)  # the activation's own sync, after the stop
    assert world.row(extension.id).slack_lease_until is None  # it ran (and gave the lease back)
    assert [r.id for r in world.notifier.ready] == []  # never handed over (TOKEN_DELIVERY=dm here: no token shown)
    assert world.descope.minted[-1] not in world.notifier.tokens
    assert world.row(session_id).extended_by is None  # the session was not "replaced": it was stopped
    world.clock.advance(1)
    world.workflows.ticker.sweep()
    assert world.view(session_id).state is State.STOPPED and world.view(extension.id).state is State.STOPPED
    assert world.descope.minted[-1] in world.descope.revoked


def test_a_session_stopped_while_its_extension_mints_revokes_the_new_token(world: World) -> None:
    session_id = world.approved("30m")
    extension = world.workflows.extensions.request(session_id, REQUESTER, None, "more")
    ts = world.posted(extension.id)
    world.descope.calls, world.descope.gate = 0, threading.Event()  # hold the extension's impersonate call
    decided = threading.Thread(target=world.workflows.approvals.decide, args=(extension.id, APPROVER, True),
                               kwargs={"message_ts": ts})
    decided.start()
    for _ in range(500):
        if world.descope.calls:
            break
        threading.Event().wait(0.01)
    world.workflows.requests.request_stop(session_id, REQUESTER)  # the stop lands while the token is minted
    world.descope.gate.set()
    decided.join(10)
    assert world.view(extension.id).state is State.FAILED
    new_token = world.descope.minted[-1]
    assert new_token in world.descope.revoked  # minted, then revoked at once: nobody holds it
    assert world.notifier.tokens.count(new_token) == 0
