"""``Context``: what every workflow shares — settings, the store, the ports, the sealer, the clock, the
leases this process holds, and the timers (the scheduler, once attached). Built once by ``Workflows``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.config import Settings
from bot.domain import NotFound, RequestView
from bot.domain.policy import Rule
from bot.domain.schedule import Schedulable, next_alarm
from bot.sealing import Sealer
from bot.store import Store
from bot.workflows.leases import Leases
from bot.workflows.ports import Descope, Directory, Notifier, NoTimers, Timers

SYSTEM = "system"  # the actor of what the bot does by itself


class Targeted(Protocol):
    """What a rule is chosen by: a request's target (a ``RequestView`` or a ``RequestRow``)."""

    @property
    def login_id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...


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
    #: Told how late (seconds after ``ends_at``) a session ended by its window was stopped (``bot.metrics``).
    stop_lateness: Callable[[float], None] = lambda seconds: None

    def get(self, request_id: str) -> RequestView:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound(request_id)
        return request

    def rule_of(self, request: Targeted) -> Rule:
        """The rule that decides ``request`` (``POLICY_FILE``'s first match, else the environment's)."""
        return self.settings.rule_for(request.login_id, request.tenant)

    def is_approver(self, user_id: str) -> bool:
        """An approver of some request: in ``APPROVERS`` or among a rule's approvers (who sees the approvals
        and sessions lists)."""
        return any(self.directory.is_member(user_id, rule.approvers) for rule in self.settings.all_rules())

    def may_approve(self, user_id: str, request: Targeted) -> bool:
        """Among the approvers of the rule that decides ``request`` (asked at click time)."""
        return self.directory.is_member(user_id, self.rule_of(request).approvers)

    def may_stop(self, user_id: str, request: Targeted) -> bool:
        """Beside its requester, who may end a session early: its rule's approvers and ``APPROVERS``."""
        return self.may_approve(user_id, request) or self.directory.is_member(user_id, self.settings.approvers)

    def arm(self, request_id: str, row: Schedulable | None = None) -> None:
        """Set the request's alarm at its next state work (``schedule.next_alarm``), from ``row`` or a
        fresh read. Work due now is the caller's to do or kick; the sweep is the backstop."""
        row = row if row is not None else self.store.get_row(request_id)
        when = next_alarm(row, self.clock()) if row is not None else None
        if when is not None:
            self.timers.wake_at(request_id, when)
