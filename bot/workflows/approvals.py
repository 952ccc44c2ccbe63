"""Approvals: an Approve or Deny click, checked and decided exactly once.

The click must come from the request's own approval message (its ``channel_ts``), or from a surface the bot
owns (its App Home: ``via_home``, checked at the Slack edge), from an approver of the request's rules at click time
who is not the requester. A Deny is a conditional transition out of ``pending``. Before an Approve counts, the rules
are asked again whether the request may go ahead at all (its requester may have lost the right to ask): if not, it
is closed (``failed``) instead. An Approve is counted once per
approver (``Store.approve``, under the row's lock); the one that completes the approvals the rule needs (N of M)
moves the request to ``approved``, and that clicking thread holds the work lease and activates at once (Descope).
Either way Slack is synced (the tally shows on the approval message). Where the rules ask approvers for a second
factor, an Approve counts only with its ``Proof`` (``workflows.verification``): the click alone raises ``ProofNeeded``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

from bot.domain import (
    AlreadyApproved,
    AlreadyDecided,
    NoLongerAllowed,
    NotFound,
    NotPostedYet,
    State,
    WrongMessage,
    check_approver,
)
from bot.domain.errors import ProofNeeded
from bot.domain.outcomes import Failure
from bot.domain.proof import Mfa, Proof, Purpose
from bot.domain.schedule import Work, due_now
from bot.store import Lease, RequestRow, Vote, as_view
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.projection import Projection
from bot.workflows.sessions import Sessions

log = logging.getLogger("bot.workflows")

CLICK_WAIT = timedelta(seconds=3)  # a click may beat the commit of its message's ts by a moment


class Approvals:
    def __init__(self, ctx: Context, sessions: Sessions, projection: Projection) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.projection = projection

    @about_request
    def decide(self, request_id: str, clicker: str, approve: bool, *, message_ts: str | None = None,
               via_home: bool = False, proof: Proof | None = None,
               counted_then: Callable[[], None] | None = None) -> None:
        """An Approve or Deny click. On approval, activates at once (Descope) and syncs Slack. Refusals raise
        (``DomainError``); a decision made answers nothing (the clicker sees it on the message and their Home).

        ``message_ts`` is the message the click came from: it must be the one the bot posted for
        this request, so a button on any other message decides nothing. ``via_home``: the click came
        from a surface the bot owns (the clicker's own App Home, as the Slack edge checked), which
        counts like the request's message, posted yet or not.

        Where the rules ask approvers for a second factor (``approval_mfa``), an Approve counts only with the
        ``proof`` that the clicker gave it (``Verifications.approve`` makes it); without one it raises
        ``ProofNeeded`` and counts nothing. A Deny needs none. ``counted_then`` is told once the Approve counted, before
        the activation (Descope's impersonate) runs: whoever waits on the click can hear at once."""
        ctx = self.ctx
        row = self._checked(request_id, clicker, message_ts=message_ts, via_home=via_home)
        now = ctx.clock()
        if Work.EXPIRE in due_now(row, now):
            self.sessions.expire_pending(request_id)
            raise AlreadyDecided(ctx.get(request_id))
        if not approve:
            if ctx.store.deny(request_id, clicker, now) is None:
                raise AlreadyDecided(ctx.get(request_id))
            log.info("request %s denied by %s", request_id, clicker)
            self.projection.sync_slack(request_id)
            return
        asked = self.asked_of(row)
        proved = proof.method if proof is not None and proof.covers(request_id, clicker, Purpose.APPROVE, asked) \
            else None
        if asked.needed and proved is None:
            ctx.check_not_locked(request_id, clicker, Purpose.APPROVE, asked)
            raise ProofNeeded(request_id, clicker, Purpose.APPROVE, asked)
        barred = ctx.no_longer_allowed(row, timedelta(seconds=row.duration_s))
        if barred is not None:  # the rules, asked again now that an approval counts, no longer let it go ahead
            self._close(row.id, barred, now)
        lease_until = now + ctx.leases.lease
        counted = ctx.store.approve(request_id, clicker, now=now, lease_until=lease_until,
                                    needed=ctx.decision_of(row).approvals, proved=proved, mfa=asked)
        if counted.vote is Vote.DECIDED:
            raise AlreadyDecided(ctx.get(request_id))
        if counted.vote is Vote.AGAIN:
            raise AlreadyApproved(ctx.get(request_id), clicker)
        if counted.vote is Vote.UNPROVED:  # another replica's rules asked more than this one's: what they stored
            raise ProofNeeded(request_id, clicker, Purpose.APPROVE, self.asked_of(self._row(request_id)))
        log.info("request %s approved by %s (%s%s)", request_id, clicker, counted.vote.value,
                 f", proved by {proved}" if proved else "")
        if counted_then is not None:
            counted_then()
        held = None  # the activation took the Slack lease: the DM goes at once, under it
        if counted.vote is Vote.APPROVED:
            with ctx.leases.holding(request_id, Lease.WORK, lease_until):
                held = self.sessions.activate_or_retry_soon(request_id, counted.row)
        self.projection.sync_held(request_id, held)

    def may_decide(self, request_id: str, clicker: str, *, message_ts: str | None = None,
                   via_home: bool = False) -> Mfa:
        """Raise as ``decide`` would for who and where (``DomainError``), before a second factor is asked; the one
        to ask (``Mfa.NONE``: none)."""
        row = self._checked(request_id, clicker, message_ts=message_ts, via_home=via_home)
        if Work.EXPIRE in due_now(row, self.ctx.clock()):
            self.sessions.expire_pending(request_id)
            raise AlreadyDecided(self.ctx.get(request_id))
        if row.state != State.PENDING.value:
            raise AlreadyDecided(as_view(row))
        return self.asked_of(row)

    def asked_of(self, row: RequestRow) -> Mfa:
        """The second factor an approver of ``row`` proves themselves with: the stricter of what its rules asked when
        it was made and what they ask now."""
        return Mfa.strictest((Mfa(row.approval_mfa or Mfa.NONE), self.ctx.decision_of(row).approval_mfa))

    def _checked(self, request_id: str, clicker: str, *, message_ts: str | None, via_home: bool) -> RequestRow:
        """The request, once the click is from its own message (or the clicker's Home) and the clicker may decide."""
        row = self._row(request_id)
        if row.break_glass:  # started without an approver: its alert is reviewed, never approved
            raise WrongMessage(request_id)
        if not via_home:
            row = self._posted(row)
            if message_ts is None or message_ts != row.channel_ts:
                raise WrongMessage(request_id)
        check_approver(clicker, as_view(row), self.ctx.may_approve(clicker, row))
        return row

    def _close(self, request_id: str, failure: Failure, now: datetime) -> NoReturn:
        """Close a pending request the rules no longer let go ahead (``failed``, saying why) and refuse the Approve
        that found it: ``NoLongerAllowed``, or ``AlreadyDecided`` if it was decided meanwhile."""
        ctx = self.ctx
        closed = ctx.store.close(request_id, failure, now)
        if closed is None:
            raise AlreadyDecided(ctx.get(request_id))
        log.warning("request %s closed at approval: %s", request_id, failure.kind)
        self.projection.sync_slack(request_id)
        raise NoLongerAllowed(closed)

    def _posted(self, row: RequestRow) -> RequestRow:
        """The row once its approval message's ts is stored (``NotPostedYet`` if that takes too long)."""
        deadline = time.monotonic() + CLICK_WAIT.total_seconds()
        while row.channel_ts is None and time.monotonic() < deadline:
            # Slack shows the message once it has answered chat.postMessage, a moment before the
            # worker that posted it has stored its ts: a quick click (or another replica) can land
            # in between. Give that worker a moment rather than refuse a genuine click.
            time.sleep(0.05)
            row = self._row(row.id)
        if row.channel_ts is None:
            raise NotPostedYet(row.id)
        return row

    def _row(self, request_id: str) -> RequestRow:
        row = self.ctx.store.get_row(request_id)
        if row is None:
            raise NotFound(request_id)
        return row
