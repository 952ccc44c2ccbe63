"""The Bolt app: the workspace check, the listeners of every surface (``listeners/``), the error handler.

The app runs with ``process_before_response=True``: the slash command's ``ack`` is its answer, and clicks
``ack()`` at once and do their work after it (``listeners.after_ack``). Slack's 3-second rule is kept
there, surface by surface.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.client import CountingWebClient
from bot.slack.errors import error_text
from bot.slack.guard import WellFormed
from bot.slack.listeners import approvals, break_glass, command, form, home, proof, session, token
from bot.slack.listeners.base import ANSWER_WITHIN, Deps
from bot.slack.messages import replies
from bot.slack.reply import PutOff, Reply
from bot.slack.retries import IN_THREAD_WAIT
from bot.workflows import Workflows, from_now_on

log = logging.getLogger(__name__)
T = TypeVar("T")


class ContextCarryingExecutor(ThreadPoolExecutor):
    """Bolt's listener executor (it runs even an ack function on one of its threads), each piece of work run in the
    context of the thread that handed it over: the request's, with its deadline on database work
    (``Admission``)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def build_app(settings: Settings, workflows: Workflows, client: WebClient, put_off: PutOff | None = None) -> App:
    """``put_off``: where the replies Slack's rate limit put off wait (``bot.slack.reply``; given up at shutdown)."""
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get() if settings.slack_signing_secret else "",
        process_before_response=True,
        request_verification_enabled=not settings.socket_mode,
        listener_executor=ContextCarryingExecutor(max_workers=16, thread_name_prefix="bolt"),
        raise_error_for_unhandled_request=True,  # to on_error: one log line, not Bolt's code suggestion
    )
    app.use(WellFormed())  # first: no listener or middleware ever sees a payload Slack would not send
    app.use(Admission(client, put_off or PutOff()))
    deps = Deps(settings, workflows)
    for surface in (command, approvals, token, form, home, session, proof, break_glass):  # each surface
        surface.register(app, deps)

    @app.error
    def on_error(error: Exception) -> None:
        if isinstance(error, BoltUnhandledRequestError):  # well-formed, but nothing here handles it: a 404
            log.warning("no listener for a %s request (%s)", error.request.body.get("type") or "command",
                        _what(error.request.body))
            return
        error_text(error, replies.Doing.SLACK_REQUEST)

    return app


class Admission(Middleware):
    """What every well-formed request goes through before its listener, in one middleware (Bolt builds the arguments of
    a function middleware by looking at its signature, on every request): its deadline, the client that counts its
    calls, the ``respond`` that retries (``bot.slack.reply``), and the workspace check."""

    def __init__(self, client: WebClient, put_off: PutOff) -> None:
        self.client = client if isinstance(client, CountingWebClient) else None
        self.put_off = put_off
        self.forks: dict[str, CountingWebClient] = {}  # the installed workspace's: a client holds no request's state

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        # The request's database work waits for a lock no longer than Slack waits for the answer (ANSWER_WITHIN): a
        # database locked meanwhile is answered as out of reach, in time. Set on the thread that dispatches the
        # request (Bolt runs its listeners after the middleware, not inside it), and carried over to the listener on
        # Bolt's executor (ContextCarryingExecutor), in HTTP and Socket Mode alike.
        from_now_on(ANSWER_WITHIN)
        context = req.context
        installed = context.authorize_result.team_id if context.authorize_result else None
        if self.client is not None:
            context["client"] = self._counted(self.client, context.team_id, installed)
        if context.response_url:  # the listener's respond(): retried, and said when it could not be (bot.slack.reply)
            context["respond"] = self._reply(context, in_thread=IN_THREAD_WAIT)
        refused = self._other_workspace(req.body, context, installed)
        return refused if refused is not None else next()

    def _reply(self, context: BoltContext, *, in_thread: float) -> Reply:
        return Reply(response_url=context.response_url, put_off=self.put_off, proxy=context.client.proxy,
                     ssl=context.client.ssl, who=context.user_id, in_thread=in_thread)

    def _counted(self, client: CountingWebClient, team: str | None, installed: str | None) -> CountingWebClient:
        """Listeners' ``client`` counts its calls too (``bot.server.metrics``), like the app's own. Bolt builds a
        client per request; the installed workspace's is built once."""
        fork = self.forks.get(team) if team else None
        if fork is None:
            fork = client.fork(team)
            if team and team == installed:
                self.forks[team] = fork
        return fork

    def _other_workspace(self, body: dict[str, Any], context: BoltContext,
                         installed: str | None) -> BoltResponse | None:
        """Refuse anything sent from another workspace than the one the bot token belongs to."""
        sender = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        if not installed or not sender or sender == installed:
            return None
        log.warning("refused a request from workspace %s (installed in %s)", sender, installed)
        refusal = replies.OTHER_WORKSPACE
        if body.get("type") == "block_actions" and context.response_url:  # a click: say so to the clicker
            # before the ack (process_before_response): a 429 waits on a timer, not in Slack's 3 s for the answer
            self._reply(context, in_thread=0)(text=refusal, response_type="ephemeral", replace_original=False)
            return BoltResponse(status=200, body="")
        return BoltResponse(status=200, body=refusal)


def _what(body: dict[str, Any]) -> str:
    """Which action, view, shortcut or event a request names (IDs only, never text)."""
    def field(value: Any, key: str) -> Any:
        return value.get(key) if isinstance(value, dict) else None

    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return str(field(first, "action_id") or field(body.get("view"), "callback_id") or body.get("callback_id")
               or field(body.get("event"), "type") or body.get("command") or "?")
