"""The one place that turns errors into words for Slack.

Expected problems (``UsageError``, ``DomainError``) become their own message. Anything else gets a
short error ID that is logged with the traceback and shown to the user, so a report can be matched
to the log line.
"""

from __future__ import annotations

import logging
import secrets

from bot.commands import UsageError
from bot.domain import DomainError

log = logging.getLogger("bot.slack")


def error_text(exc: BaseException, context: str) -> str:
    if isinstance(exc, UsageError | DomainError):
        return f":warning: {exc}"
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s while %s", error_id, context, exc_info=exc)
    return (f":boom: Something went wrong while {context}. "
            f"Error ID `{error_id}`: give it to whoever runs the bot.")
