"""The Block Kit primitives every view uses: a ``Message`` (fallback text + blocks) and text objects.

A message's fallback ``text`` is what notifications and screen readers show: it never holds a secret.
Every text object, and every fallback, is shown without hidden characters (``bot.domain.text.visible``: control,
format and direction characters): whatever reached a sentence, none of them reaches Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.domain.text import visible

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[Block] = field(default_factory=list)
    broadcast: bool = False  # a thread reply that is also shown in the channel itself

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", visible(self.text))


def plain(text: str) -> Block:
    """A ``plain_text`` object: shown exactly as written (what people typed goes here)."""
    return {"type": "plain_text", "text": visible(text)[:2000] or " ", "emoji": False}


def md(text: str) -> Block:
    return {"type": "mrkdwn", "text": visible(text)[:3000]}


def section(text: str) -> Block:
    return {"type": "section", "text": md(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [md(text)]}
