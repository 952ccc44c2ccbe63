"""What the store keeps of Slack, under the request's Slack lease: how far the projection got (``Progress``: the
approval message, the thread, the outcome DM), the token's delivery, an approvals channel that refuses the bot; and
the leases themselves (``Lease``: the work lease and the Slack lease, renewed by the keeper with ``extend_lease``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bot.domain.audit import SYSTEM, Action
from bot.domain.outcomes import NotPosted, encode
from bot.store.core import SlackWork, StoreCore, slack_work_of
from bot.store.rows import RUNNING, claim, update_row
from bot.store.sql import Col, Lease, Row, lease_free


@dataclass
class Progress:
    """How far the projection got in a pass (``None``: unchanged), recorded before the next message is sent."""

    channel_id: str | None = None  # the approval message, once posted
    channel_ts: str | None = None
    thread_posted_id: int | None = None  # audit rows up to this one are in the thread
    end_notified_at: datetime | None = None  # the requester was told how it ended
    post_failures: int | None = None  # 0 once the approvals channel took the message
    warning_channel: str | None = None  # the expiry warning's DM, once sent
    warning_ts: str | None = None
    alert_channel: str | None = None  # a break-glass alert's copy (BREAK_GLASS_CHANNEL), once posted or refused
    alert_ts: str | None = None

    def values(self) -> dict[str, Any]:
        found = ((field.name, getattr(self, field.name)) for field in _PROGRESS)  # no copies (``asdict`` makes them)
        return {key: value for key, value in found if value is not None}

    def clear(self) -> None:
        for field in _PROGRESS:
            setattr(self, field.name, None)

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) is not None for field in _PROGRESS)


_PROGRESS = fields(Progress)


class SlackRecords(StoreCore):
    def claim_slack(self, request_id: str, now: datetime, until: datetime, *,
                    viewers_since: datetime | None = None) -> SlackWork | None:
        """Take the Slack lease on a request (held ``until``) unless another worker holds it; with the
        lease, the row as it is now and its audit rows not yet in the thread (``slack_work``; ``viewers_since``: and
        who opened the Home since then)."""
        with self.write() as s:
            row = claim(s, request_id, [lease_free(Lease.SLACK, now)], slack_lease_until=until)
            return slack_work_of(s, row, viewers_since)

    def record_progress(self, request_id: str, progress: Progress) -> None:
        """How far Slack got, before the next message goes (a crash then repeats at most one)."""
        if progress:
            self._set(request_id, **progress.values())

    def slack_caught_up(self, request_id: str, version: int, progress: Progress) -> bool:
        """Record Slack progress and, if the row is still at ``version``, mark Slack as caught up with it and give
        the Slack lease back, in one transaction. False: the row changed meanwhile; the lease is kept for another
        pass."""
        values = progress.values()
        with self.write() as s:
            if update_row(s, request_id, Row.version == version, slack_version=version, slack_lease_until=None,
                          **values):
                return True
            if values:
                update_row(s, request_id, **values)
            return False

    def retry_slack_at(self, request_id: str, when: datetime) -> None:
        """Hand the Slack work back at ``when`` (a pass that failed: soon, not after a whole lease)."""
        self._set(request_id, slack_lease_until=when)

    def record_token_dm(self, request_id: str, channel: str, ts: str) -> None:
        """The DM the token goes into (``dm`` delivery), recorded before the token is: a retry edits it."""
        self._set(request_id, dm_channel=channel, dm_ts=ts)

    def mark_delivered(self, request_id: str, now: datetime, dm: tuple[str, str] | None = None) -> None:
        """The session reached its requester (or was stopped before it did: nothing is to be delivered); ``dm``:
        the DM just posted for it, recorded with the delivery in one write."""
        values: dict[str, Any] = {"delivered_at": now}
        if dm is not None:
            values.update(dm_channel=dm[0], dm_ts=dm[1])
        self._set(request_id, **values)

    def delivery_failed(self, request_id: str, now: datetime) -> bool:
        """Slack refused the token's DM: the running session is asked to stop, by the bot, and never delivered.
        False: a stop was already asked for (then it is only marked as never to be delivered)."""
        if self._record(request_id, actor=SYSTEM, action=Action.DELIVERY_FAILED, now=now, where=RUNNING,
                        stop_requested_at=now, stop_requested_by=SYSTEM, delivered_at=now):
            return True
        self._set(request_id, delivered_at=now)
        return False

    def not_posted(self, request_id: str, refused: NotPosted, now: datetime) -> bool:
        """The approvals channel refused the approval message the first time: on record (once). False: recorded
        already."""
        return self._record(request_id, actor=SYSTEM, action=Action.NOT_POSTED, now=now, detail=encode(refused),
                            where=[Row.post_failures == 0], post_failures=1)

    def count_post_failure(self, request_id: str, failures: int) -> None:
        """The approvals channel refused the message again: ``failures`` in a row."""
        self._set(request_id, post_failures=failures)

    def extend_lease(self, request_id: str, lease: Lease, until: datetime, new: datetime) -> bool:
        """Renew a lease still at ``until`` (as written by whoever holds it) to ``new``: one conditional write."""
        return self._set(request_id, where=[Col(lease.value) == until], **{lease.value: new})
