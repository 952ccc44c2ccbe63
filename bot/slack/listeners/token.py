"""**Show token** on the requester's session DM (``TOKEN_DELIVERY=reveal``). The click is acked at once; then
(``after_ack``) the listener asks ``Tokens.reveal`` for the token and opens the modal with the click's ``trigger_id``
(valid for 3 seconds, once). Anyone else, or a click after the session ended, gets an ephemeral answer
and no token. Under ``reveal_mfa`` the click opens the code modal instead (``listeners.proof``), and the token modal
follows a good code."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import RequestView
from bot.domain.errors import ProofNeeded
from bot.slack import payloads
from bot.slack.client import CountingWebClient
from bot.slack.errors import error_text
from bot.slack.listeners import proof
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import replies
from bot.slack.retries import IN_THREAD_WAIT
from bot.slack.views import ids, token_modal

log = logging.getLogger("bot.slack")

TRIGGER_ERRORS = frozenset({"expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id"})


def register(app: App, deps: Deps) -> None:
    def show(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        click = payloads.click_or_none(body, "Show token")
        if click is None:
            return
        trigger_id = click.trigger_id
        if trigger_id is None:
            log.warning("ignored a Show token click without a trigger")
            return

        def open_modal(request: RequestView, token: str) -> None:
            client.views_open(trigger_id=trigger_id, view=token_modal.build(request, token))

        held = client.held_for("views.open") if isinstance(client, CountingWebClient) else 0.0
        if held > IN_THREAD_WAIT:  # Slack would not open the modal now: the token is not shown (nor audited as such)
            respond(text=replies.slack_busy(held), response_type="ephemeral", replace_original=False)
            return
        try:
            try:
                deps.workflows.tokens.reveal(click.request_id, click.user_id, open_modal)
            except ProofNeeded as needed:  # REVEAL_MFA: the code first; the token modal follows a good one
                proof.open_modal(deps, client, trigger_id, needed)
        except SlackApiError as exc:
            late = exc.response.get("error") in TRIGGER_ERRORS  # Slack waited too long for us: click again
            answer = replies.TRIGGER_EXPIRED if late else error_text(exc, replies.Doing.SHOWING_TOKEN)
            respond(text=answer, response_type="ephemeral", replace_original=False)
        except Exception as exc:
            respond(text=error_text(exc, replies.Doing.SHOWING_TOKEN), response_type="ephemeral",
                    replace_original=False)

    app.action(ids.SHOW_TOKEN)(after_ack(app, show))
