"""Break-glass: in an emergency a requester starts a session at once, with no approver; the approvers review it after.

    start         ``/impersonate <login> <window> --break-glass <reason>`` (or the form's "This is an emergency"): the
                  rules allow it (``break_glass``), a reason of 15 characters or more, a window within the cap, and
                  fewer than the day's allowance started in 24 hours; then stored started, and activated on a worker
                  (the same activation, delivery, expiry, stop and revocation as any session), and the loud alert
                  posted in the approvals channel. Where the rules ask approvers for a second factor
                  (``approval_mfa``), the requester proves themselves first: stored waiting for that (``ProofNeeded``:
                  the code modal), started by ``proved``.
    review        an approver's **Looks right**: recorded ("Reviewed by @bo")
    flag          an approver's **Stop and flag**: recorded, and the session stopped and revoked at once
    remind_review until one of those, the approvers are reminded in the alert's thread (the ``REMINDER_INTERVAL``
                  doubling), even after the session ended

Anyone who may approve requests of its rules may review or flag; never its requester.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from bot.config import is_group_id
from bot.domain import Draft, Forbidden, NotARequester, NotFound, NotStoppable, RequestView, State, WrongMessage
from bot.domain.break_glass import (
    PROOF_WINDOW,
    AlreadyReviewed,
    BreakGlassNoReason,
    BreakGlassRefused,
    MayNotReview,
    check_break_glass,
)
from bot.domain.errors import ProofNeeded
from bot.domain.outcomes import Failure, FailureKind, Reminded, encode
from bot.domain.policy import Decision
from bot.domain.proof import Mfa, Proof, Purpose
from bot.domain.rules import check_approvable, check_duration
from bot.domain.schedule import Work, due_now
from bot.domain.target import encode_target
from bot.store import RequestRow, as_view
from bot.store.break_glass import STARTED, Guard
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.intake import RULE_NAME_MAX, caps
from bot.workflows.requests import Requests

log = logging.getLogger("bot.workflows")


class BreakGlass:
    def __init__(self, ctx: Context, requests: Requests) -> None:
        self.ctx = ctx
        self.requests = requests

    def start(self, requester_id: str, draft: Draft) -> RequestView:
        """Start a break-glass session (raises ``DomainError``: the refusals, ``ProofNeeded`` once it is stored
        waiting for its requester's proof)."""
        ctx = self.ctx
        s = ctx.settings
        named = s.named(draft.login_id, draft.tenant)
        window = draft.duration or min(named.default_duration, named.break_glass_max_duration)
        target, decision = self.requests.looked_up(requester_id, draft, window)
        window = draft.duration or min(decision.default_duration, decision.break_glass_max_duration)
        if not ctx.may_request(requester_id, decision):
            raise NotARequester(requester_id, decision.name)
        if decision.forbidding is not None:
            raise Forbidden(draft.login_id, decision.forbidding.name)
        check_approvable(requester_id, decision, is_group_id)  # someone besides its requester must review it
        now = ctx.clock()
        proof = decision.approval_mfa
        slack_lease_until = now + ctx.leases.lease
        try:
            row = ctx.store.insert_break_glass(
                requester_id=requester_id, login_id=draft.login_id, tenant=draft.tenant, duration=window,
                reason=draft.reason, now=now, started=not proof.needed, wait_until=now + PROOF_WINDOW,
                approval_mfa=proof, reveal_mfa=decision.reveal_mfa, review_remind_at=self._first_reminder(now),
                target=encode_target(target) if target else None, rule_name=decision.name[:RULE_NAME_MAX] or None,
                slack_lease_until=slack_lease_until,
                guard=self._guard(draft.login_id, decision, window, draft.reason))
        except BreakGlassRefused as refused:  # an emergency the rules refuse is a signal: on the record (bad input not)
            if not isinstance(refused, BreakGlassNoReason):
                self.requests.keep_refusal(requester_id, draft, window, Failure(
                    FailureKind.BREAK_GLASS_REFUSED, login_id=draft.login_id, tenant=draft.tenant,
                    rule=decision.name or None, description=refused.kind))
            raise
        log.warning("request %s: break-glass by %s for %s (%s)%s", row.id, requester_id, draft.login_id, window,
                    ", waiting for their proof" if proof.needed else "", extra={"request_id": row.id})
        ctx.arm(row.id, row)
        ctx.timers.kick(row.id, slack_lease_until=slack_lease_until)  # the alert
        if proof.needed:
            raise ProofNeeded(row.id, requester_id, Purpose.BREAK_GLASS, proof)
        ctx.timers.kick(row.id)  # the activation, on a worker
        return as_view(row)

    def asked_of(self, request_id: str, user_id: str) -> Mfa:
        """What the requester of a break-glass request waiting for it proves themselves with."""
        row = self._row(request_id)
        if row.requester_id != user_id or not row.break_glass:
            raise MayNotReview(request_id, user_id, own=False)
        if row.state != State.PENDING.value or Work.EXPIRE in due_now(row, self.ctx.clock()):
            raise NotStoppable(as_view(row))
        return Mfa.strictest((Mfa(row.approval_mfa or Mfa.NONE), self.ctx.decision_of(row).approval_mfa))

    @about_request
    def proved(self, request_id: str, user_id: str, proof: Proof | None) -> RequestView:
        """Start a break-glass request waiting for its requester, once ``proof`` is theirs for it: the rules, the cap
        and the day's allowance asked again as they are now, in the transaction that starts it."""
        ctx = self.ctx
        asked = self.asked_of(request_id, user_id)
        if asked.needed and (proof is None or not proof.covers(request_id, user_id, Purpose.BREAK_GLASS, asked)):
            raise ProofNeeded(request_id, user_id, Purpose.BREAK_GLASS, asked)
        row = self._row(request_id)
        decision = ctx.decision_of(row)
        now = ctx.clock()
        guard = self._guard(row.login_id, decision, timedelta(seconds=row.duration_s), row.reason)
        if ctx.store.start_break_glass(request_id, user_id, now, review_remind_at=self._first_reminder(now),
                                       guard=guard) is None:
            raise NotStoppable(ctx.get(request_id))
        ctx.timers.kick(request_id)
        return ctx.get(request_id)

    @about_request
    def review(self, request_id: str, clicker: str, *, where: tuple[str, str] | None = None,
               via_home: bool = False) -> None:
        """**Looks right** on the alert (``where``: its channel and ts) or the Home."""
        row = self._reviewable(request_id, clicker, where, via_home)
        if not self.ctx.store.review(request_id, clicker, self.ctx.clock()):
            raise AlreadyReviewed(self.ctx.get(request_id))
        log.info("request %s: break-glass reviewed by %s", row.id, clicker)
        self.ctx.timers.kick(request_id)

    @about_request
    def flag(self, request_id: str, clicker: str, *, where: tuple[str, str] | None = None,
             via_home: bool = False) -> None:
        """**Stop and flag**: recorded with the stop in one write (called off while it is being activated); a
        session it was extended into is stopped too, and a waiting extension withdrawn."""
        row = self._reviewable(request_id, clicker, where, via_home)
        if not self.ctx.store.flag(request_id, clicker, self.ctx.clock()):
            raise AlreadyReviewed(self.ctx.get(request_id))
        log.warning("request %s: break-glass stopped and flagged by %s", request_id, clicker)
        self.requests.extensions.follow_stop(request_id, clicker)
        extension = row.extended_by
        while extension is not None:  # the session lives on in its extension: that is what must stop
            with contextlib.suppress(NotStoppable):
                self.requests.request_stop(extension, clicker)
            following = self.ctx.store.get_row(extension)
            extension = following.extended_by if following is not None else None
        self.ctx.timers.kick(request_id)

    def remind_review(self, request_id: str) -> bool:
        """The review reminder that is due, if this caller wins it. True when it did."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        now = ctx.clock()
        if row is None or row.review_remind_at is None or Work.REMIND_REVIEW not in due_now(row, now):
            return False
        interval = ctx.settings.reminder_interval
        sent = row.review_reminders_sent + 1
        following = row.review_remind_at + interval * 2 ** sent if interval else None
        approvers = tuple(p for p in ctx.decision_of(row).approvers()
                          if p != row.requester_id and (is_group_id(p) or ctx.directory.is_active(p)))
        won = ctx.store.remind_review(request_id, row.review_remind_at, following=following, sent=sent,
                                      detail=encode(Reminded(sent, approvers)), now=now)
        if won:
            ctx.timers.kick(request_id)
        return won

    def _guard(self, login_id: str, decision: Decision, window: timedelta, reason: str) -> Guard:
        """What must hold, in the transaction that starts a break-glass session: the rules allow it, its reason,
        window and the day's allowance (``check_break_glass``), and the caps of any request."""
        def check(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
            check_break_glass(login_id, decision, window, reason, starts=starts)
            check_duration(window, decision.min_duration, decision.break_glass_max_duration, decision.name)
            caps(self.ctx.settings.max_pending_per_requester)(live, pending)
        return check

    def _first_reminder(self, now: datetime) -> datetime | None:
        interval = self.ctx.settings.reminder_interval
        return now + interval if interval else None

    def _reviewable(self, request_id: str, clicker: str, where: tuple[str, str] | None, via_home: bool) -> RequestRow:
        """The break-glass session, once the click is from its alert (or its copy, each in its own channel) or the
        clicker's Home, it started, and the clicker may review it."""
        row = self._row(request_id)
        alerts = {(row.channel_id, row.channel_ts), (row.alert_channel, row.alert_ts)}
        if not row.break_glass or row.state not in STARTED or (not via_home and where not in alerts):
            raise WrongMessage(request_id)
        if clicker == row.requester_id:
            raise MayNotReview(request_id, clicker, own=True)
        if not self.ctx.may_approve(clicker, row):
            raise MayNotReview(request_id, clicker, own=False)
        return row

    def _row(self, request_id: str) -> RequestRow:
        row = self.ctx.store.get_row(request_id)
        if row is None:
            raise NotFound(request_id)
        return row
