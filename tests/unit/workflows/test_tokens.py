"""Show token, in process on a controlled clock: handed out only while the session is live (active, no stop
asked for, window not over) — even while a stop is being retried under the row's lease — and every showing is
on record before the token leaves, even when Slack then fails to open the modal."""

from __future__ import annotations

import pytest

from bot.descope import DescopeUnavailable
from bot.devtools.harness import APPROVER, REQUESTER
from bot.domain import RequestView, TokenUnavailable
from tests.fakes.inprocess import World


def _shown(world: World, request_id: str) -> list[str]:
    return [e.actor for e in world.store.audit(request_id=request_id) if e.action == "token_shown"]


def test_the_requester_sees_the_live_token_and_each_showing_is_recorded(world: World) -> None:
    request_id = world.approved()
    seen: list[str] = []
    world.workflows.tokens.reveal(request_id, REQUESTER, lambda _view, token: seen.append(token))
    assert seen == world.descope.minted and _shown(world, request_id) == [REQUESTER]
    with pytest.raises(TokenUnavailable) as refused:
        world.workflows.tokens.reveal(request_id, APPROVER, lambda _view, token: seen.append(token))
    assert not refused.value.ended and len(seen) == 1


def test_no_token_once_a_stop_is_asked_even_while_it_is_retried(world: World) -> None:
    request_id = world.approved()
    world.descope.stop_error = DescopeUnavailable("503 Service Unavailable", status=503)
    world.workflows.requests.request_stop(request_id, APPROVER)
    world.workflows.ticker.tick(request_id)  # the stop call fails: retried later, the row leased meanwhile
    assert world.row(request_id).state == "active" and world.row(request_id).lease_until is not None
    with pytest.raises(TokenUnavailable) as refused:
        world.workflows.tokens.reveal(request_id, REQUESTER, lambda _view, _token: pytest.fail("shown"))
    assert refused.value.ended and _shown(world, request_id) == []


def test_no_token_once_the_window_is_over_even_before_the_stop(world: World) -> None:
    request_id = world.approved("30m")
    world.clock.advance(30 * 60)  # the window's end; nothing has ticked yet
    with pytest.raises(TokenUnavailable):
        world.workflows.tokens.reveal(request_id, REQUESTER, lambda _view, _token: pytest.fail("shown"))


def test_a_showing_slack_failed_to_open_is_still_on_record(world: World) -> None:
    request_id = world.approved()

    def slack_fails(_view: RequestView, _token: str) -> None:
        raise RuntimeError("views.open: expired_trigger_id")

    with pytest.raises(RuntimeError):
        world.workflows.tokens.reveal(request_id, REQUESTER, slack_fails)
    assert _shown(world, request_id) == [REQUESTER]
