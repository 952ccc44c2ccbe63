"""Slack's mrkdwn, safely: what a person typed can never ping ``@channel``, fake a mention, or add links
or formatting. ``escape`` for Slack's three control characters; ``code`` shows text literally in a code
span (``unformatted`` drops those marks where only plain text is shown); ``when`` is a time each reader sees
in their own time zone."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RequestView
from bot.domain.text import visible


def escape(text: str) -> str:
    """Escape text for mrkdwn (Slack's three control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """User text inside mrkdwn: a code span shows it literally (no formatting, mentions or links)."""
    return "`" + escape(visible(text).replace("`", "'").replace("\n", " ")) + "`"


def unformatted(text: str) -> str:
    """A sentence written for mrkdwn, for a plain-text place (a form's field error): code spans' backticks dropped."""
    return text.replace("`", "")


def when(moment: datetime) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{time}}|{fallback}>"


def target(request: RequestView) -> str:
    """The login ID (and tenant) of a request, as code spans."""
    return code(request.login_id) + (f" (tenant {code(request.tenant)})" if request.tenant else "")
