"""What the store keeps of second factors that did not pass: each wrong code and each answer from Descope that failed
the bot's checks is an audit row (``verification_failed``, ``verification_locked``, ``verification_forged``), and the
wrong codes a person typed on a request are counted from those rows, in the transaction that adds the next one: so
two submissions at once cannot both slip under the limit.

A lock-out and a forged answer bump the request's version, so the projection posts their thread line (an alarm,
shown in the channel too); a wrong code is on the record only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.domain.audit import Action
from bot.domain.outcomes import Verification, encode
from bot.store.core import StoreCore
from bot.store.rows import add_audit, holds, rewrite
from bot.store.sql import Tx

_FAILED = "SELECT count(*) FROM audit WHERE request_id = ? AND actor = ? AND action IN (?, ?)"


class Proofs(StoreCore):
    def failed_proofs(self, request_id: str, user_id: str) -> int:
        """How many wrong codes ``user_id`` has typed on ``request_id`` (for any purpose)."""
        with self.db.read() as s:
            return _failures(s, request_id, user_id)

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


def _failures(tx: Tx, request_id: str, user_id: str) -> int:
    found = tx.one(_FAILED, (request_id, user_id, Action.PROOF_FAILED.value, Action.PROOF_LOCKED.value))
    return int(found[0]) if found else 0
