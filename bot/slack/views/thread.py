"""The approval message's thread: a reply holds a line per audit event (the projection puts together those of one
Slack sync pass); a reply with an alarm in it is also shown in the channel."""

from __future__ import annotations

from collections.abc import Sequence

from bot.slack.messages import status
from bot.slack.mrkdwn import when
from bot.slack.views.blocks import Message
from bot.store import AuditEntry

# Thread events that need someone's attention now: also shown in the channel, not only in the thread.
ALARMS = frozenset({"delivery_failed", "stop_failing"})


def lines(entries: Sequence[AuditEntry]) -> Message:
    assert entries, "a reply needs at least one line (Slack refuses an empty text)"
    text = "\n".join(status.event_line(when(e.at), e.action, e.actor, e.detail) for e in entries)
    return Message(text=text, broadcast=any(e.action in ALARMS for e in entries))
