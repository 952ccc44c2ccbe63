"""``/impersonate``: the typed command. Parsing and storing are fast and local, so the ``ack`` *is* the
answer (one ephemeral message, no second round-trip); the approval message is posted afterwards by the
scheduler's workers. ``/impersonate`` with nothing typed is the request form's (``listeners/form.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.domain.errors import ProofNeeded
from bot.slack import commands, payloads
from bot.slack.errors import error_text
from bot.slack.listeners import proof
from bot.slack.listeners.base import Deps
from bot.slack.messages import break_glass as break_glass_words
from bot.slack.messages import replies

COMMAND = "/impersonate"


def register(app: App, deps: Deps) -> None:
    def typed(body: dict[str, Any]) -> bool:
        return not commands.opens_form(payloads.command(body).text)

    @app.command(COMMAND, matchers=[typed])
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        typed = payloads.command(body)
        ack(text=answer(deps, typed.user_id, typed.text, Modals(client, payloads.trigger_of(body), app)),
            response_type="ephemeral")


@dataclass(frozen=True)
class Modals:
    """What a command needs to open the code modal: the client, the command's trigger, the app (its executor mails
    an emailed code after the ack)."""

    client: WebClient
    trigger_id: str | None
    app: App


def answer(deps: Deps, user_id: str, text: str, modals: Modals | None = None) -> str:
    """The whole slash command, answered in one ephemeral message (a break-glass whose requester must prove
    themselves first opens the code modal with the command's trigger)."""
    workflows = deps.workflows
    try:
        match commands.parse(text, deps.windows):
            case commands.Help() | commands.OpenForm():  # the form is opened by its own listener
                return replies.USAGE
            case commands.ListRequests():
                listing = workflows.requests.listing(user_id)
                return replies.listing(listing.mine, listing.active)
            case commands.Stop(request_id):
                return replies.stopping(workflows.requests.request_stop(request_id, user_id), user_id)
            case commands.Extend(request_id, duration, reason):
                return replies.submitted(workflows.extensions.request(request_id, user_id, duration, reason))
            case commands.Submit(draft) if draft.break_glass:
                try:
                    return break_glass_words.started(workflows.break_glass.start(user_id, draft))
                except ProofNeeded as needed:
                    if modals is None or modals.trigger_id is None:
                        raise
                    proof.open_modal(deps, modals.client, modals.trigger_id, needed,
                                     later=modals.app.listener_runner.listener_executor.submit)
                    return break_glass_words.waiting_for_code(workflows.ctx.get(needed.request_id))
            case commands.Submit(draft):
                return replies.submitted(workflows.requests.submit(user_id, draft))
    except Exception as exc:
        return error_text(exc, replies.Doing.COMMAND)
    raise AssertionError("unreachable")
