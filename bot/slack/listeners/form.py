"""The request form. ``/impersonate`` with nothing after it, and the global shortcut "Request impersonation", open
it: the ack goes at once (empty: no message), then (``after_ack``) the listener opens the modal with the interaction's
``trigger_id`` (valid for 3 seconds, once). When that fails, the command's requester gets the usage instead.

A submission is answered in its ack, within Slack's 3 seconds, exactly as the typed command is: the fields are
checked by the command's rules, then ``Requests.submit`` (the same rules, the pre-flight, one insert) runs. Bad
fields and the rules' refusals come back as field errors (``response_action: errors``: nothing stored, nothing
posted, the form stays open to fix them); a stored request turns the form into the command's answer
(``response_action: update``); an unexpected error pushes a view with its error ID over the form.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import DomainError
from bot.domain.errors import ProofNeeded
from bot.slack import commands, payloads
from bot.slack.errors import error_text
from bot.slack.listeners import proof
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.listeners.command import COMMAND
from bot.slack.messages import replies
from bot.slack.unavailable import unavailable
from bot.slack.views import form, ids
from bot.workflows.ports import SlackUnavailable

log = logging.getLogger("bot.slack")


def nothing_typed(body: dict[str, Any]) -> bool:
    """The matcher of the empty command (the typed command's listener takes the rest)."""
    return commands.opens_form(payloads.command(body).text)


def register(app: App, deps: Deps) -> None:
    def open_form(body: dict[str, Any], client: WebClient, source: str) -> str | None:
        """Open the form with the interaction's trigger_id; when Slack did not open it (logged), what to answer."""
        try:
            client.views_open(trigger_id=payloads.trigger_of(body) or "",
                              view=form.build(deps.windows, emergency=deps.break_glass_offered))
            return None
        except (SlackApiError, SlackUnavailable) as exc:  # most often the trigger: older than Slack's 3 seconds
            log.warning("the request form did not open from the %s (%s)", source,
                        exc.response.get("error") if isinstance(exc, SlackApiError) else exc)
            busy = unavailable(exc)  # or Slack's rate limit: when to try again
            return replies.USAGE if busy is None else replies.slack_busy(busy.retry_after)
        except Exception as exc:  # Slack unreachable, even after the client's retries
            log.warning("the request form did not open from the %s (%s)", source, exc)
            return replies.USAGE

    def open_from_command(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        answer = open_form(body, client, "command")
        if answer is not None:
            respond(text=answer, response_type="ephemeral")  # the usage, as before the form; or when to try again

    def open_from_shortcut(body: dict[str, Any], client: WebClient) -> None:
        open_form(body, client, "shortcut")  # a global shortcut has no response_url: nowhere to answer

    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        try:
            submitted = payloads.submission(body)
        except payloads.Malformed as exc:
            log.warning("ignored a malformed request form (%s)", exc)
            ack()
            return
        draft = form.parse(submitted, deps.windows)
        if isinstance(draft, form.Invalid):
            ack(response_action="errors", errors=form.errors(draft))
            return
        try:
            if draft.break_glass:
                request = deps.workflows.break_glass.start(submitted.user_id, draft)
            else:
                request = deps.workflows.requests.submit(submitted.user_id, draft)
        except ProofNeeded as needed:  # break-glass where approvers prove themselves: the requester first
            proof.replace_with_modal(ack, app, deps, client, submitted.view_id or "", needed)
            return
        except DomainError as exc:
            ack(response_action="errors", errors=form.refused(exc))
            return
        except Exception as exc:
            ack(response_action="push", view=form.failed(error_text(exc, replies.Doing.SENDING_REQUEST)))
            return
        ack(response_action="update", view=form.sent(request))

    app.command(COMMAND, matchers=[nothing_typed])(after_ack(app, open_from_command))
    app.shortcut(ids.REQUEST_SHORTCUT)(after_ack(app, open_from_shortcut))
    app.view(ids.REQUEST_FORM)(on_submit)
