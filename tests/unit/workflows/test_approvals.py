"""Approvals (``bot.workflows.approvals``), in process: a click that lands before the poster has stored
the approval message's ts still counts (it waits up to ``CLICK_WAIT``)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVER, REQUESTER, TARGET
from bot.domain import Draft, NoLongerAllowed, RequestView, State
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.policy import Policy, Rule
from tests.fakes.inprocess import World


def test_a_click_landing_before_the_message_ts_is_stored_still_counts(world: World) -> None:
    outcome: list[object] = []
    clickers: list[threading.Thread] = []

    def click() -> None:
        try:
            world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=clicked_ts[0])
            outcome.append(world.view(request.id).state)
        except Exception as exc:
            outcome.append(exc)

    def click_at_once(_: RequestView, ts: str) -> None:  # Slack shows the message: someone clicks at once
        clicked_ts.append(ts)
        clickers.append(threading.Thread(target=click))
        clickers[0].start()
        time.sleep(0.3)  # the click is in before the poster has stored the ts

    clicked_ts: list[str] = []
    world.notifier.on_post = click_at_once
    request = world.workflows.requests.submit(REQUESTER, Draft(TARGET, timedelta(minutes=30), "quick click"))
    world.posted(request.id)
    clickers[0].join(10)
    assert outcome == [State.ACTIVE]
    assert len(world.notifier.tokens) == 1


# -- issue 22: the rules are asked again when an approval counts ----------------------------------------------------


def tightened(world: World, **rule: object) -> None:
    """POLICY_FILE as read at the next start: one rule deciding every request, stricter than when it was asked."""
    settings = world.workflows.ctx.settings
    values: dict[str, object] = dict(number=1, name="tightened", requesters=(REQUESTER,),
                                     approvers=(APPROVER, "UAPPR9"), min_duration=timedelta(minutes=1),
                                     default_duration=timedelta(minutes=30), max_duration=timedelta(hours=4))
    values.update(rule)
    world.workflows.ctx.settings = replace(settings, policy=Policy((Rule(**values),), "policy.toml"))  # type: ignore[arg-type]


def test_more_approvals_asked_since_are_needed_before_the_request_is_approved(world: World) -> None:
    request = world.submit()
    ts = world.posted(request.id)
    tightened(world, approvals=2)
    world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    counted = world.view(request.id)
    assert counted.state is State.PENDING and counted.approvals_needed == 2 and world.descope.minted == []
    world.workflows.approvals.decide(request.id, "UAPPR9", True, message_ts=ts)
    assert world.view(request.id).state is State.ACTIVE


def test_a_window_the_rules_no_longer_allow_closes_the_request(world: World) -> None:
    request = world.submit(window="2h")
    ts = world.posted(request.id)
    tightened(world, max_duration=timedelta(hours=1), default_duration=timedelta(minutes=30))
    with pytest.raises(NoLongerAllowed) as refused:
        world.workflows.approvals.decide(request.id, APPROVER, True, message_ts=ts)
    closed = refused.value.request
    assert closed.state is State.FAILED and isinstance(closed.failure, Failure)
    assert closed.failure.kind is FailureKind.WINDOW_OUT_OF_POLICY and closed.failure.high_s == 3600
    assert world.descope.minted == []
