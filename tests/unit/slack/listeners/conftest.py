"""The Bolt app in-process, wired to real parts and the fakes, driven the way Slack drives it.

Real: ``Settings``, a migrated SQLite ``Store``, ``slack_sdk.WebClient`` (``make_client``) pointed at
``FakeSlack``, ``DescopeClient`` pointed at ``FakeDescope``, ``SlackDirectory``, ``SlackNotifier``, ``Sealer``,
``Workflows.build`` and ``build_app``. No scheduler: ``post_approval`` ticks a request by hand, as the
scheduler's worker would after the command.

Requests are signed with the signing secret (``tests/fakes/signing.py``) and handed to ``app.dispatch``.
Clicks ``ack()`` at once and decide after the ack on the app's executor: ``settle()`` waits until
everything submitted to it has finished, so a test can also assert that *nothing* happened.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest

from bot.config import Secret, Settings
from bot.descope import DescopeClient
from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_GROUP,
    GROUP_APPROVER,
    REQUESTER,
    SIGNING_SECRET,
    TARGET,
    TENANT,
    populate,
)
from bot.devtools.signing import block_action_body, block_action_payload, sign, slash_command_body
from bot.domain import RequestView
from bot.slack.app import build_app
from bot.slack.client import make_client
from bot.slack.directory import SlackDirectory
from bot.slack.listeners.base import ANSWER_WITHIN
from bot.slack.notifier import SlackNotifier
from bot.store import Store, make_engine
from bot.store.migrate import migrate
from bot.store.patience import waiting_at_most
from bot.store.sealing import Sealer
from bot.workflows import Workflows

TEAM = "T0001"  # FakeSlack's auth.test team: the workspace the bot is installed in
VALID_COMMAND = f"{TARGET} 30m --tenant {TENANT} checking invoice SUP-123"
#: What reaches people (the methods FakeSlack's all_text_sent looks at).
SPEAKING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a signed request (for a slash command, the ephemeral reply itself)."""

    status: int
    body: str

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body) if self.body.startswith("{") else {}
        assert isinstance(value, dict)
        return value

    @property
    def text(self) -> str:
        return str(self.json.get("text", "")) if self.body.startswith("{") else self.body


