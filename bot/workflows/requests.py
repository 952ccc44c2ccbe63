"""What people do with their requests: ask (``submit``: the rules, the pre-flight look-up of the target in
Descope, one insert), withdraw, deny, call off or stop (``request_stop``; the Home's Withdraw: ``withdraw``), look
(``listing``). The rest is the ticker's."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from bot.domain import (
    AlreadyDecided,
    Draft,
    Forbidden,
    MayNotStop,
    NotInTenant,
    NotStoppable,
    RequestView,
    State,
    TargetDisabled,
    TargetRefused,
    TenantsUnknown,
    UnknownTarget,
    check_may_stop,
)
from bot.domain.outcomes import Failure, FailureKind, encode
from bot.domain.policy import Decision
from bot.domain.target import Target
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.extensions import Extensions
from bot.workflows.intake import Asked, admit, file_request
from bot.workflows.preflight import look_up

log = logging.getLogger("bot.workflows")


@dataclass(frozen=True)
class Listing:
    mine: list[RequestView]
    active: list[RequestView] | None  # every active session, for approvers only


class Requests:
    def __init__(self, ctx: Context, extensions: Extensions) -> None:
        self.ctx = ctx
        self.extensions = extensions
        # Look-ups with a deadline: as many at once as the HTTP server answers commands (waitress, 16 threads).
        self._lookups = ThreadPoolExecutor(max_workers=16, thread_name_prefix="preflight")

    def submit(self, requester_id: str, draft: Draft) -> RequestView:
        """Store a new request and have the approval message posted. Raises ``DomainError``.

        The rules that decide it (``Settings.decide``) say who may ask, whether anyone may (``allow``), the window,
        and how many approvers it needs; a refusal is answered here and never reaches the approvers. The rule for the
        tenant the request names is asked first (no call out); a request naming no tenant is then decided by the
        rules of every tenant the pre-flight finds its target in, and refused when those cannot be known while rules
        name tenants (the policy fails closed)."""
        duration = self._admit(requester_id, draft, self.ctx.settings.named(draft.login_id, draft.tenant))
        target, decision = self.looked_up(requester_id, draft, duration)
        if len(decision.rules) > 1:
            duration = self._admit(requester_id, draft, decision)
        return file_request(self.ctx, Asked(requester_id, draft.login_id, draft.tenant, duration, draft.reason,
                                            target, decision))

    def looked_up(self, requester_id: str, draft: Draft, duration: timedelta) -> tuple[Target | None, Decision]:
        """The pre-flight's look-up of the target (``look_up``, bounded) and the rules that decide the request with
        what it found; a refusal (the target unknown, disabled, not in the tenant; its tenants unknown while rules
        name tenants) is kept for the audit and raised."""
        try:
            target = look_up(self.ctx.descope, draft.login_id, draft.tenant, self._lookups)
        except TargetRefused as refused:
            kind = {UnknownTarget: FailureKind.UNKNOWN_USER, TargetDisabled: FailureKind.USER_DISABLED,
                    NotInTenant: FailureKind.NOT_IN_TENANT}[type(refused)]
            refused.request_id = self.keep_refusal(
                requester_id, draft, duration, Failure(kind, login_id=draft.login_id, tenant=draft.tenant))
            raise
        decision = self.ctx.settings.decide(draft.login_id, draft.tenant, target)
        if decision.tenants_unknown:
            unknown = TenantsUnknown(draft.login_id)
            unknown.request_id = self.keep_refusal(
                requester_id, draft, duration, Failure(FailureKind.TENANTS_UNKNOWN, login_id=draft.login_id))
            raise unknown
        return target, decision

    def _admit(self, requester_id: str, draft: Draft, decision: Decision) -> timedelta:
        """The window ``decision`` gives the request, if its rules let ``requester_id`` ask for it (``intake.admit``:
        raises the refusal; one of ``allow = false`` is kept for the audit)."""
        def keep(forbidden: Forbidden, window: timedelta) -> None:
            forbidden.request_id = self.keep_refusal(
                requester_id, draft, window, Failure(FailureKind.FORBIDDEN, login_id=draft.login_id,
                                                     tenant=draft.tenant, rule=forbidden.rule))
        return admit(self.ctx, requester_id, draft.login_id, decision, draft.duration, forbidden=keep)

    def keep_refusal(self, requester_id: str, draft: Draft, duration: timedelta, failure: Failure) -> str:
        """The audit keeps what the rules or the pre-flight refused (a failed request nobody else sees): its ID."""
        kept = self.ctx.store.insert_refused(
            requester_id=requester_id, login_id=draft.login_id, tenant=draft.tenant, duration=duration,
            reason=draft.reason, now=self.ctx.clock(), failure=encode(failure))
        log.info("request %s by %s refused before approval: %s", kept.id, requester_id, failure.kind)
        return kept.id

    @about_request
    def request_stop(self, request_id: str, actor: str) -> RequestView:
        """End an active session early; call off an approved one being activated; withdraw (requester) or deny (an
        approver of its rule) a pending request."""
        ctx = self.ctx
        request = ctx.get(request_id)
        if actor != request.requester_id:
            pending = request.state is State.PENDING
            check_may_stop(actor, request, may_deny=pending and ctx.may_approve(actor, request),
                           may_end=not pending and ctx.may_end(actor, request))
        now = ctx.clock()
        if request.state is State.PENDING:
            try:
                return self._take_back(request, actor)
            except AlreadyDecided:
                return self.request_stop(request_id, actor)  # decided meanwhile: stop what it became
        if request.state is State.APPROVED:
            return self._call_off(request, actor)
        if request.state is not State.ACTIVE:
            raise NotStoppable(request)
        if ctx.store.ask_stop(request_id, actor, now):
            self.extensions.follow_stop(request_id, actor)
        ctx.timers.kick(request_id)
        return ctx.get(request_id)

    @about_request
    def withdraw(self, request_id: str, actor: str) -> RequestView:
        """The requester takes back their request: pending, or approved meanwhile (called off while it is being
        activated, stopped once it runs: a withdrawal must never leave a session the requester did not want). One
        that ended otherwise meanwhile is ``AlreadyDecided``."""
        request = self.ctx.get(request_id)
        if actor != request.requester_id:
            raise MayNotStop(request_id, actor)
        if request.state is not State.PENDING:
            return self._after_approval(request, actor)
        try:
            return self._take_back(request, actor)
        except AlreadyDecided as decided:
            return self._after_approval(decided.request, actor)

    def _after_approval(self, request: RequestView, actor: str) -> RequestView:
        """A withdrawal that finds its request approved: stop what it became; anything else was decided already."""
        if request.state is State.APPROVED:
            return self._call_off(request, actor)
        if request.state is State.ACTIVE:
            return self.request_stop(request.id, actor)
        raise AlreadyDecided(request)

    def _take_back(self, request: RequestView, actor: str) -> RequestView:
        """A pending request withdrawn by its requester, or denied by an approver's stop. ``AlreadyDecided``
        when it is no longer pending."""
        ctx = self.ctx
        now = ctx.clock()
        taken = ctx.store.take_back(request.id, actor, now, withdrawn=actor == request.requester_id)
        if taken is None:
            raise AlreadyDecided(ctx.get(request.id))
        ctx.timers.kick(request.id)
        return taken

    def _call_off(self, request: RequestView, actor: str) -> RequestView:
        """Stop an approved request whose session is being activated (Descope may be slow, or asking us to wait):
        recorded at once, it wins. The activation then mints nothing, or stops and revokes at once the token it got
        (``Sessions.activate``); no token reaches the requester. One activated meanwhile is stopped as a session."""
        ctx = self.ctx
        now = ctx.clock()
        if ctx.store.call_off(request.id, actor, now):
            log.info("request %s called off by %s while being activated", request.id, actor)
            ctx.timers.kick(request.id)
            return ctx.get(request.id)
        current = ctx.get(request.id)
        if current.state is State.APPROVED:  # called off already
            return current
        return self.request_stop(request.id, actor)  # activated (or ended) meanwhile: stop what it became

    def listing(self, user_id: str) -> Listing:
        ctx = self.ctx
        mine = ctx.store.list_requests(requester_id=user_id, limit=10)
        active = ctx.store.list_requests(states=[State.ACTIVE, State.APPROVED], limit=50) \
            if ctx.is_approver(user_id) else None
        return Listing(mine=mine, active=active)
