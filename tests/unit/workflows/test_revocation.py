"""``bot.workflows.revocation``: a revocation is never taken on faith (issue 22). In process, on a controlled clock:
a logout Descope refuses with its own code for a dead token counts; one refused for another reason (a gateway's 401)
counts only if a refresh with the token is refused the same way, and is retried otherwise."""

from __future__ import annotations

from bot.descope import DescopeRefused, DescopeUnavailable
from bot.devtools.harness import REQUESTER
from bot.domain import State
from bot.domain.outcomes import StopFailing, decode_detail
from tests.fakes.inprocess import World

GATEWAY_401 = DescopeRefused("Unauthorized", status=401, code="E011003", message="gateway said no")


def stopping(world: World) -> str:
    request_id = world.approved("30m")
    world.workflows.requests.request_stop(request_id, REQUESTER)
    return request_id


def test_a_logout_refused_for_another_reason_while_the_token_still_refreshes_is_retried(world: World) -> None:
    request_id = stopping(world)
    world.descope.logout_error = GATEWAY_401
    for _ in range(3):
        world.workflows.ticker.sweep()
        world.clock.advance(61)
    row = world.row(request_id)
    assert row.state == "active" and row.token_sealed is not None and row.stop_attempts == 3
    assert world.descope.revoked == []
    (alarm,) = [a for a in world.store.audit(request_id=request_id) if a.action == "stop_failing"]
    detail = decode_detail(alarm.detail)
    assert isinstance(detail, StopFailing) and detail.call == "logout"
    world.descope.logout_error = None
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "stopped" and world.descope.revoked == world.descope.minted


def test_a_logout_descope_refuses_as_already_revoked_counts_as_done(world: World) -> None:
    request_id = stopping(world)
    world.descope.logout_error = DescopeRefused("Token expired by logout", status=401, code="E064001")
    world.workflows.ticker.sweep()
    assert world.view(request_id).state is State.STOPPED
    (ended,) = [a for a in world.store.audit(request_id=request_id) if a.action == "stopped"]
    assert "already_revoked" in (ended.detail or "")


def test_a_refused_logout_counts_when_a_refresh_says_the_token_is_dead(world: World) -> None:
    request_id = stopping(world)
    world.descope.revoked.append(world.descope.minted[0])  # revoked already (by another admin, say)
    world.descope.logout_error = GATEWAY_401
    world.workflows.ticker.sweep()
    assert world.view(request_id).state is State.STOPPED


def test_an_orphaned_token_is_revoked_only_when_descope_confirms_it(world: World) -> None:
    revocation = world.workflows.revocation
    world.approved()
    token = world.descope.minted[0]
    world.descope.logout_error = GATEWAY_401
    assert revocation.revoke_orphan(token) is False  # still refreshes: not confirmed
    world.descope.logout_error = DescopeUnavailable("down", status=503)
    assert revocation.revoke_orphan(token) is False
    world.descope.logout_error = None
    assert revocation.revoke_orphan(token) is True
