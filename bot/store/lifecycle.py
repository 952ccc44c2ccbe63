"""A request's state changes, each named by what it does: one call, one transaction with its audit row, conditional
on the row being where the change expects it (whoever's write matches wins; the losers see ``None`` or false).

    pending    approve (N of M, counting what the rules ask now), deny (a click), take_back (a withdrawal, or a stop
               that denies), withdraw_extension, close (the rules no longer allow it), expire, remind / stop_reminding,
               escalate / put_off_escalation
    approved   mark_minting / clear_minting (the impersonate call in flight), start_session, fail, call_off,
               end_unstarted, retry_activation_at, put_off_activation (Descope's rate limit)
    active     show_token, warn, ask_stop, retire (replaced by its extension), end_session, retry_stop_at,
               stop_failing
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import RequestView, State
from bot.domain.audit import SYSTEM, Action
from bot.domain.outcomes import (
    Activated,
    Ending,
    Escalated,
    Failure,
    Linked,
    Proved,
    PutOff,
    Reminded,
    StopFailing,
    Tally,
    encode,
)
from bot.domain.proof import Mfa
from bot.store.core import SlackHeld, StoreCore
from bot.store.models import (
    RequestRow,
    as_view,
    decode_approvers,
    decode_proved,
    encode_approvers,
    encode_proved,
    row_of,
)
from bot.store.rows import RUNNING, add_audit, rewrite
from bot.store.sql import Row


class Vote(enum.Enum):
    """What one Approve did (``Store.approve``)."""

    APPROVED = "approved"  # the last approval needed: the request is approved
    COUNTED = "counted"  # counted; more approvers are needed
    AGAIN = "again"  # this approver had already approved it
    DECIDED = "decided"  # no longer pending (decided, withdrawn, expired)
    UNPROVED = "unproved"  # its rules ask a second factor this Approve was not proved with: nothing written


@dataclass(frozen=True)
class Counted:
    vote: Vote
    request: RequestView | None  # as written (None: nothing was)
    row: RequestRow | None = None  # the same, whole (the activation's, which holds its lease)


@dataclass(frozen=True)
class Session:
    """What ``start_session`` records of a token just minted (``token_sealed``: as the sealer sealed it)."""

    impersonator: str
    started_at: datetime
    ends_at: datetime
    token_sealed: str
    token_expires_at: datetime
    delivery: str
    warn_at: datetime | None
    target_user_id: str | None = None  # the Descope user the token acts as (its sub): what Descope's audit names


class Lifecycle(StoreCore):
    # -- pending --------------------------------------------------------------------------------------------

    def approve(self, request_id: str, approver: str, *, now: datetime, lease_until: datetime,
                needed: int = 1, proved: Mfa | None = None, mfa: Mfa = Mfa.NONE) -> Counted:
        """One approver's Approve, counted once, under the row's lock: a pending request (not past
        ``pending_until``) gains ``approver`` among ``approved_by``; with that the approvals it needs (as stored, or
        ``needed``, what its rules ask now, if more: then stored), it moves to ``approved`` (decided by this approver,
        the work lease ``lease_until`` taken for the activation), else it stays pending with its tally (version
        bumped, so Slack shows it). One audit row either way.

        ``proved``: the second factor the approver proved themselves with (``None``: a click alone). ``mfa``: the one
        the rules ask of each approver now; the stricter of it and what was stored counts, and only approvals proved
        with at least that count toward the approvals needed. An Approve without it writes nothing
        (``Vote.UNPROVED``); an earlier approval that no longer counts counts once its approver proves themselves."""
        seen: dict[str, Vote] = {}

        def counted(row: dict[str, Any]) -> dict[str, Any] | None:
            if row["state"] != State.PENDING.value or row["pending_until"] <= now:
                seen["vote"] = Vote.DECIDED
                return None
            asked = Mfa.strictest((Mfa(row["approval_mfa"] or Mfa.NONE), mfa))
            if not asked.satisfied_by(proved):
                seen["vote"] = Vote.UNPROVED
                return None
            approvers, methods = decode_approvers(row["approved_by"]), decode_proved(row["approved_mfa"])
            if approver in approvers and asked.satisfied_by(methods.get(approver)):
                seen["vote"] = Vote.AGAIN
                return None
            approvers += () if approver in approvers else (approver,)
            if proved is not None:
                methods[approver] = proved
            values: dict[str, Any] = {"approved_by": encode_approvers(approvers),
                                      "approved_mfa": encode_proved(methods)}
            if asked.needed and asked.value != row["approval_mfa"]:  # the rules ask more now than when it was asked
                values["approval_mfa"] = asked.value
            need = max(row["approvals_needed"], needed)
            if need > row["approvals_needed"]:
                values["approvals_needed"] = need
            if sum(asked.satisfied_by(methods.get(a)) for a in approvers) >= need:
                values.update(state=State.APPROVED.value, decided_by=approver, decided_at=now, lease_until=lease_until)
            return values

        with self.write() as s:
            written = rewrite(s, request_id, [Row.state == State.PENDING.value], counted, bump=True)
            if written is None:
                return Counted(seen.get("vote", Vote.DECIDED), None)
            _, after = written
            done = after["state"] == State.APPROVED.value
            asked = Mfa(after["approval_mfa"] or Mfa.NONE)
            methods = decode_proved(after["approved_mfa"])
            count = sum(asked.satisfied_by(methods.get(a)) for a in decode_approvers(after["approved_by"]))
            tally = Tally(count, after["approvals_needed"], proved)
            add_audit(s, request_id, at=now, actor=approver, action=Action.APPROVED if done else Action.APPROVAL,
                      from_state=State.PENDING.value, to_state=after["state"],
                      detail=encode(tally) if not done or proved is not None else None)
            row = row_of(after)
        if done:
            self.on_outcome(State.APPROVED.value)
        return Counted(Vote.APPROVED if done else Vote.COUNTED, as_view(row), row)

    def deny(self, request_id: str, by: str, now: datetime) -> RequestView | None:
        """An approver's Deny, while the request still waits (not past ``pending_until``)."""
        return self._transition(request_id, [State.PENDING], State.DENIED, actor=by, action=Action.DENIED, now=now,
                                where=[Row.pending_until > now], decided_by=by, decided_at=now)

    def take_back(self, request_id: str, by: str, now: datetime, *, withdrawn: bool) -> RequestView | None:
        """A waiting request withdrawn by its requester (``withdrawn``), or denied by an approver's stop."""
        return self._transition(request_id, [State.PENDING], State.DENIED, actor=by,
                                action=Action.WITHDRAWN if withdrawn else Action.DENIED, now=now, decided_by=by,
                                decided_at=now)

    def withdraw_extension(self, request_id: str, by: str, now: datetime) -> RequestView | None:
        """A waiting extension withdrawn by the bot: the session it extends is stopping (``by`` asked that)."""
        return self._transition(request_id, [State.PENDING], State.DENIED, actor=by, action=Action.WITHDRAWN, now=now,
                                decided_by=SYSTEM, decided_at=now)

    def close(self, request_id: str, failure: Failure, now: datetime) -> RequestView | None:
        """A waiting request the rules no longer let go ahead: ``failed``, saying why."""
        encoded = encode(failure)
        return self._transition(request_id, [State.PENDING], State.FAILED, actor=SYSTEM, action=Action.FAILED,
                                now=now, where=[Row.pending_until > now], detail=encoded, failure=encoded)

    def expire(self, request_id: str, now: datetime) -> bool:
        """A request nobody answered by its ``pending_until``."""
        return self._transition(request_id, [State.PENDING], State.EXPIRED, actor=SYSTEM, action=Action.EXPIRED,
                                now=now, where=[Row.pending_until <= now]) is not None

    def remind(self, request_id: str, due: datetime, *, reminded: Reminded, following: datetime | None,
               now: datetime) -> bool:
        """The reminder due at ``due``, recorded once (the next at ``following``)."""
        return self._record(request_id, actor=SYSTEM, action=Action.REMINDED, now=now, detail=encode(reminded),
                            where=[Row.state == State.PENDING.value, Row.remind_at == due],
                            remind_at=following, reminders_sent=reminded.count)

    def escalate(self, request_id: str, due: datetime, *, escalated: Escalated, now: datetime) -> bool:
        """The escalation due at ``due``, recorded once: from now on ``escalated.to`` may decide the request."""
        return self._record(request_id, actor=SYSTEM, action=Action.ESCALATED, now=now, detail=encode(escalated),
                            where=[Row.state == State.PENDING.value, Row.escalate_at == due], escalate_at=None,
                            escalated_at=now, escalated_to=json.dumps(list(escalated.to)))

    def put_off_escalation(self, request_id: str, due: datetime, later: datetime | None) -> bool:
        """The escalation due at ``due`` is not yet: look again at ``later`` (``None``: never)."""
        return self._set(request_id, where=[Row.state == State.PENDING.value, Row.escalate_at == due],
                         escalate_at=later)

    def stop_reminding(self, request_id: str, due: datetime) -> bool:
        """No more reminders (``REMINDER_INTERVAL`` turned off since the one due at ``due`` was set)."""
        return self._set(request_id, where=[Row.remind_at == due], remind_at=None)

    # -- approved -------------------------------------------------------------------------------------------

    def mark_minting(self, request_id: str, until: datetime) -> bool:
        """The impersonate call is about to go out: a token it mints lives until ``until`` at the latest. False when
        the request is no longer approved, or a stop was asked for (the call must not go out)."""
        return self._set(request_id, minting_until=until,
                         where=[Row.state == State.APPROVED.value, Row.stop_requested_at.is_(None)])

    def clear_minting(self, request_id: str) -> bool:
        """The token of the call in flight is known revoked: no unseen token remains."""
        return self._set(request_id, where=[Row.state == State.APPROVED.value], minting_until=None)

    def retry_activation_at(self, request_id: str, when: datetime) -> bool:
        """Hand an activation that failed unexpectedly back to the sweep at ``when``."""
        return self._set(request_id, where=[Row.state == State.APPROVED.value], lease_until=when)

    def start_session(self, request_id: str, session: Session, *, now: datetime, extends: str | None = None,
                      slack_lease_until: datetime | None = None,
                      viewers_since: datetime | None = None) -> tuple[RequestRow, SlackHeld | None] | None:
        """The token minted for an approved request, recorded (``active``; the work lease given back, the call in
        flight cleared). ``extends``: an extension, which starts only while the session it extends still runs (that
        row locked first). ``slack_lease_until``: take the Slack lease with it (``_transition_row``)."""
        return self._transition_row(
            request_id, [State.APPROVED], State.ACTIVE, actor=SYSTEM, action=Action.ACTIVATED, now=now,
            detail=encode(Activated(session.impersonator)), requires=(extends, RUNNING) if extends else None,
            slack_lease_until=slack_lease_until, viewers_since=viewers_since, impersonator=session.impersonator,
            started_at=session.started_at,
            ends_at=session.ends_at, delivery=session.delivery, token_expires_at=session.token_expires_at,
            token_sealed=session.token_sealed, lease_until=None, minting_until=None, warn_at=session.warn_at,
            target_user_id=session.target_user_id)

    def fail(self, request_id: str, failure: Failure, now: datetime) -> RequestView | None:
        """An approved request that could not be activated (Descope refused, the rules no longer allow it …)."""
        encoded = encode(failure)
        return self._transition(request_id, [State.APPROVED], State.FAILED, actor=SYSTEM, action=Action.FAILED,
                                now=now, detail=encoded, failure=encoded, lease_until=None)

    def call_off(self, request_id: str, by: str, now: datetime) -> bool:
        """A stop asked for while the request is approved and being activated: recorded at once (the activation
        then mints nothing, or ends the token it got). With no impersonate call in flight the work lease is let go
        with it, so that an activation put off (``put_off_activation``) ends now, not when its wait is over (one
        under way sees the stop before its call: ``mark_minting``). False: no longer approved, or called off
        already."""
        return self._record(request_id, actor=by, action=Action.STOP_REQUESTED, now=now,
                            where=[Row.state == State.APPROVED.value, Row.stop_requested_at.is_(None)],
                            values_of=lambda row: {"stop_requested_at": now, "stop_requested_by": by,
                                                   **({"lease_until": None} if row["minting_until"] is None else {})})

    def put_off_activation(self, request_id: str, put_off: PutOff, until: datetime, now: datetime, *,
                           tell: bool) -> bool:
        """Descope's rate limit refused the impersonate call (nothing minted) and asked the bot to wait: the call in
        flight cleared and the activation handed back until ``until`` (at once if it was called off meanwhile). The
        first put-off of a request to ``tell`` is told (its audit row: the thread and the requester); another after it
        is only the wait (said once is enough: a queue behind Descope's limit must not flood the channel), as is one
        not to tell (a short wait). False: no longer approved."""
        def wait(row: dict[str, Any]) -> dict[str, Any]:
            return {"minting_until": None, "lease_until": until if row["stop_requested_at"] is None else None}

        with self.write() as s:
            quiet = not tell or s.one("SELECT 1 FROM audit WHERE request_id = ? AND action = ?",
                                      (request_id, Action.PUT_OFF.value)) is not None  # short, or told before
            if rewrite(s, request_id, [Row.state == State.APPROVED.value], wait, bump=not quiet) is None:
                return False
            if not quiet:
                add_audit(s, request_id, at=now, actor=SYSTEM, action=Action.PUT_OFF, from_state=State.APPROVED.value,
                          to_state=State.APPROVED.value, detail=encode(put_off))
            return True

    def end_unstarted(self, request_id: str, by: str, ending: Ending, now: datetime) -> RequestView | None:
        """An approved request called off before its token was minted: ``stopped``, nothing to revoke."""
        return self._transition(request_id, [State.APPROVED], State.STOPPED, actor=by, action=Action.STOPPED, now=now,
                                detail=encode(ending), stopped_at=now, stopped_by=by, lease_until=None)

    # -- active ---------------------------------------------------------------------------------------------

    def show_token(self, request_id: str, by: str, now: datetime, *, proved: Mfa | None = None) -> bool:
        """Record that the token is shown to ``by`` (who proved themselves with ``proved``, if asked), if the session
        is live: active, no stop asked for, its window not over, the token held. False: it is not (nothing may be
        shown)."""
        return self._record(request_id, actor=by, action=Action.TOKEN_SHOWN, now=now,
                            detail=encode(Proved(proved)) if proved is not None else None,
                            where=[*RUNNING, Row.ends_at > now, Row.token_sealed.is_not(None)])

    def warn(self, request_id: str, due: datetime, now: datetime) -> bool:
        """The expiry warning due at ``due``, recorded once (while the session runs)."""
        return self._record(request_id, actor=SYSTEM, action=Action.WARNED, now=now,
                            where=[*RUNNING, Row.warn_at == due], warn_at=None)

    def ask_stop(self, request_id: str, by: str, now: datetime, *, undelivered_only: bool = False) -> bool:
        """``by`` asks to end a running session early (``undelivered_only``: only if its token has not reached the
        requester yet). False: it is not running, or a stop was asked for already."""
        where = [*RUNNING, Row.delivered_at.is_(None)] if undelivered_only else RUNNING
        return self._record(request_id, actor=by, action=Action.STOP_REQUESTED, now=now, where=where,
                            stop_requested_at=now, stop_requested_by=by)

    def retire(self, session_id: str, extension_id: str, now: datetime) -> bool:
        """A session replaced by its extension, whose token has reached the requester: stopped by the bot, once, and
        only while both run (the extension's row locked first: never both stopped)."""
        return self._record(session_id, actor=SYSTEM, action=Action.EXTENDED, now=now,
                            detail=encode(Linked(by=extension_id)), where=RUNNING, requires=(extension_id, RUNNING),
                            stop_requested_at=now, stop_requested_by=SYSTEM, extended_by=extension_id)

    def end_session(self, request_id: str, by: str, ending: Ending, now: datetime, stop_called_at: datetime | None,
                    *, slack_lease_until: datetime | None = None,
                    viewers_since: datetime | None = None) -> tuple[RequestRow, SlackHeld | None] | None:
        """A session ended at Descope (or its token dead): ``stopped``, the sealed token wiped; the row as written.
        ``slack_lease_until``: take the Slack lease with it (``_transition_row``)."""
        return self._transition_row(request_id, [State.ACTIVE], State.STOPPED, actor=by, action=Action.STOPPED,
                                    now=now, detail=encode(ending), slack_lease_until=slack_lease_until,
                                    viewers_since=viewers_since, stopped_at=now, stopped_by=by, token_sealed=None,
                                    lease_until=None, stop_called_at=stop_called_at)

    def retry_stop_at(self, request_id: str, when: datetime, *, attempts: int,
                      stop_called_at: datetime | None) -> bool:
        """A call that ends the session failed: try again at ``when`` (``stop_called_at``: the stop itself is done,
        only the revocation remains)."""
        return self._set(request_id, stop_attempts=attempts, lease_until=when, stop_called_at=stop_called_at)

    def stop_failing(self, request_id: str, failing: StopFailing, now: datetime) -> bool:
        """The calls that end the session keep failing: on record, for the channel to hear."""
        return self._record(request_id, actor=SYSTEM, action=Action.STOP_FAILING, now=now, detail=encode(failing))
