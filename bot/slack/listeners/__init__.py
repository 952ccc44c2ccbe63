"""Bolt listeners, one module per surface, each with ``register(app, deps)``.

A listener reads the payload, ``ack()``s within Slack's 3 seconds, calls one workflow, and renders the
answer with ``bot.slack.views`` / ``bot.slack.messages``. Dependencies come in through ``Deps``: no globals.

    command     /impersonate (answered in the ack itself: parse, one insert, one ephemeral reply)
    approvals   Approve / Deny on the approval message (ack at once; the decision runs lazily)
    token       Show token on the requester's session DM (ack at once; the modal opens lazily)
    form        the request form: /impersonate alone or the shortcut opens it; its submission is answered in the ack
    home        the App Home: published when opened; its buttons (ack at once; the work runs lazily)
    session     a running session's Extend (the extension form) and Stop now, from the warning DM or the Home
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App

from bot.config import Settings
from bot.domain import RequestView
from bot.slack.commands import Policy
from bot.workflows import Workflows


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
        """The windows the rule of ``request`` allows (the extension form's choices)."""
        rule = self.settings.rule_for(request.login_id, request.tenant)
        return Policy(rule.default_duration, rule.min_duration, rule.max_duration)


def register_all(app: App, deps: Deps) -> None:
    from bot.slack.listeners import approvals, command, form, home, session, token

    command.register(app, deps)
    approvals.register(app, deps)
    token.register(app, deps)
    form.register(app, deps)
    home.register(app, deps)
    session.register(app, deps)
