"""Sessions' own fault paths (``bot.workflows.sessions``), in process on a controlled clock: an activation
that keeps failing, a database failure right after Descope minted the token, a stop call Descope rate-limits."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.descope import DescopeUnavailable
from bot.domain import State
from bot.domain.outcomes import Failure, FailureKind
from bot.slack.messages.status import failure_text
from tests.e2e.harness import REQUESTER
from tests.fakes.inprocess import World


def test_activation_failing_for_minutes_ends_failed_rather_than_approved_forever(world: World) -> None:
    world.directory.error = RuntimeError("users.info keeps failing")
    request_id = world.approved()
    assert world.row(request_id).state == "approved"  # a hiccup: retried shortly, not failed at once
    world.clock.advance(60)
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "approved"
    world.clock.advance(5 * 60)
    world.workflows.ticker.sweep()
    failed = world.view(request_id)
    assert failed.state is State.FAILED and failed.failure is not None
    assert isinstance(failed.failure, Failure) and failed.failure.kind is FailureKind.GAVE_UP
    said = failure_text(failed.failure)
    assert "could not be started" in said and "RuntimeError" in said
    assert [r.state for r in world.notifier.outcomes] == [State.FAILED]  # the requester is told
    assert not world.descope.minted


def test_a_token_minted_just_before_a_database_failure_is_revoked(world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = world.store.transition_row
    failures = iter([OperationalError("UPDATE requests", {}, Exception("database went away"))])

    def flaky(request_id: str, sources: Any, target: State, **kw: Any) -> Any:
        if target is State.ACTIVE:
            error = next(failures, None)
            if error is not None:
                raise error
        return real(request_id, sources, target, **kw)

    monkeypatch.setattr(world.store, "transition_row", flaky)
    request_id = world.approved()
    assert world.descope.stopped == world.descope.minted[:1]  # nobody could ever have used it
    assert world.descope.revoked == world.descope.minted[:1]  # and it is revoked, not just stopped
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "active"
    assert len(world.descope.minted) == 2 and world.notifier.tokens == world.descope.minted[1:]


def test_stop_retries_honour_retry_after_and_the_token_expiry(world: World) -> None:
    request_id = world.approved("30m")
    world.workflows.requests.request_stop(request_id, REQUESTER)
    world.descope.stop_error = DescopeUnavailable("Rate limit exceeded", status=429, retry_after=20, attempts=1)
    world.workflows.ticker.sweep()
    assert world.row(request_id).stop_attempts == 1
    world.clock.advance(15)
    world.workflows.ticker.sweep()  # Descope asked for 20 s: no call yet
    assert world.row(request_id).stop_attempts == 1
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    assert world.row(request_id).stop_attempts == 2
    world.descope.stop_error = None
    world.clock.advance(61)
    world.workflows.ticker.sweep()
    stopped = world.row(request_id)
    assert stopped.state == "stopped" and stopped.token_sealed is None
    assert world.descope.stopped == world.descope.minted
