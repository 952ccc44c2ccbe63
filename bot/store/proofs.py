"""What the store keeps of second factors: each wrong code and each answer from Descope that failed the bot's checks
is an audit row (``verification_failed``, ``verification_locked``, ``verification_forged``), as is each code Descope
was asked to mail (``verification_code_sent``); the wrong codes a person typed are counted from those rows.

A person's codes on a request are checked one at a time (``begin_proof``: a short lease in ``proofs_checking``,
taken only while they are under the limits, in one transaction with the row locked; ``end_proof`` gives it back):
codes typed at once in several windows cannot all reach Descope, and the limit is exact. Two limits: ``limit``
wrong codes on one request (the last recorded as the lock-out), and ``hourly`` wrong codes by a person across all
requests in the past hour.

A lock-out and a forged answer bump the request's version, so the projection posts their thread line (an alarm,
shown in the channel too); a wrong code is on the record only.
"""

from __future__ import annotations

import enum
import json
from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.audit import Action
from bot.domain.outcomes import Verification, encode
from bot.store.core import StoreCore
from bot.store.rows import add_audit, holds, rewrite, update_row
from bot.store.sql import Tx

_WRONG = (Action.PROOF_FAILED.value, Action.PROOF_LOCKED.value)
_FAILED = "SELECT count(*) FROM audit WHERE request_id = ? AND actor = ? AND action IN (?, ?)"
_FAILED_SINCE = "SELECT count(*) FROM audit WHERE actor = ? AND action IN (?, ?) AND at > ?"
_SENT = "SELECT count(*), max(at) FROM audit WHERE request_id = ? AND actor = ? AND action = ?"
_CHECKING = "SELECT proofs_checking FROM requests WHERE id = ?"
HOUR = timedelta(hours=1)


class Attempt(enum.Enum):
    """What ``begin_proof`` found."""

    BEGUN = "begun"  # this person's code may be checked now
    BUSY = "busy"  # another code of theirs is being checked on this request
    LOCKED = "locked"  # too many wrong codes on this request
    LOCKED_EVERYWHERE = "locked_everywhere"  # too many wrong codes in the past hour, on any request
    GONE = "gone"  # no such request


class Mailing(enum.Enum):
    """What ``record_code_sent`` found."""

    SENT = "sent"  # recorded: the code may be mailed
    TOO_SOON = "too_soon"  # one was mailed less than ``gap`` ago
    TOO_MANY = "too_many"  # ``most`` were mailed already for this request


class Proofs(StoreCore):
    def failed_proofs(self, request_id: str, user_id: str) -> int:
        """How many wrong codes ``user_id`` has typed on ``request_id`` (for any purpose)."""
        with self.db.read() as s:
            return _failures(s, request_id, user_id)

    def failed_proofs_lately(self, user_id: str, now: datetime) -> int:
        """How many wrong codes ``user_id`` has typed in the past hour, on any request."""
        with self.db.read() as s:
            return _failures_since(s, user_id, now - HOUR)

    def begin_proof(self, request_id: str, user_id: str, now: datetime, until: datetime, *, limit: int,
                    hourly: int) -> Attempt:
        """Take ``user_id``'s one code check on the request, held until ``until`` at most, if they are under both
        limits and no other code of theirs is being checked."""
        with self.write() as s:
            found = s.one(_locked_row(s), (request_id,))
            if found is None:
                return Attempt.GONE
            if _failures(s, request_id, user_id) >= limit:
                return Attempt.LOCKED
            if _failures_since(s, user_id, now - HOUR) >= hourly:
                return Attempt.LOCKED_EVERYWHERE
            checking = {who: when for who, when in json.loads(found[0] or "{}").items()
                        if datetime.fromisoformat(when) > now}
            if user_id in checking:
                return Attempt.BUSY
            checking[user_id] = until.isoformat()
            update_row(s, request_id, proofs_checking=json.dumps(checking))
            return Attempt.BEGUN

    def end_proof(self, request_id: str, user_id: str) -> None:
        """Give back ``user_id``'s code check on the request."""
        with self.write() as s:
            found = s.one(_locked_row(s), (request_id,))
            if found is None or not found[0]:
                return
            checking = json.loads(found[0])
            if checking.pop(user_id, None) is not None:
                update_row(s, request_id, proofs_checking=json.dumps(checking) if checking else None)

    def fail_proof(self, request_id: str, user_id: str, failed: Verification, now: datetime, *, limit: int) -> int:
        """Record a wrong code (``failed``, its count filled in); the ``limit``-th is recorded as the lock-out, and
        shown in the request's thread. The wrong codes so far, this one included."""
        with self.write() as s:
            holds(s, request_id, ())  # the request's row locked first: two wrong codes at once are counted in turn
            failures = _failures(s, request_id, user_id) + 1
            locked = failures >= limit
            if locked:
                rewrite(s, request_id, (), {}, bump=True)
            add_audit(s, request_id, at=now, actor=user_id,
                      action=Action.PROOF_LOCKED if locked else Action.PROOF_FAILED, from_state=None, to_state=None,
                      detail=encode(replace(failed, failures=failures)))
            return failures

    def forged_proof(self, request_id: str, user_id: str, failed: Verification, now: datetime) -> None:
        """Record an answer from Descope that failed the bot's checks (``failed.why``), shown in the thread."""
        with self.write() as s:
            rewrite(s, request_id, (), {}, bump=True)
            add_audit(s, request_id, at=now, actor=user_id, action=Action.PROOF_FORGED, from_state=None,
                      to_state=None, detail=encode(failed))

    def record_code_sent(self, request_id: str, user_id: str, sent: Verification, now: datetime, *,
                         gap: timedelta, most: int) -> Mailing:
        """Record that Descope is asked to mail ``user_id`` a code for the request, unless one was less than ``gap``
        ago or ``most`` were already."""
        with self.write() as s:
            holds(s, request_id, ())
            found = s.one(_SENT, (request_id, user_id, Action.PROOF_SENT.value))
            count, last = (int(found[0]), s.moment(found[1])) if found else (0, None)
            if count >= most:
                return Mailing.TOO_MANY
            if last is not None and now - last < gap:
                return Mailing.TOO_SOON
            add_audit(s, request_id, at=now, actor=user_id, action=Action.PROOF_SENT, from_state=None, to_state=None,
                      detail=encode(sent))
            return Mailing.SENT


def _locked_row(tx: Tx) -> str:
    return _CHECKING + " FOR UPDATE" if tx.db.postgres else _CHECKING


def _failures(tx: Tx, request_id: str, user_id: str) -> int:
    found = tx.one(_FAILED, (request_id, user_id, *_WRONG))
    return int(found[0]) if found else 0


def _failures_since(tx: Tx, user_id: str, since: datetime) -> int:
    found = tx.one(_FAILED_SINCE, (user_id, *_WRONG, since))
    return int(found[0]) if found else 0
