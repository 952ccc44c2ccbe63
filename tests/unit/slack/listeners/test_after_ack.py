"""``after_ack``: a click is answered at once, its work runs afterwards on the app's executor with what it names,
and a fault in that work is logged with an error ID rather than lost with its future."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from bot.devtools import FakeSlack
from bot.domain import NotFound
from bot.slack.listeners.base import after_ack

ACTION = "test.after_ack"


@pytest.fixture
def app() -> Iterator[App]:
    with FakeSlack() as slack:  # Bolt asks auth.test who the bot is
        app = App(client=WebClient(token=slack.bot_token, base_url=slack.url), signing_secret="unused",
                  request_verification_enabled=False, process_before_response=True)
        yield app
        app.listener_runner.listener_executor.shutdown(wait=True)


def click(app: App) -> int:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"},
               "actions": [{"action_id": ACTION, "value": "R1"}], "response_url": "http://127.0.0.1:9/hook"}
    body = urlencode({"payload": json.dumps(payload)})
    return app.dispatch(BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]})).status


def test_the_ack_goes_before_the_work_which_gets_the_click_as_sent(app: App) -> None:
    release, done = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def work(body: dict[str, Any], respond: object) -> None:
        release.wait(10)
        seen.update(value=body["actions"][0]["value"], respond=respond)
        done.set()

    app.action(ACTION)(after_ack(app, work))
    assert click(app) == 200  # answered while the work still waits
    assert not done.is_set()
    release.set()
    assert done.wait(10)
    assert seen["value"] == "R1" and seen["respond"] is not None


def test_a_fault_in_the_work_is_logged_with_an_error_id(app: App, caplog: pytest.LogCaptureFixture) -> None:

    def work(body: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    app.action(ACTION)(after_ack(app, work))
    assert click(app) == 200
    app.listener_runner.listener_executor.shutdown(wait=True)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage().startswith("unexpected error ")
    assert errors[0].exc_info is not None and "boom" in str(errors[0].exc_info[1])


def test_work_naming_what_is_not_given_is_refused_at_registration(app: App) -> None:
    def work(body: dict[str, Any], say: object) -> None: ...

    with pytest.raises(TypeError, match="say"):
        after_ack(app, work)


def test_a_refusal_the_work_let_out_is_logged_too(app: App, caplog: pytest.LogCaptureFixture) -> None:
    def work(body: dict[str, Any]) -> None:
        raise NotFound("R1")

    app.action(ACTION)(after_ack(app, work))
    assert click(app) == 200
    app.listener_runner.listener_executor.shutdown(wait=True)
    assert any(r.levelno == logging.WARNING and "NotFound" in r.getMessage() for r in caplog.records)
