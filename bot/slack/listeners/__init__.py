"""Bolt listeners, one module per surface, each with ``register(app, deps)``.

A listener reads the payload, ``ack()``s within Slack's 3 seconds, calls one workflow, and renders the
answer with ``bot.slack.views`` / ``bot.slack.messages``. Dependencies come in through ``Deps``: no globals.
Work that may take longer than the ack (a decision, a modal to open) is registered with ``after_ack``: the
click is acked at once and the work runs on the app's listener executor.

    command     /impersonate (answered in the ack itself: parse, one insert, one ephemeral reply)
    approvals   Approve / Deny on the approval message (ack at once; the decision runs after it)
    token       Show token on the requester's session DM (ack at once; the modal opens after it)
    form        the request form: /impersonate alone or the shortcut opens it; its submission is answered in the ack
    home        the App Home: published when opened; its buttons (ack at once; the work runs after it)
    session     a running session's Extend (the extension form) and Stop now, from the warning DM or the Home
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.domain import RequestView
from bot.slack.commands import Policy
from bot.slack.errors import error_text
from bot.slack.messages import replies
from bot.workflows import Workflows

log = logging.getLogger("bot.slack")

#: What work registered with ``after_ack`` may name among its parameters (as a Bolt listener would).
AFTER_ACK_ARGS = frozenset({"body", "context", "client", "respond", "event"})


@dataclass(frozen=True)
class Deps:
    settings: Settings
    workflows: Workflows

    @property
    def policy(self) -> Policy:
        """What a typed window is checked against before the request's rule is known: the widest any rule
        allows (the rule's own bounds are checked on submission)."""
        s = self.settings
        low, high = s.widest_window
        return Policy(min(max(s.default_duration, low), high), low, high)

    def rule_policy(self, request: RequestView) -> Policy:
        """The windows the rules of ``request`` allow (the extension form's choices)."""
        rules = self.settings.decide(request.login_id, request.tenant, request.target)
        return Policy(rules.default_duration, rules.min_duration, rules.max_duration)


def after_ack(app: App, work: Callable[..., None]) -> Callable[..., None]:
    """A listener that acks at once and then runs ``work`` on the app's listener executor (the one Bolt runs
    its lazy listeners on, shut down with the app), passing the arguments ``work`` names (``AFTER_ACK_ARGS``).

    What ``lazy=[work]`` does, without Bolt's deep copy of the whole request for each lazy call: a click's
    payload carries the message or view it came from (an approval message's blocks, a whole Home), and
    copying it cost more CPU than deciding the click. Nothing mutates the request once it is acked, so the
    work reads it as it is. An exception ``work`` lets out is logged: an unexpected one with an error ID
    (``error_text``)."""
    names = tuple(inspect.signature(work).parameters)
    if not AFTER_ACK_ARGS.issuperset(names):
        raise TypeError(f"{work.__name__} names {sorted(set(names) - AFTER_ACK_ARGS)}: not given after the ack")

    def run(kwargs: dict[str, Any]) -> None:
        try:
            work(**kwargs)
        except Exception as exc:
            if replies.error_reply(exc) is None:
                error_text(exc, replies.Doing.SLACK_REQUEST)  # logged with an error ID
            else:  # a refusal the work should have answered itself: never silent
                log.warning("%s ended in a refusal nobody was shown: %s", work.__name__, type(exc).__name__)

    def ack_then_work(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                      respond: Respond | None, event: dict[str, Any] | None) -> None:
        ack()
        given = {"body": body, "context": context, "client": client, "respond": respond, "event": event}
        app.listener_runner.listener_executor.submit(run, {name: given[name] for name in names})

    return ack_then_work


def register_all(app: App, deps: Deps) -> None:
    from bot.slack.listeners import approvals, command, form, home, session, token

    command.register(app, deps)
    approvals.register(app, deps)
    token.register(app, deps)
    form.register(app, deps)
    home.register(app, deps)
    session.register(app, deps)
