"""What the record that leaves the bot needs of the store: the audit stream's outbox and the watch on Descope.

    claim_duty / renew_duty / release_duty   one replica at a time does a duty (``bot_state``: ``audit_stream``,
                                 ``descope_watch``), under a lease fenced by its claim's token, not before its
                                 ``retry_at``
    outbox_batch                 the next audit rows to deliver, oldest first, each with its ``seq`` (given once, when
                                 first sent, from the duty's counter: a retry sends the same)
    delivered                    the batch gone from the outbox (the failures in a row reset)
    put_off                      a duty not to be done again before a moment (a retry's delay, the watch's interval)
    outbox_backlog               how many wait, and since when (the metrics)
    audit_events                 the audit rows as the same events, between two moments (``audit export``)
    watch_checkpoint / set_checkpoint   how far Descope's audit has been read
    sessions_around              whether a session of the bot impersonated a user around a moment
    record_outside               an impersonation outside the bot, kept once (with its audit row, so it streams too)
    outside_unposted / outside_posted   those the approvals channel has not been told of yet, and the telling
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain import State
from bot.domain.audit import Action
from bot.domain.outcomes import Outside, encode
from bot.store.core import StoreCore
from bot.store.rows import add_audit
from bot.store.sql import Tx

AUDIT_STREAM, DESCOPE_WATCH = "audit_stream", "descope_watch"
OUTSIDE_ACTOR = "descope"  # the audit's actor of an impersonation outside the bot: Descope's audit told of it

_EVENTS = ("SELECT a.id, a.at, a.action, a.request_id, a.actor, a.from_state, a.to_state, a.detail, r.login_id, "
           "r.tenant FROM audit a LEFT JOIN requests r ON r.id = a.request_id")
_STATE = "SELECT name, lease_until, next_seq, checkpoint, failures, retry_at, owner FROM bot_state WHERE name = ?"
# Those given a seq already first, in its order (a retry sends them as it did), then the rest in the order of the audit.
_BATCH = ("SELECT o.audit_id, o.seq, a.at, a.action, a.request_id, a.actor, a.from_state, a.to_state, a.detail, "
          "r.login_id, r.tenant FROM audit_outbox o JOIN audit a ON a.id = o.audit_id "
          "LEFT JOIN requests r ON r.id = a.request_id ORDER BY o.seq IS NULL, o.seq, o.audit_id LIMIT ?")


@dataclass(frozen=True)
class Duty:
    """A duty's state, as claimed (``owner``: this claim's token: only it renews or gives back the lease)."""

    name: str
    owner: str
    next_seq: int
    checkpoint: datetime | None
    failures: int


@dataclass(frozen=True)
class StreamEvent:
    """An audit row to deliver, with what the event says of its request (the target's login, the tenant)."""

    audit_id: int
    seq: int | None  # None: not streamed (an export)
    at: datetime
    action: str
    request_id: str | None
    actor: str
    from_state: str | None
    to_state: str | None
    detail: str | None
    target: str | None
    tenant: str | None


@dataclass(frozen=True)
class OutsideRow:
    id: int
    user_id: str
    occurred_at: datetime
    login_id: str | None
    name: str | None
    actor: str | None


class StreamRecords(StoreCore):
    def claim_duty(self, name: str, now: datetime, until: datetime) -> Duty | None:
        """Take duty ``name`` until ``until`` if nobody holds it and it is not waiting to try again; ``None``: not
        now."""
        owner = secrets.token_hex(8)
        with self.write() as s:
            taken = s.run("UPDATE bot_state SET lease_until = ?, owner = ? WHERE name = ? AND (lease_until IS NULL OR "
                          "lease_until < ?) AND (retry_at IS NULL OR retry_at <= ?)", (until, owner, name, now, now))
            if taken != 1:
                return None
            found = s.one(_STATE, (name,))
            assert found is not None
            return Duty(name, owner, int(found[2]), s.moment(found[3]), int(found[4]))

    def renew_duty(self, duty: Duty, until: datetime) -> bool:
        """Hold ``duty`` until ``until``; False when its lease was lost (ran out and taken): stop at once."""
        with self.write() as s:
            return s.run("UPDATE bot_state SET lease_until = ? WHERE name = ? AND owner = ?",
                         (until, duty.name, duty.owner)) == 1

    def release_duty(self, duty: Duty) -> None:
        """Give ``duty``'s lease back (if it is still this claim's)."""
        with self.write() as s:
            s.run("UPDATE bot_state SET lease_until = NULL, owner = NULL WHERE name = ? AND owner = ?",
                  (duty.name, duty.owner))

    def outbox_waiting(self) -> bool:
        """Whether any audit row waits to be delivered (a read: the deliverer claims its duty only then)."""
        with self.db.read() as s:
            return s.one("SELECT 1 FROM audit_outbox LIMIT 1") is not None

    def outbox_batch(self, duty: Duty, limit: int) -> list[StreamEvent] | None:
        """The next ``limit`` audit rows to deliver: those sent before first, with the ``seq`` they were sent with,
        then the oldest of the rest, which get theirs now, from the counter (the duty's row locked: numbered once).
        ``None``: ``duty``'s lease was lost (stop: another replica delivers now)."""
        with self.write() as s:
            state = s.one(_STATE + (" FOR UPDATE" if s.db.postgres else ""), (AUDIT_STREAM,))
            if state is None or state[6] != duty.owner:
                return None
            found = s.all(_BATCH, (limit,))
            unnumbered = [row[0] for row in found if row[1] is None]
            seqs: dict[int, int] = {}
            first = int(state[2])
            for offset, audit_id in enumerate(unnumbered):
                seqs[audit_id] = first + offset
                s.run("UPDATE audit_outbox SET seq = ? WHERE audit_id = ? AND seq IS NULL", (first + offset, audit_id))
            if unnumbered:
                s.run("UPDATE bot_state SET next_seq = ? WHERE name = ?", (first + len(unnumbered), AUDIT_STREAM))
            return [StreamEvent(audit_id=int(row[0]), seq=int(row[1]) if row[1] is not None else seqs[row[0]],
                                at=_moment(s, row[2]), action=str(row[3]), request_id=row[4], actor=str(row[5]),
                                from_state=row[6], to_state=row[7], detail=row[8], target=row[9], tenant=row[10])
                    for row in found]

    def audit_events(self, *, since: datetime | None = None, until: datetime | None = None,
                     request_id: str | None = None) -> list[StreamEvent]:
        """The audit rows as the stream's events (without ``seq``), oldest first: what ``audit export`` writes."""
        conds, params = [], []
        for sql, value in (("a.at >= ?", since), ("a.at < ?", until), ("a.request_id = ?", request_id)):
            if value is not None:
                conds.append(sql)
                params.append(value)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        with self.db.read() as s:
            return [StreamEvent(audit_id=int(row[0]), seq=None, at=_moment(s, row[1]), action=str(row[2]),
                                request_id=row[3], actor=str(row[4]), from_state=row[5], to_state=row[6],
                                detail=row[7], target=row[8], tenant=row[9])
                    for row in s.all(_EVENTS + where + " ORDER BY a.id", params)]

    def delivered(self, audit_ids: list[int]) -> None:
        """The batch reached the intake: out of the outbox; the failures in a row reset."""
        with self.write() as s:
            s.run(f"DELETE FROM audit_outbox WHERE audit_id IN ({', '.join('?' * len(audit_ids))})", audit_ids)
            s.run("UPDATE bot_state SET failures = 0, retry_at = NULL WHERE name = ?", (AUDIT_STREAM,))

    def put_off(self, name: str, until: datetime, *, failures: int = 0) -> None:
        """Duty ``name`` is not to be done again before ``until`` (``failures``: in a row, so far)."""
        with self.write() as s:
            s.run("UPDATE bot_state SET failures = ?, retry_at = ? WHERE name = ?", (failures, until, name))

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        """How many audit rows wait to be delivered, and the oldest one's moment."""
        with self.db.read() as s:
            found = s.one("SELECT count(*), min(a.at) FROM audit_outbox o JOIN audit a ON a.id = o.audit_id")
            return (int(found[0]), s.moment(found[1])) if found else (0, None)

    def set_checkpoint(self, name: str, moment: datetime) -> None:
        with self.write() as s:
            s.run("UPDATE bot_state SET checkpoint = ? WHERE name = ?", (moment, name))

    def sessions_around(self, user_id: str, login_ids: Sequence[str], at: datetime, within: timedelta,
                        activating: timedelta) -> bool:
        """Whether the bot impersonated the Descope user ``user_id`` (or, for a request from before the user's ID
        was kept, one of ``login_ids``) about ``at``: a session that started within ``within`` of it, or a request
        approved up to ``activating`` before it that never started (its activation may have minted a token it could
        not record: the bot's all the same)."""
        logins = [login.lower() for login in login_ids] or [""]
        marks = ", ".join("?" * len(logins))
        with self.db.read() as s:
            found = s.one(
                "SELECT 1 FROM requests WHERE (target_user_id = ? OR (target_user_id IS NULL AND lower(login_id) IN "
                f"({marks}))) AND ((started_at BETWEEN ? AND ?) OR (started_at IS NULL AND decided_at BETWEEN ? AND "
                "? AND state IN (?, ?, ?))) LIMIT 1",  # approved, then failed or called off: the call may have gone out
                (user_id, *logins, at - within, at + within, at - activating, at + within, State.APPROVED.value,
                 State.FAILED.value, State.STOPPED.value))
            return found is not None

    def outside_known(self, user_id: str, occurred_at: datetime) -> bool:
        """Whether that impersonation outside the bot was kept already."""
        with self.db.read() as s:
            return s.one("SELECT 1 FROM outside_impersonations WHERE descope_user_id = ? AND occurred_at = ?",
                         (user_id, occurred_at)) is not None

    def record_outside(self, outside: Outside, occurred_at: datetime, now: datetime) -> int | None:
        """Keep an impersonation outside the bot, with its audit row; ``None`` when it was kept already (nothing is
        said twice, whatever the overlap of the searches and however many replicas)."""
        with self.write() as s:
            if s.one("SELECT id FROM outside_impersonations WHERE descope_user_id = ? AND occurred_at = ?",
                     (outside.user_id, occurred_at)) is not None:
                return None
            s.run("INSERT INTO outside_impersonations (descope_user_id, occurred_at, login_id, name, actor) "
                  "VALUES (?, ?, ?, ?, ?)",
                  (outside.user_id, occurred_at, outside.login_id, outside.name, outside.actor))
            found = s.one("SELECT id FROM outside_impersonations WHERE descope_user_id = ? AND occurred_at = ?",
                          (outside.user_id, occurred_at))
            add_audit(s, None, at=now, actor=OUTSIDE_ACTOR, action=Action.OUTSIDE_IMPERSONATION, from_state=None,
                      to_state=None, detail=encode(outside))  # Descope's actor is in the detail (any length)
            return int(found[0]) if found else None

    def outside_unposted(self) -> list[OutsideRow]:
        with self.db.read() as s:
            return [OutsideRow(int(r[0]), str(r[1]), _moment(s, r[2]), r[3], r[4], r[5]) for r in s.all(
                "SELECT id, descope_user_id, occurred_at, login_id, name, actor FROM outside_impersonations "
                "WHERE channel_ts IS NULL ORDER BY occurred_at")]

    def outside_posted(self, outside_id: int, ts: str) -> None:
        with self.write() as s:
            s.run("UPDATE outside_impersonations SET channel_ts = ? WHERE id = ?", (ts, outside_id))


def _moment(tx: Tx, value: Any) -> datetime:
    moment = tx.moment(value)
    assert moment is not None
    return moment


def decoded(detail: str | None) -> dict[str, Any]:
    """An audit row's detail as an event's ``details`` object (``{}`` without one; text from before details were
    data as ``{"text": …}``)."""
    if not detail:
        return {}
    try:
        found = json.loads(detail)
    except ValueError:
        return {"text": detail}
    return found if isinstance(found, dict) else {"text": detail}
