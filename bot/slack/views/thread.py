"""One reply in the approval message's thread per audit event; alarms are also shown in the channel."""

from __future__ import annotations

from bot.slack.messages import status
from bot.slack.mrkdwn import when
from bot.slack.views.blocks import Message
from bot.store import AuditEntry

# Thread events that need someone's attention now: also shown in the channel, not only in the thread.
ALARMS = frozenset({"delivery_failed", "stop_failing"})


def line(entry: AuditEntry) -> Message:
    text = status.event_line(when(entry.at), entry.action, entry.actor, entry.detail)
    return Message(text=text, broadcast=entry.action in ALARMS)
