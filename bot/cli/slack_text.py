"""Slack's message text as a person reads it in Slack, for a terminal (the demo): mentions as names, dates as the
reader's local time, links as their labels, mrkdwn's marks gone, the emoji the bot uses as emoji, and long lines
wrapped, never clipped."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from datetime import datetime

#: The shortcodes the bot's messages use (``bot.slack.messages``), as Slack shows them.
EMOJI = {
    "alarm_clock": "⏰", "boom": "💥", "fast_forward": "⏩", "hourglass": "⌛", "hourglass_flowing_sand": "⏳",
    "inbox_tray": "📥", "key": "🔑", "leftwards_arrow_with_hook": "↩️", "lock": "🔒", "no_entry": "⛔",
    "stop_button": "⏹️", "warning": "⚠️", "white_check_mark": "✅",
}

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^(\d+)\^[^|>]*(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_MARKS = re.compile(r"(?<![\w*_~`])([*_~])(?=\S)(.+?)(?<=\S)\1(?![\w*_~`])")


def readable(text: str, people: Mapping[str, str], channels: Mapping[str, str] | None = None) -> str:
    """``text`` (mrkdwn) as Slack shows it: ``people`` maps a user ID to the name shown; ``channels`` a channel ID."""
    channels = channels or {}
    text = _USER.sub(lambda m: "@" + people.get(m.group(1), m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or channels.get(m.group(1), m.group(1))), text)
    text = _GROUP.sub(lambda m: m.group(2) or "@" + m.group(1), text)
    text = _DATE.sub(lambda m: datetime.fromtimestamp(int(m.group(1))).strftime("%H:%M"), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("`", "")
    text = _MARKS.sub(lambda m: m.group(2), text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (its own line breaks kept), none clipped."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width, break_long_words=False, break_on_hyphens=False) or [""]
    return lines
