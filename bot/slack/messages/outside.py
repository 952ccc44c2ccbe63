"""The words of an impersonation outside the bot: what the approvals channel is told when Descope's audit shows
someone impersonated without it (the console, another script holding a management key)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.outcomes import Outside
from bot.domain.text import visible
from bot.slack.mrkdwn import code, escape, when


def notice(found: Outside) -> str:
    """mrkdwn: whom, when, by whom where Descope says, and what to do."""
    who = f"{escape(visible(found.name))} ({code(found.login_id)})" if found.name and found.login_id else \
        code(found.login_id or found.user_id)
    at = when(datetime.fromisoformat(found.occurred))
    by = f" by {code(found.actor)}" if found.actor else ""
    return (f":rotating_light: {who} was impersonated at {at}{by} outside this bot: no request here accounts for it. "
            "Find out who did it (Descope's audit trail has the details): impersonation should go through the bot.")
