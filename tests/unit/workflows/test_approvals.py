"""Approvals (``bot.workflows.approvals``), in process: a click that lands before the poster has stored
the approval message's ts still counts (it waits up to ``CLICK_WAIT``)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from bot.devtools.harness import APPROVER, REQUESTER, TARGET
from bot.domain import Draft, RequestView, State
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