@dataclass
class InProcessBot:
    slack: FakeSlack
    descope: FakeDescope
    settings: Settings
    store: Store
    workflows: Workflows
    app: App
    caplog: pytest.LogCaptureFixture
    _futures: list[Future[Any]] = field(default_factory=list)
    _clicks: int = 0

    # -- driving it, as Slack does ----------------------------------------------------------------
    def dispatch(self, body: str, headers: dict[str, str] | None = None) -> Answer:
        headers = headers if headers is not None else sign(SIGNING_SECRET, body)
        with waiting_at_most(ANSWER_WITHIN):  # as the server dispatches it (``server.web``): its deadline ends with it
            response: BoltResponse = self.app.dispatch(BoltRequest(body=body, headers=headers))
        return Answer(response.status, response.body)

    def command(self, text: str, user_id: str = REQUESTER, **kw: Any) -> Answer:
        return self.dispatch(slash_command_body(text, user_id=user_id, response_url=self.slack.response_url(
            f"cmd-{user_id}-{time.monotonic_ns()}"), **kw))

    def click(self, action_id: str, request_id: str, *, user_id: str, message_ts: str,
              channel_id: str = APPROVAL_CHANNEL, block_id: str | None = None, **kw: Any) -> str:
        """Click a button; answer the key of the click's response_url (see ``told``). The click's
        work is waited for (``settle``) before this returns."""
        self._clicks += 1
        key = f"click-{self._clicks}"
        body = block_action_body(
            action_id, request_id, user_id=user_id, channel_id=channel_id, message_ts=message_ts,
            response_url=self.slack.response_url(key, channel=channel_id, message_ts=message_ts),
            block_id=block_id or f"approval.decision:{request_id}", **kw)
        answer = self.dispatch(body)
        assert answer.status == 200, answer  # the ack: at once, empty
        assert answer.body == "", answer
        self.settle()
        return key

    def click_payload(self, payload: dict[str, Any]) -> Answer:
        """Dispatch a hand-made ``block_actions`` payload (e.g. a malformed one), then settle."""
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        answer = self.dispatch(body)
        self.settle()
        return answer

    def base_payload(self, action_id: str, request_id: str, *, user_id: str, message_ts: str) -> dict[str, Any]:
        self._clicks += 1
        key = f"click-{self._clicks}"
        return block_action_payload(
            action_id, request_id, user_id=user_id, channel_id=APPROVAL_CHANNEL, message_ts=message_ts,
            response_url=self.slack.response_url(key, channel=APPROVAL_CHANNEL, message_ts=message_ts),
            block_id=f"approval.decision:{request_id}")

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until every listener and the work after an ack the app started has finished."""
        while True:
            pending = [f for f in list(self._futures) if not f.done()]
            if not pending:
                return
            _, not_done = wait(pending, timeout=timeout)
            assert not not_done, f"{len(not_done)} listener(s) still running after {timeout}s"

    # -- the requests ------------------------------------------------------------------------------
    def submit(self, text: str = VALID_COMMAND, user_id: str = REQUESTER) -> tuple[str, str]:
        """A valid command, then the tick that posts its approval message: (request ID, message ts)."""
        answer = self.command(text, user_id)
        assert answer.status == 200, answer
        requests = self.store.list_requests(requester_id=user_id, limit=1)
        assert requests and f"`{requests[0].id}`" in answer.text, answer
        return requests[0].id, self.post_approval(requests[0].id)

    def post_approval(self, request_id: str) -> str:
        """Tick the request as the command's kick does (under the Slack lease the request was born with): the
        approval message is posted. Answers its ts."""
        row = self.store.get_row(request_id)
        assert row is not None, request_id
        self.workflows.ticker.tick(request_id, row.slack_lease_until)
        request = self.request(request_id)
        assert request.channel_id == APPROVAL_CHANNEL and request.channel_ts, request
        return request.channel_ts

    def request(self, request_id: str) -> RequestView:
        request = self.store.get(request_id)
        assert request is not None, request_id
        return request

    def all_requests(self) -> list[RequestView]:
        return self.store.list_requests(limit=100)

    # -- what Slack and Descope received ----------------------------------------------------------
    def told(self, key: str) -> list[dict[str, Any]]:
        """What was POSTed to the response_url of click ``key`` (the clicker's ephemeral answers)."""
        return [c.params for c in self.slack.calls_of("response_url") if c.params.get("key") == key]

    def spoken(self) -> list[tuple[str, dict[str, Any]]]:
        """Every call that put words in front of someone: (method, params)."""
        return [(c.method, c.params) for c in self.slack.calls if c.method in SPEAKING]

    def approval_message(self, ts: str) -> dict[str, Any]:
        message = self.slack.message(APPROVAL_CHANNEL, ts)
        assert message is not None, f"no approval message at {ts}"
        return message

    def buttons(self, ts: str) -> list[dict[str, Any]]:
        """The buttons on the approval message, as Slack shows it now."""
        return [element for block in self.approval_message(ts).get("blocks") or []
                if block.get("type") == "actions" for element in block.get("elements") or []]

    def dm_texts(self, user_id: str) -> list[str]:
        """The current text (fallback and blocks) of each message in the user's DM with the bot."""
        return [self.slack.message_text(ch, ts) for (ch, ts) in list(self.slack.messages) if ch == "D" + user_id]

    def logged_errors(self) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if r.levelno >= logging.ERROR]


def make_settings(slack: FakeSlack, descope: FakeDescope, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token=Secret(slack.bot_token),
        slack_signing_secret=Secret(SIGNING_SECRET),
        slack_api_url=slack.url,
        approval_channel=APPROVAL_CHANNEL,
        approvers=(APPROVER, APPROVER_GROUP),
        requesters=(REQUESTER, APPROVER, GROUP_APPROVER),
        descope_project_id=descope.project_id,
        descope_management_key=Secret(descope.management_key),
        descope_base_uri=descope.url,
        database_url=database_url,
        min_duration=timedelta(seconds=1),
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def bot(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[InProcessBot]:
    caplog.set_level(logging.INFO)
    with FakeSlack() as slack, FakeDescope() as descope:
        populate(slack, descope)
        settings = make_settings(slack, descope, f"sqlite:///{tmp_path / 'bot.db'}")
        engine = make_engine(settings.database_url)
        migrate(engine)
        store = Store(engine)
        descope_client = DescopeClient(settings.descope_project_id, settings.descope_management_key.get(),
                                       settings.descope_base_uri)
        client = make_client(settings)
        workflows = Workflows.build(settings, store, descope_client, SlackDirectory(client),
                                    SlackNotifier(client, settings.approval_channel),
                                    Sealer(settings.descope_management_key.get()))
        app = build_app(settings, workflows, client)
        harness = InProcessBot(slack, descope, settings, store, workflows, app, caplog)

        # Record what the app hands its executor (listeners and the work after their acks share it), so that
        # settle() can wait for the work a click started.
        executor = app.listener_runner.listener_executor
        submit = executor.submit

        def tracked_submit(fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            future = submit(fn, *args, **kwargs)
            harness._futures.append(future)
            return future

        executor.submit = tracked_submit  # type: ignore[method-assign]
        try:
            yield harness
        finally:
            executor.shutdown(wait=True)
            descope_client.close()
            engine.dispose()
