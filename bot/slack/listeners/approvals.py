"""Approve and Deny on the approval message. Both ``ack()`` at once; the decision (and, on approval,
Descope's impersonate call) runs after the ack on a worker thread (``after_ack``), and refusals come back to
the clicker alone as ephemeral messages through ``respond``. Where the rules ask approvers for a second factor, the
Approve opens the code modal instead (``listeners.proof``), and counts once the code is proved.

A click counts only from the request's own message in the approvals channel (the workflow checks the
message; this checks the channel). The App Home has buttons of its own (``listeners/home.py``). Buttons
posted by earlier versions carry the legacy action IDs.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.domain.errors import ProofNeeded
from bot.slack import payloads
from bot.slack.errors import error_text
from bot.slack.listeners import proof
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import replies
from bot.slack.views import ids

log = logging.getLogger("bot.slack")


def register(app: App, deps: Deps) -> None:
    def decide(body: dict[str, Any], client: WebClient, respond: Respond, approve: bool) -> None:
        click = payloads.click_or_none(body, "Approve/Deny")
        if click is None:
            return
        if click.channel_id != deps.settings.approval_channel or not click.message_ts:
            if click.response_url:
                respond(text=replies.WRONG_PLACE, response_type="ephemeral", replace_original=False)
            else:  # e.g. a view (a Home has its own buttons): no message to answer under
                log.warning("ignored an Approve/Deny click by %s from outside a message", click.user_id)
            return
        try:
            deps.workflows.approvals.decide(click.request_id, click.user_id, approve, message_ts=click.message_ts)
        except ProofNeeded as needed:  # the click alone counts nothing: the code modal, at once
            try:
                proof.open_modal(deps, client, click.trigger_id or "", needed, message_ts=click.message_ts)
            except Exception as exc:
                respond(text=error_text(exc, replies.Doing.VERIFYING), response_type="ephemeral",
                        replace_original=False)
        except Exception as exc:
            respond(text=error_text(exc, replies.Doing.DECISION), response_type="ephemeral",
                    replace_original=False)

    def on_approve(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        decide(body, client, respond, approve=True)

    def on_deny(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        decide(body, client, respond, approve=False)

    for action_id in (ids.APPROVE, *ids.LEGACY_APPROVE):
        app.action(action_id)(after_ack(app, on_approve))
    for action_id in (ids.DENY, *ids.LEGACY_DENY):
        app.action(action_id)(after_ack(app, on_deny))
