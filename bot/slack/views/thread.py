"""The approval message's thread: a reply holds a line per audit event (the projection puts together those of one
Slack sync pass); a reply with an alarm in it is also shown in the channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.audit import AuditEntry
from bot.slack.messages.thread import ALARMS, event_line
from bot.slack.mrkdwn import when
from bot.slack.views.blocks import Message


def lines(entries: Sequence[AuditEntry]) -> Message:
    assert entries, "a reply needs at least one line (Slack refuses an empty text)"
    text = "\n".join(event_line(when(e.at), e.action, e.actor, e.detail) for e in entries)
    return Message(text=text, broadcast=any(e.action in ALARMS for e in entries))
