"""**Looks right** and **Stop and flag** on a break-glass alert (in the approvals channel, or its copy in
``BREAK_GLASS_CHANNEL``). Both ``ack()`` at once; the review runs after the ack (``after_ack``), and refusals (the
requester's own session, someone not among its rule's approvers, reviewed already) come back to the clicker alone as
ephemeral messages."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Respond

from bot.slack import payloads
from bot.slack.errors import error_text
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import replies
from bot.slack.views import ids

log = logging.getLogger("bot.slack")


def register(app: App, deps: Deps) -> None:
    channels = {deps.settings.approval_channel, deps.settings.break_glass_channel} - {None}

    def clicked(body: dict[str, Any], respond: Respond, flag: bool) -> None:
        click = payloads.click_or_none(body, "break-glass review")
        if click is None:
            return
        if click.channel_id not in channels or not click.message_ts:
            if click.response_url:
                respond(text=replies.WRONG_PLACE, response_type="ephemeral", replace_original=False)
            else:
                log.warning("ignored a break-glass review by %s from outside a message", click.user_id)
            return
        review = deps.workflows.break_glass.flag if flag else deps.workflows.break_glass.review
        try:
            review(click.request_id, click.user_id, where=(click.channel_id or "", click.message_ts))
        except Exception as exc:
            respond(text=error_text(exc, replies.Doing.DECISION), response_type="ephemeral", replace_original=False)

    def on_review(body: dict[str, Any], respond: Respond) -> None:
        clicked(body, respond, flag=False)

    def on_flag(body: dict[str, Any], respond: Respond) -> None:
        clicked(body, respond, flag=True)

    app.action(ids.BREAK_GLASS_REVIEW)(after_ack(app, on_review))
    app.action(ids.BREAK_GLASS_FLAG)(after_ack(app, on_flag))
