"""Logging set-up, with a filter that keeps secrets out of every log line.

``RedactingFilter`` sits on the root handler, so it sees records from the bot, slack-sdk, httpx and
everything else: it replaces anything shaped like a JWT, any Slack token, and every configured secret
with ``[redacted]``, in the message, its arguments and any traceback text.

``LOG_FORMAT=text`` (the default) writes ``time level logger: message``; ``json`` writes one JSON object per
line (``time``, ``level``, ``logger``, ``message``, ``request_id`` where the work is about one request, and
``exception`` with the traceback), redacted the same way; the request is the one the work is about
(``bot.workflows.about``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.workflows.about import current_request

_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
]
REDACTED = "[redacted]"
#: The logger of slack-sdk's Web API client (``WebClient``'s default).
SLACK_SDK_CALLS = "slack_sdk.web.base_client"


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not raise into the caller
            message = f"{record.msg!s} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Runs after ``RedactingFilter``, which has already redacted the message and
    rendered the traceback into ``exc_text``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request()
        if request_id:
            line["request_id"] = str(request_id)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


class _NotTheUnusedToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


class _NotASkippedTurn(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def configure(level: str, secrets: Iterable[str], fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Bolt warns that SLACK_BOT_TOKEN (read by Bolt itself from the environment) is unused when given a client: ours
    # is built from that very token, so the warning says nothing, and it came before the bot's own first line.
    logging.getLogger("slack_bolt.App").addFilter(_NotTheUnusedToken())
    # APScheduler warns at each turn of a duty that comes while its last run is still going (a sweep waiting on a
    # database that does not answer): the run says itself how it ended, once; the turns it skipped say nothing more.
    logging.getLogger("apscheduler.scheduler").addFilter(_NotASkippedTurn())
    # httpx says every request at INFO, its URL with it (a Descope user look-up names the target's login ID): the
    # bot's own lines say what happened, without the people in it. At DEBUG it speaks.
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
    # slack-sdk builds its debug lines (a call's every parameter, an answer's headers and body) whenever its own
    # logger's level is DEBUG or unset, not when DEBUG is on: unset, it built two for every Web API call, for nothing.
    # Its "A retry handler found" lines go with them above DEBUG (it says them at INFO, but only then): the bot says
    # what a retry came to, and its gate what Slack asked.
    logging.getLogger(SLACK_SDK_CALLS).setLevel(root.level)
    # Where a record was made (its thread, its process: a look-up and a system call for each line): no format here
    # writes them.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
