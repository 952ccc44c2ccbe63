"""The one place that turns any error into an answer for Slack.

Expected problems (``UsageError``, ``DomainError``) get their own message (``messages.replies``); so do the database
out of reach and Slack rate-limiting the bot or failing on its side (when to try again), each logged in one line.
Anything else gets a short error ID that is logged with the traceback and shown to the user, so a report can be
matched to the log line.
"""

from __future__ import annotations

import http.client
import logging
import secrets
from urllib.error import URLError

from slack_sdk.errors import SlackApiError

from bot.slack.messages import replies
from bot.slack.unavailable import unavailable
from bot.workflows import database_unreachable
from bot.workflows.ports import SlackUnavailable

log = logging.getLogger("bot.slack")

#: What a listener's own Slack call raises when Slack rate-limits or fails (``slack.unavailable`` says which).
_SLACKS = (SlackUnavailable, SlackApiError, URLError, http.client.HTTPException, ConnectionError, TimeoutError)


def error_text(exc: BaseException, doing: str) -> str:
    expected = replies.error_reply(exc)
    if expected is not None:
        return expected
    if database_unreachable(exc):  # nothing was stored or half done (one change, one transaction): try again
        log.warning("the database could not be reached while %s (%s)", doing, type(exc).__name__)
        return replies.DATABASE_DOWN
    slack = unavailable(exc) if isinstance(exc, _SLACKS) else None
    if slack is not None:  # a click's modal cannot wait for Slack (its trigger lasts 3 s): the person clicks again
        log.warning("Slack could not take the bot's call while %s (%s)", doing, slack)
        return replies.slack_busy(slack.retry_after)
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s while %s", error_id, doing, exc_info=exc)
    return replies.unexpected(error_id, doing)
