"""Logging set-up, with a filter that keeps secrets out of every log line.

``RedactingFilter`` sits on the root handler, so it sees records from the bot, slack-sdk, httpx and
everything else: it replaces anything shaped like a JWT, any Slack token, and every configured secret
with ``[redacted]``, in the message, its arguments and any traceback text.

``LOG_FORMAT=text`` (the default) writes ``time level logger: message``; ``json`` writes one JSON object per
line (``time``, ``level``, ``logger``, ``message``, ``request_id`` where the work is about one request, and
``exception`` with the traceback), redacted the same way. ``about(request_id)`` marks the work of a block
as being about that request.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"),  # Slack tokens
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
]
REDACTED = "[redacted]"


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


_REQUEST: ContextVar[str | None] = ContextVar("impersonation_request", default=None)


@contextmanager
def about(request_id: str) -> Iterator[None]:
    """Log lines written in this block (this thread) carry ``request_id``."""
    token = _REQUEST.set(request_id)
    try:
        yield
    finally:
        _REQUEST.reset(token)


def about_request(method: Callable[Concatenate[S, str, P], R]) -> Callable[Concatenate[S, str, P], R]:
    """A method whose first argument is a request ID logs ``about`` that request."""
    @functools.wraps(method)
    def wrapper(self: S, request_id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with about(request_id):
            return method(self, request_id, *args, **kwargs)
    return wrapper


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
        request_id = getattr(record, "request_id", None) or _REQUEST.get()
        if request_id:
            line["request_id"] = str(request_id)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


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
    # httpx says every request at INFO, its URL with it (a Descope user look-up names the target's login ID): the
    # bot's own lines say what happened, without the people in it. At DEBUG it speaks.
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
