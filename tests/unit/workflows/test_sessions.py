"""Sessions' own fault paths (``bot.workflows.sessions``), in process on a controlled clock: an activation
that keeps failing, a database failure right after Descope minted the token, a stop call Descope rate-limits."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.descope import DescopeUnavailable
from bot.devtools.harness import APPROVER, REQUESTER
from bot.domain import State
from bot.domain.outcomes import Failure, FailureKind
from bot.slack.messages.outcomes import failure_text
from bot.slack.messages.status import status_line
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


def test_slack_failing_on_its_side_delays_the_session_dm_and_stops_nothing(world: World) -> None:
    """A 5xx or no answer from Slack (after the client's retries; a post it may have made is not re-sent there) is
    not Slack refusing the DM: the session stays, and the sync delivers it shortly."""
    world.notifier.unavailable = 1
    request_id = world.approved()
    active = world.row(request_id)
    assert active.state == "active" and active.delivered_at is None and not world.descope.stopped
    world.clock.advance(6)  # the sync's retry
    world.workflows.ticker.sweep()
    delivered = world.row(request_id)
    assert delivered.state == "active" and delivered.delivered_at is not None
    assert world.notifier.tokens == world.descope.minted and not world.descope.stopped


def test_a_token_minted_just_before_a_database_failure_is_revoked(world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = world.store.start_session
    failures = iter([OperationalError("UPDATE requests", {}, Exception("database went away"))])

    def flaky(request_id: str, session: Any, **kw: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(request_id, session, **kw)

    monkeypatch.setattr(world.store, "start_session", flaky)
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
    assert world.descope.stop_calls == 1
    world.clock.advance(19)
    world.workflows.ticker.sweep()  # Descope asked for 20 s: no call yet
    assert world.descope.stop_calls == 1
    world.clock.advance(6)  # 20 s and up to a fifth more (spread, so that sessions held together do not meet again)
    world.workflows.ticker.sweep()
    assert world.descope.stop_calls == 2
    assert world.row(request_id).stop_attempts == 0  # waiting Descope's turn is no failure: nobody is alerted
    world.descope.stop_error = None
    world.clock.advance(61)
    world.workflows.ticker.sweep()
    stopped = world.row(request_id)
    assert stopped.state == "stopped" and stopped.token_sealed is None
    assert world.descope.stopped == world.descope.minted


# -- issue 22: a stop during the activation wins; a call in flight is never repeated ----------------------------


def test_a_stop_while_descope_mints_ends_the_token_at_once_and_delivers_nothing(world: World) -> None:
    world.descope.gate = threading.Event()  # the impersonate call waits (Descope slow, or asking us to wait)
    request = world.submit()
    ts = world.posted(request.id)
    clicking = threading.Thread(target=world.workflows.approvals.decide, args=(request.id, APPROVER, True),
                                kwargs={"message_ts": ts})
    clicking.start()
    deadline = time.monotonic() + 5
    while world.descope.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    called_off = world.workflows.requests.request_stop(request.id, REQUESTER)
    assert called_off.state is State.APPROVED and called_off.stop_requested_at is not None  # recorded at once
    world.descope.gate.set()
    clicking.join(5)
    (token,) = world.descope.minted
    assert world.descope.stopped == [token] and world.descope.revoked == [token]
    assert world.row(request.id).state == "stopped" and world.row(request.id).token_sealed is None
    assert world.notifier.ready == [] and world.notifier.tokens == []  # never delivered
    assert "called off" in status_line(world.view(request.id))
    assert len(world.notifier.replies) == 1 and world.notifier.replies[0][-1] == "stopped"  # the channel: one reply,
    # from the row as it ended (never told of a start first)


def test_a_stop_before_the_impersonate_call_mints_nothing(world: World) -> None:
    world.directory.error = RuntimeError("users.info is slow to answer")  # the activation is retried shortly
    request_id = world.approved()
    assert world.row(request_id).state == "approved"
    world.workflows.requests.request_stop(request_id, APPROVER)
    world.directory.error = None
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    stopped = world.view(request_id)
    assert stopped.state is State.STOPPED and world.descope.calls == 0 and world.descope.minted == []
    ending = [a for a in world.store.audit(request_id=request_id) if a.action == "stopped"]
    assert len(ending) == 1 and "never_minted" in (ending[0].detail or "")
    assert "no token was handed over" in status_line(stopped)


def test_a_call_in_flight_when_the_bot_stopped_is_never_repeated(world: World) -> None:
    world.directory.error = RuntimeError("users.info is slow to answer")
    request_id = world.approved()
    # What a process that died during the impersonate call leaves: the call recorded, the request approved.
    bound = world.clock() + timedelta(minutes=32)
    assert world.store.mark_minting(request_id, bound)
    world.directory.error = None
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    failed = world.view(request_id)
    assert failed.state is State.FAILED and world.descope.calls == 0
    assert isinstance(failed.failure, Failure) and failed.failure.kind is FailureKind.MAYBE_MINTED
    assert failed.failure.expires == bound.isoformat()


def test_a_call_in_flight_is_said_even_when_the_request_was_stopped_since(world: World) -> None:
    world.directory.error = RuntimeError("users.info is slow to answer")
    request_id = world.approved()
    assert world.store.mark_minting(request_id, world.clock() + timedelta(minutes=33))
    world.workflows.requests.request_stop(request_id, REQUESTER)  # after the crash: a stop must not say "no token"
    world.directory.error = None
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    failed = world.view(request_id)
    assert failed.state is State.FAILED and isinstance(failed.failure, Failure)
    assert failed.failure.kind is FailureKind.MAYBE_MINTED


def test_the_call_in_flight_is_recorded_before_it_is_made_and_cleared_with_the_token(world: World) -> None:
    seen: list[object] = []
    request = world.submit()
    ts = world.posted(request.id)
    mint = world.descope.impersonate

    def watching(**kw: Any) -> str:
        seen.append(world.row(request.id).minting_until)
        return mint(**kw)

    world.descope.impersonate = watching  # type: ignore[method-assign]
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    assert seen and seen[0] is not None  # on the row before Descope was called
    assert world.row(request.id).state == "active" and world.row(request.id).minting_until is None


def test_a_requester_who_lost_the_right_before_the_activation_gets_nothing(world: World) -> None:
    world.directory.error = RuntimeError("users.info is slow to answer")
    request_id = world.approved()
    world.workflows.ctx.settings = replace(world.workflows.ctx.settings, requesters=(APPROVER,))
    world.directory.error = None
    world.clock.advance(6)
    world.workflows.ticker.sweep()
    failed = world.view(request_id)
    assert failed.state is State.FAILED and world.descope.calls == 0
    assert isinstance(failed.failure, Failure) and failed.failure.kind is FailureKind.NOT_A_REQUESTER


def _rate_limited(after: float) -> DescopeUnavailable:
    """Descope's 429 on the impersonate call with a ``Retry-After`` longer than the call waits in its thread."""
    return DescopeUnavailable("Rate limit exceeded", status=429, retry_after=after, attempts=1, code="E130429")


def test_an_impersonate_call_rate_limited_is_put_off_told_and_made_when_descope_asked(world: World) -> None:
    world.descope.impersonate_errors = [_rate_limited(60)]
    request_id = world.approved()
    put_off = world.row(request_id)
    assert put_off.state == "approved" and put_off.minting_until is None  # refused unprocessed: nothing minted
    ((told, until),) = world.notifier.put_offs  # the requester, by DM
    asked = world.clock() + timedelta(seconds=60)
    assert told.id == request_id and asked <= until <= asked + timedelta(seconds=12)  # spread by up to a fifth
    assert "activation_put_off" in world.notifier.replies[-1]  # the thread
    world.clock.advance(59)
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "approved" and world.descope.calls == 1  # not before Descope asked
    world.clock.advance(14)
    world.workflows.ticker.sweep()
    started = world.row(request_id)
    assert started.state == "active" and world.descope.calls == 2 and len(world.descope.minted) == 1
    assert started.ends_at == world.clock() + timedelta(minutes=30)  # the whole window, from when it started
    assert len(world.notifier.put_offs) == 1


def test_a_turn_booked_at_descope_is_come_back_to_then_not_spread(world: World) -> None:
    """The call names its request (its turn at Descope's rate limit booked for it: ``transport.gate``); put off to
    that turn, it comes back then (a spread of up to a fifth would be up to 20 s later here)."""
    world.descope.impersonate_errors = [DescopeUnavailable("Rate limit exceeded", status=429, retry_after=100,
                                                           attempts=1, code="E130429", booked=True)]
    request_id = world.approved()
    assert world.descope.bookings == [request_id] and world.row(request_id).state == "approved"
    world.clock.advance(99.9)
    world.workflows.ticker.sweep()
    assert world.descope.calls == 1  # not before its turn
    world.clock.advance(0.2)
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "active" and world.descope.bookings == [request_id] * 2


def test_a_short_put_off_is_neither_told_nor_audited(world: World) -> None:
    """A wait of a few seconds: the session starts about as soon as its requester would look for it."""
    world.descope.impersonate_errors = [_rate_limited(4)]
    request_id = world.approved()
    assert world.row(request_id).state == "approved" and world.descope.calls == 1
    world.clock.advance(5)
    world.workflows.ticker.sweep()
    assert world.row(request_id).state == "active"
    assert world.notifier.put_offs == [] and not any("activation_put_off" in r for r in world.notifier.replies)
    assert "activation_put_off" not in [e.action for e in world.store.audit(request_id=request_id)]


def test_a_rate_limit_longer_than_an_approval_may_wait_fails_the_request_at_once(world: World) -> None:
    world.descope.impersonate_errors = [_rate_limited(600)]
    request_id = world.approved()
    failed = world.view(request_id)
    assert failed.state is State.FAILED and isinstance(failed.failure, Failure)
    assert "retry after 600s" in failure_text(failed.failure)
    assert world.notifier.put_offs == [] and world.descope.calls == 1
    assert [r.state for r in world.notifier.outcomes] == [State.FAILED]


def test_put_off_again_while_the_approval_is_fresh_told_once_then_failed(world: World) -> None:
    world.descope.impersonate_errors = [_rate_limited(100), _rate_limited(100), _rate_limited(100)]
    request_id = world.approved()  # put off to about 2 min after the approval
    world.clock.advance(121)
    world.workflows.ticker.sweep()  # to about 4 min after it: said once is enough (a queue must not flood Slack)
    assert world.row(request_id).state == "approved" and world.descope.calls == 2
    assert len(world.notifier.put_offs) == 1
    assert sum(reply.count("activation_put_off") for reply in world.notifier.replies) == 1
    world.clock.advance(121)
    world.workflows.ticker.sweep()  # 4 min after it, plus at least 100 s: past ACTIVATION_DEADLINE
    failed = world.view(request_id)
    assert failed.state is State.FAILED and world.descope.calls == 3 and world.descope.minted == []
    assert len(world.notifier.put_offs) == 1


def test_the_put_off_dm_is_sent_once_even_when_the_thread_fails_first(world: World) -> None:
    world.descope.impersonate_errors = [_rate_limited(120)]
    world.notifier.thread_unavailable = {"activation_put_off": 2}  # the put-off's line: Slack fails twice
    request_id = world.approved()
    for _ in range(3):
        world.clock.advance(6)
        world.workflows.ticker.sweep()
    assert len(world.notifier.put_offs) == 1
    assert sum(reply.count("activation_put_off") for reply in world.notifier.replies) == 1
    assert world.row(request_id).state == "approved"


def test_calling_off_an_activation_put_off_ends_it_now_with_nothing_minted(world: World) -> None:
    world.descope.impersonate_errors = [_rate_limited(120)]
    request_id = world.approved()
    world.workflows.requests.request_stop(request_id, REQUESTER)
    world.workflows.ticker.sweep()  # not two minutes later: the stop lets the put-off go
    stopped = world.view(request_id)
    assert stopped.state is State.STOPPED and world.descope.calls == 1 and world.descope.minted == []
    assert "no token was handed over" in status_line(stopped)
