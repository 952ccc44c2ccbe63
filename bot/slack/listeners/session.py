"""A running session's buttons: **Extend** (on the expiry warning DM, and on the requester's own App Home) opens the
extension form; **Stop now** (on the warning DM) ends the session. Each click is acked at once; the work runs after
the ack (``after_ack``). The form's submission is answered in its ack, like the request form's: field errors (nothing
stored), or the extension stored and the form turned into the command's answer.

Extend opens the form only for the session's requester while it runs (``Extensions.offer``); anyone else, or a
click once it has ended, gets the refusal: an ephemeral answer in the DM, a notice on the Home.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.domain import DomainError
from bot.slack import payloads
from bot.slack.errors import error_text
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import form as form_words
from bot.slack.messages import replies
from bot.slack.mrkdwn import unformatted
from bot.slack.views import extend, form, home, ids

log = logging.getLogger("bot.slack")


def open_form(deps: Deps, client: WebClient, click: payloads.Click) -> None:
    """Open the extension form for the clicker's running session. The modal opens first, saying it is being
    prepared (the click's trigger lives 3 seconds; the checks may ask Slack who is in a group), then becomes the form,
    or says why no extension can be asked. Raises when the modal cannot open at all."""
    opened = client.views_open(trigger_id=click.trigger_id or "", view=extend.preparing())
    try:
        session, _ = deps.workflows.extensions.offer(click.request_id, click.user_id)
        view = extend.build(session, deps.rule_windows(session))
    except Exception as exc:
        view = extend.unavailable(error_text(exc, replies.Doing.EXTENDING))
    client.views_update(view_id=opened["view"]["id"], hash=opened["view"].get("hash"), view=view)


def register(app: App, deps: Deps) -> None:
    workflows = deps.workflows

    def on_extend(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        click = payloads.click_or_none(body, "Extend")
        if click is None:
            return
        try:
            open_form(deps, client, click)
        except Exception as exc:
            respond(text=error_text(exc, replies.Doing.EXTENDING), response_type="ephemeral", replace_original=False)

    def on_home_extend(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        click = payloads.click_or_none(body, "Home")
        if click is None:
            return
        if not click.from_home_of(context.bot_id):
            log.warning("ignored a Home Extend clicked by %s outside their own Home of this bot", click.user_id)
            return
        try:
            open_form(deps, client, click)
        except Exception as exc:
            notice = error_text(exc, replies.Doing.EXTENDING)
            try:
                page = workflows.homes.page(click.user_id)
                client.views_publish(user_id=click.user_id, view=home.build(page, notice))
            except Exception as failed:
                error_text(failed, replies.Doing.PUBLISHING_HOME)

    def on_stop_now(body: dict[str, Any], respond: Respond) -> None:
        click = payloads.click_or_none(body, "Stop now")
        if click is None:
            return
        try:
            answer = replies.stopping(workflows.requests.request_stop(click.request_id, click.user_id), click.user_id)
        except Exception as exc:
            answer = error_text(exc, replies.Doing.STOPPING)
        respond(text=answer, response_type="ephemeral", replace_original=False)

    def on_submit(ack: Ack, body: dict[str, Any]) -> None:
        try:
            submitted = payloads.submission(body)
            asked = extend.parse(submitted, deps.windows)
        except payloads.Malformed as exc:
            log.warning("ignored a malformed extension form (%s)", exc)
            ack()
            return
        if not isinstance(asked, extend.ExtensionAsked):
            ack(response_action="errors", errors=form.errors(asked))
            return
        try:
            request = workflows.extensions.request(asked.session_id, submitted.user_id, asked.duration, asked.reason)
        except DomainError as exc:
            ack(response_action="errors", errors=extend.refused(form_words.field_refusal(exc)))
            return
        except Exception as exc:
            ack(response_action="errors", errors=extend.refused(unformatted(error_text(exc, replies.Doing.EXTENDING))))
            return
        ack(response_action="update", view=extend.sent(request))

    app.action(ids.EXTEND)(after_ack(app, on_extend))
    app.action(ids.HOME_EXTEND)(after_ack(app, on_home_extend))
    app.action(ids.STOP_NOW)(after_ack(app, on_stop_now))
    app.view(ids.EXTEND_FORM)(on_submit)
