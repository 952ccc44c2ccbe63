"""``Context``: what every workflow shares — settings, the store, the ports, the sealer, the clock, the
leases this process holds, the timers (the scheduler) and the observer (the metrics). Built once by ``Workflows``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import Settings
from bot.domain import NotFound, RequestView
from bot.domain.errors import ProofLocked
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.policy import Decision
from bot.domain.proof import MAX_WRONG_CODES, MAX_WRONG_CODES_PER_HOUR, Mfa, Purpose
from bot.domain.schedule import Schedulable, next_alarm
from bot.domain.target import Target
from bot.store import Store
from bot.store.sealing import Sealer
from bot.workflows.leases import Leases
from bot.workflows.ports import Descope, Directory, Notifier, NoTimers, Observer, Timers, Unobserved


class Targeted(Protocol):
    """What the rules are chosen by: a request's target (a ``RequestView`` or a ``RequestRow``), with the tenants
    the pre-flight found it in (which decide a request naming no tenant)."""

    @property
    def requester_id(self) -> str: ...
    @property
    def login_id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def target(self) -> Target | None: ...
    @property
    def escalated_at(self) -> datetime | None: ...
    @property
    def break_glass(self) -> bool: ...


@dataclass
class Context:
    settings: Settings
    store: Store
    descope: Descope
    directory: Directory
    notifier: Notifier
    sealer: Sealer
    clock: Callable[[], datetime]
    leases: Leases
    timers: Timers = field(default_factory=NoTimers)
    #: Told what the metrics count: how late a session ended by its window was stopped, a refused approval message.
    observer: Observer = field(default_factory=Unobserved)

    def get(self, request_id: str) -> RequestView:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound(request_id)
        return request

    def decision_of(self, request: Targeted) -> Decision:
        """The rules that decide ``request`` (``Settings.decide``: for one naming no tenant, those of every tenant
        of its target)."""
        return self.settings.decide(request.login_id, request.tenant, request.target)

    def is_approver(self, user_id: str) -> bool:
        """An approver of some request: in ``APPROVERS`` or among a rule's approvers (who sees the approvals
        and sessions lists)."""
        return any(self.directory.is_member(user_id, rule.approvers) for rule in self.settings.all_rules())

    def is_escalation_approver(self, user_id: str) -> bool:
        """Among a rule's escalation approvers (``escalate_to``, ``ESCALATION_APPROVERS``): who may decide the requests
        that escalated to them (their Home lists those, once escalated)."""
        return any(rule.escalate_to and self.directory.is_member(user_id, rule.escalate_to)
                   for rule in self.settings.all_rules())

    def may_request(self, user_id: str, decision: Decision) -> bool:
        """Among the requesters of every rule of ``decision`` (whether the rules allow the request at all is
        ``decision.allow``)."""
        return decision.may_request(user_id, self.directory.is_member)

    def no_longer_allowed(self, request: Targeted, duration: timedelta) -> Failure | None:
        """Why ``request`` (asking ``duration``) may no longer go ahead, asked again when an approval counts and when
        it is activated (the rules or the lists may have changed since it was asked): the rules forbid it, which rules
        apply cannot be known, its window is no longer within theirs, or its requester may no longer ask for it.
        ``None``: it may. (How many approvals it needs is asked again by ``Store.approve``.)"""
        decision = self.decision_of(request)
        login_id, tenant = request.login_id, request.tenant
        if decision.tenants_unknown:
            return Failure(FailureKind.TENANTS_UNKNOWN, login_id=login_id, tenant=tenant)
        forbidding = decision.forbidding
        if forbidding is not None:
            return Failure(FailureKind.FORBIDDEN, login_id=login_id, tenant=tenant, rule=forbidding.name)
        high = decision.break_glass_max_duration if request.break_glass else decision.max_duration  # its own cap
        if not decision.min_duration <= duration <= high:
            return Failure(FailureKind.WINDOW_OUT_OF_POLICY, login_id=login_id, tenant=tenant,
                           rule=decision.name or None, asked_s=int(duration.total_seconds()),
                           low_s=int(decision.min_duration.total_seconds()), high_s=int(high.total_seconds()))
        if not self.may_request(request.requester_id, decision):
            return Failure(FailureKind.NOT_A_REQUESTER, login_id=login_id, tenant=tenant, rule=decision.name or None)
        return None

    def may_approve(self, user_id: str, request: Targeted) -> bool:
        """Among the approvers of every rule that decides ``request`` (asked at click time), or, once it escalated,
        among their approvers or escalation approvers: who may approve or deny it."""
        decision = self.decision_of(request)
        if decision.may_approve(user_id, self.directory.is_member):
            return True
        return request.escalated_at is not None and decision.may_approve_escalated(user_id, self.directory.is_member)

    def may_end(self, user_id: str, request: Targeted) -> bool:
        """Beside its requester, who may end a session early (or call it off while it is being activated): its
        rule's approvers and ``APPROVERS``."""
        return self.may_approve(user_id, request) or self.directory.is_member(user_id, self.settings.approvers)

    def check_not_locked(self, request_id: str, user_id: str, purpose: Purpose, asked: Mfa) -> None:
        """Raise ``ProofLocked`` once ``user_id`` typed too many wrong codes on the request (``MAX_WRONG_CODES``), or
        on any in the past hour (``MAX_WRONG_CODES_PER_HOUR``)."""
        if not asked.needed:
            return
        if self.store.failed_proofs(request_id, user_id) >= MAX_WRONG_CODES:
            raise ProofLocked(request_id, purpose, asked)
        if self.store.failed_proofs_lately(user_id, self.clock()) >= MAX_WRONG_CODES_PER_HOUR:
            raise ProofLocked(request_id, purpose, asked, everywhere=True)

    def arm(self, request_id: str, row: Schedulable | None = None) -> None:
        """Set the request's alarm at its next state work (``schedule.next_alarm``), from ``row`` or a
        fresh read. Work due now is the caller's to do or kick; the sweep is the backstop."""
        row = row if row is not None else self.store.get_row(request_id)
        when = next_alarm(row, self.clock()) if row is not None else None
        if when is not None:
            self.timers.wake_at(request_id, when)
