"""The App Home. Opening it (the ``app_home_opened`` event, Home tab) publishes the person's Home; its buttons
(Approve, Deny, Stop, Withdraw) call the same workflows as the channel message and the command. Each is
acked at once; the work runs after the ack (``after_ack``).

A click counts only from the clicker's own Home as this bot published it: the payload's container is a view,
the view a Home, its ``bot_id`` this bot's (Bolt's ``context.bot_id``, from ``auth.test``), its ``app_id``
the app Slack sent the click to, its ``private_metadata`` the clicker. Anything else is logged and decides
nothing (the channel's buttons keep their own listener and its channel check).

A Home click has no response URL and no channel for an ephemeral: a refusal is shown to the clicker as a
notice at the top of their Home, published afresh. A success needs no answer: the change republishes the
Homes it shows on (``workflows.home``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.domain.errors import ProofNeeded
from bot.slack import payloads
from bot.slack.errors import error_text
from bot.slack.listeners import proof
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import replies
from bot.slack.views import home, ids

log = logging.getLogger("bot.slack")

HOME_OPENED = "app_home_opened"

#: What a Home click does: (request ID, clicker) → the workflow call.
Act = Callable[[str, str], object]


def register(app: App, deps: Deps) -> None:
    workflows = deps.workflows

    def publish(user_id: str, client: WebClient, notice: str | None = None) -> None:
        client.views_publish(user_id=user_id, view=home.build(workflows.homes.page(user_id), notice))

    def on_opened(event: dict[str, Any], client: WebClient) -> None:
        user_id = event.get("user")
        if event.get("tab") != "home" or not user_id:
            return  # the Messages tab (or no one): nothing to publish
        try:
            client.views_publish(user_id=str(user_id), view=home.build(workflows.homes.opened(str(user_id))))
        except Exception as exc:
            error_text(exc, replies.Doing.PUBLISHING_HOME)  # logged with an error ID; Slack shows the previous Home

    def clicked(body: dict[str, Any], context: BoltContext, client: WebClient, act: Act, doing: str) -> None:
        click = payloads.click_or_none(body, "Home")
        if click is None:
            return
        if not click.from_home_of(context.bot_id):
            log.warning("ignored a Home button clicked by %s outside their own Home of this bot "
                        "(container a Home: %s, view of bot %s, app %s)", click.user_id, click.on_home,
                        click.view_bot_id, click.view_app_id)
            return
        try:
            try:
                act(click.request_id, click.user_id)
            except ProofNeeded as needed:  # an Approve the rules want proved: the code modal, at once
                proof.open_modal(deps, client, click.trigger_id or "", needed, via_home=True)
        except Exception as exc:
            try:
                publish(click.user_id, client, error_text(exc, doing))
            except Exception as failed:
                error_text(failed, replies.Doing.PUBLISHING_HOME)

    def work_of(act: Act, doing: str) -> Callable[[dict[str, Any], BoltContext, WebClient], None]:
        def run(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
            clicked(body, context, client, act, doing)
        return run

    def approve(request_id: str, user_id: str) -> object:
        return workflows.approvals.decide(request_id, user_id, True, via_home=True)

    def deny(request_id: str, user_id: str) -> object:
        return workflows.approvals.decide(request_id, user_id, False, via_home=True)

    app.event(HOME_OPENED)(after_ack(app, on_opened))
    app.action(ids.HOME_APPROVE)(after_ack(app, work_of(approve, replies.Doing.DECISION)))
    app.action(ids.HOME_DENY)(after_ack(app, work_of(deny, replies.Doing.DECISION)))
    app.action(ids.HOME_STOP)(after_ack(app, work_of(workflows.requests.request_stop, replies.Doing.STOPPING)))
    app.action(ids.HOME_WITHDRAW)(after_ack(app, work_of(workflows.requests.withdraw, replies.Doing.WITHDRAWING)))
