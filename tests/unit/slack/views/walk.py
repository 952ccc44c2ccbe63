"""Reading Block Kit back: every element of a message, its mrkdwn and plain texts, its buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.slack.views.blocks import Message


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def mrkdwn_texts(message: Message) -> list[str]:
    return [el["text"] for el in walk(message.blocks) if el.get("type") == "mrkdwn"]


def all_texts(message: Message) -> list[str]:
    return [el["text"] for el in walk(message.blocks) if isinstance(el.get("text"), str)] + [message.text]


def buttons(message: Message) -> list[dict[str, Any]]:
    return [el for el in walk(message.blocks) if el.get("type") == "button"]
