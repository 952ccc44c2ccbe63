"""Running sessions written in bulk, as a whole approved, delivered and posted flow would leave them: the benchmark's
load (thousands of sessions already running when the bot starts, which it must schedule and stop on time). Never
called by the bot itself: a real session only ever comes from a request through ``Store``'s named writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain import State
from bot.domain.audit import Action
from bot.domain.schedule import next_due
from bot.store.models import encode_approvers, row_of
from bot.store.rows import EMPTY_ROW, new_request
from bot.store.sql import COLUMNS
from bot.store.store import Store

_CHUNK = 2000
_AUDIT = ("INSERT INTO audit (request_id, at, actor, action, from_state, to_state, detail) "
          "VALUES (?, ?, ?, ?, ?, ?, NULL)")
#: The flow's audit rows, already in the thread (``thread_posted_id`` points at the last).
_FLOW = ((Action.REQUESTED, None, State.PENDING), (Action.APPROVED, State.PENDING, State.APPROVED),
         (Action.ACTIVATED, State.APPROVED, State.ACTIVE))


@dataclass(frozen=True)
class SeededSession:
    requester_id: str
    login_id: str
    impersonator: str  # the requester's Descope login
    approver: str
    ends_at: datetime
    token_sealed: str  # ``sealing.Sealer.seal`` of a token
    channel_id: str  # the approval message
    channel_ts: str
    dm_channel: str  # the requester's session DM
    dm_ts: str
    token_expires_at: datetime | None = None  # when the token dies at Descope (default: at the session's end)


def seed_sessions(store: Store, sessions: Sequence[SeededSession], now: datetime) -> None:
    """Write ``sessions`` as active since ``now``, each with its flow's audit rows, in one transaction."""
    rows: list[list[object]] = []
    audits: list[list[object]] = []
    for session in sessions:
        values = new_request(
            requester_id=session.requester_id, login_id=session.login_id, tenant=None,
            duration=session.ends_at - now, reason="benchmark: long session", state=State.ACTIVE, created_at=now,
            pending_until=now, version=3, slack_version=3, decided_by=session.approver, decided_at=now,
            impersonator=session.impersonator, started_at=now, ends_at=session.ends_at,
            token_expires_at=session.token_expires_at or session.ends_at, token_sealed=session.token_sealed,
            channel_id=session.channel_id,
            channel_ts=session.channel_ts, dm_channel=session.dm_channel, dm_ts=session.dm_ts, delivered_at=now,
            approved_by=encode_approvers((session.approver,)), delivery="reveal")
        whole = {**EMPTY_ROW, **values}
        whole["next_due_at"] = next_due(row_of(whole))
        rows.append([whole[name] for name in COLUMNS])
        audits += [[values["id"], now, session.approver, action, None if source is None else source.value,
                    target.value] for action, source, target in _FLOW]
    insert = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with store.write() as s:
        for start in range(0, len(rows), _CHUNK):
            s.run_many(insert, rows[start:start + _CHUNK])
        for start in range(0, len(audits), _CHUNK):
            s.run_many(_AUDIT, audits[start:start + _CHUNK])
        s.run("UPDATE requests SET thread_posted_id = (SELECT max(id) FROM audit WHERE audit.request_id = requests.id) "
              "WHERE state = ? AND thread_posted_id = 0", (State.ACTIVE.value,))
