"""The Bolt app: thin listeners that read the payload, answer Slack, call one service function, render.

Slack's 3-second rule is visible here. The app runs with ``process_before_response=True``:

* ``/impersonate`` does only fast local work before answering (parse the text, one indexed insert),
  so its ``ack`` *is* the answer: no second round-trip, no 10 ms ack polling. The approval message is
  posted afterwards by the scheduler's workers.
* Button clicks ``ack()`` at once; the decision (and Descope's impersonate call) runs in a Bolt lazy
  listener on a worker thread, and refusals come back as ephemeral messages via ``respond``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient

from bot import commands
from bot.config import Settings
from bot.domain import NotAllowed
from bot.service import Service
from bot.slack import render
from bot.slack.errors import error_text

log = logging.getLogger(__name__)


def build_app(settings: Settings, service: Service, client: WebClient) -> App:
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret.get() if settings.slack_signing_secret else "",
        process_before_response=True,
        request_verification_enabled=not settings.socket_mode,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
    )
    policy = commands.Policy(settings.default_duration, settings.min_duration, settings.max_duration)

    @app.middleware
    def only_our_workspace(
        body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        """Refuse anything sent from another workspace than the one the bot token belongs to."""
        installed = context.authorize_result.team_id if context.authorize_result else None
        sender = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        if installed and sender and sender != installed:
            log.warning("refused a request from workspace %s (installed in %s)", sender, installed)
            refusal = ":no_entry: This bot only serves the workspace it is installed in."
            if body.get("type") == "block_actions" and context.respond is not None:  # a click: say so to the clicker
                context.respond(text=refusal, response_type="ephemeral", replace_original=False)
                return BoltResponse(status=200, body="")
            return BoltResponse(status=200, body=refusal)
        return next()

    @app.command("/impersonate")
    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        ack(text=handle_command(service, policy, body["user_id"], body.get("text", "")), response_type="ephemeral")

    def ack_now(ack: Ack) -> None:
        ack()

    def decide(body: dict[str, Any], respond: Respond, approve: bool) -> None:
        clicker = body["user"]["id"]
        request_id = str(body["actions"][0].get("value", ""))
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        try:
            if channel != settings.approval_channel or not message_ts:
                raise NotAllowed("Approvals count only from the request's message in the approvals channel.")
            service.decide(request_id, clicker, approve, message_ts=str(message_ts))
        except Exception as exc:
            respond(text=error_text(exc, "recording your decision"), response_type="ephemeral",
                    replace_original=False)

    def on_approve(body: dict[str, Any], respond: Respond) -> None:
        decide(body, respond, approve=True)

    def on_deny(body: dict[str, Any], respond: Respond) -> None:
        decide(body, respond, approve=False)

    app.action(render.APPROVE)(ack=ack_now, lazy=[on_approve])
    app.action(render.DENY)(ack=ack_now, lazy=[on_deny])

    @app.error
    def on_error(error: Exception) -> None:
        error_text(error, "handling a Slack request")

    return app


def handle_command(service: Service, policy: commands.Policy, user_id: str, text: str) -> str:
    """The whole slash command, answered in one ephemeral message."""
    try:
        command = commands.parse(text, policy)
        match command:
            case commands.Help():
                return commands.USAGE
            case commands.ListRequests():
                listing = service.listing(user_id)
                return render.listing(listing.mine, listing.active)
            case commands.Stop(request_id):
                return render.stopping(service.request_stop(request_id, user_id))
            case commands.Submit(draft):
                return render.submitted(service.submit(user_id, draft))
    except Exception as exc:
        return error_text(exc, "handling your command")
