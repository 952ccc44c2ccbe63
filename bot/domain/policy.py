"""The rules file's rules (``POLICY_FILE``), as data: which rules decide a request, and what they allow.

A ``Policy`` is an ordered list of ``Rule``s; the first whose ``tenants`` and ``targets`` globs match a request
decides it (``Policy.rule_for``). No rule matching, the environment's settings decide (``Settings.environment_rule``,
``number`` 0). Rules are complete: the file's reader fills what a rule leaves out from the environment, so a rule
here never needs the settings. Pure: no file, no Slack.

A request that names no tenant gets a token without a selected tenant, which reaches every tenant of the user (and
their project-wide roles). So ``Policy.decide`` answers a ``Decision``: for a request naming its tenant, that
tenant's rule; for one naming none, the rule for no tenant and the rule of each tenant the target belongs to (the
pre-flight's look-up), all applying at once, the strictest winning: nobody may if one says ``allow = false``, the
most approvals, the narrowest window, the strictest second factor (``Decision.approval_mfa``, ``reveal_mfa``), and a
requester or approver must satisfy every one of them. When the target's tenants are unknown (the pre-flight could not
ask Descope) and some rule names tenants, nothing can be decided: the policy fails closed
(``Decision.tenants_unknown``) and the request must name its tenant.

A rule may ask a second factor (``bot.domain.proof.Mfa``): ``approval_mfa`` of each approver before their Approve
counts, ``reveal_mfa`` of the requester before Show token shows the token; ``Mfa.NONE`` (a click) unless the
environment (``APPROVAL_MFA``, ``REVEAL_MFA``) or the rule says otherwise.

A rule may allow break-glass (``break_glass``): a session that starts at once with no approver, within its own cap
(``break_glass_max_duration``, which may pass ``max_duration``), at most ``break_glass_per_day`` per requester in 24
hours, its approvers reviewing it after. And it may escalate (``escalate_after``, ``escalate_to``): a request still
waiting that long after it was made is put to the ``escalate_to`` users and groups too, who may then approve or deny
it like its approvers. Several rules deciding a request combine strictly here too: break-glass only when every rule
allows it, the shortest cap, the fewest a day; escalation only when every rule escalates, after the latest of their
delays, so that by then every rule's ``escalate_to`` people may act (``Decision.may_approve_escalated``).

Globs are shell-style (``fnmatch``), case-insensitive; ``""`` among ``tenants`` matches a request without a
tenant; ``None`` (the key left out) matches everything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase

from bot.domain.proof import Mfa


def glob_matches(patterns: tuple[str, ...] | None, value: str | None) -> bool:
    """Whether ``value`` matches one of ``patterns`` (``None``: everything; ``""`` matches no value)."""
    if patterns is None:
        return True
    if value is None:
        return "" in patterns
    lowered = value.lower()
    return any(p and fnmatchcase(lowered, p.lower()) for p in patterns)


@dataclass(frozen=True)
class Rule:
    """What a rule says of the requests it matches. ``number`` is its place in the file (from 1); 0 is the
    environment's settings, which decide when no rule matches. ``approval_mfa``: the second factor an approver
    proves before their Approve counts; ``reveal_mfa``: the one the requester proves before Show token shows the
    token. ``break_glass``: whether a requester may start a session at once, with no approver (at most
    ``break_glass_max_duration`` long, ``break_glass_per_day`` per requester in 24 hours); ``escalate_after``: how
    long a request waits before ``escalate_to`` (user U…/W… and group S… IDs) may approve it too (``None``: never)."""

    number: int
    name: str
    requesters: tuple[str, ...]
    approvers: tuple[str, ...]
    min_duration: timedelta
    default_duration: timedelta
    max_duration: timedelta
    approvals: int = 1
    allow: bool = True
    tenants: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    approval_mfa: Mfa = Mfa.NONE
    reveal_mfa: Mfa = Mfa.NONE
    break_glass: bool = False
    break_glass_max_duration: timedelta = timedelta(minutes=30)
    break_glass_per_day: int = 3
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()

    @property
    def from_file(self) -> bool:
        return self.number > 0

    def matches(self, login_id: str, tenant: str | None) -> bool:
        return glob_matches(self.tenants, tenant) and glob_matches(self.targets, login_id)


#: Whether a person is among principals (user and user-group IDs), as the directory answers it.
IsMember = Callable[[str, Sequence[str]], bool]


@dataclass(frozen=True)
class Decision:
    """The rules that decide a request (at least one), combined: the strictest of each wins.

    ``tenants_unknown``: the request names no tenant, the target's tenants are unknown, and rules name tenants, so
    nothing may be decided: ``allow`` is false (``rules`` holds the rule for no tenant alone)."""

    rules: tuple[Rule, ...]
    tenants_unknown: bool = False

    @property
    def name(self) -> str:
        """The rules' names as people read them ("" for the environment's settings alone)."""
        if not any(rule.from_file for rule in self.rules):
            return ""
        return " + ".join(rule.name if rule.from_file else "default" for rule in self.rules)

    @property
    def allow(self) -> bool:
        return not self.tenants_unknown and all(rule.allow for rule in self.rules)

    @property
    def forbidding(self) -> Rule | None:
        """The first rule that says nobody may (``allow = false``)."""
        return next((rule for rule in self.rules if not rule.allow), None)

    @property
    def approvals(self) -> int:
        return max(rule.approvals for rule in self.rules)

    @property
    def min_duration(self) -> timedelta:
        return max(rule.min_duration for rule in self.rules)

    @property
    def max_duration(self) -> timedelta:
        return min(rule.max_duration for rule in self.rules)

    @property
    def default_duration(self) -> timedelta:
        """The shortest of the rules' defaults, within the window they all allow."""
        return max(self.min_duration, min(min(rule.default_duration for rule in self.rules), self.max_duration))

    @property
    def approval_mfa(self) -> Mfa:
        """The second factor each approver must prove before their Approve counts: the strictest the rules ask."""
        return Mfa.strictest(rule.approval_mfa for rule in self.rules)

    @property
    def reveal_mfa(self) -> Mfa:
        """The second factor the requester must prove before Show token shows the token: the strictest asked."""
        return Mfa.strictest(rule.reveal_mfa for rule in self.rules)

    @property
    def break_glass(self) -> bool:
        """Whether a requester may start a session at once, with no approver: only when every rule allows it (and
        the request is allowed at all)."""
        return self.allow and all(rule.break_glass for rule in self.rules)

    @property
    def break_glass_max_duration(self) -> timedelta:
        """The longest break-glass window: the shortest of the rules' caps."""
        return min(rule.break_glass_max_duration for rule in self.rules)

    @property
    def break_glass_per_day(self) -> int:
        """How many break-glass sessions one requester may start in 24 hours: the fewest the rules allow."""
        return min(rule.break_glass_per_day for rule in self.rules)

    @property
    def escalate_after(self) -> timedelta | None:
        """How long a request waits before it escalates: ``None`` (never) unless every rule escalates, then the
        latest of their delays, by which every rule's ``escalate_to`` people may act."""
        delays = [rule.escalate_after for rule in self.rules]
        if any(delay is None for delay in delays):
            return None
        return max(delay for delay in delays if delay is not None)

    def escalate_to(self) -> tuple[str, ...]:
        """Whom an escalation mentions: the rules' ``escalate_to`` users and groups that every rule lets decide (among
        its approvers or its ``escalate_to``), each once, in order; when the rules share none (they name different
        groups, whose members may overlap), every rule's."""
        named = list(dict.fromkeys(p for rule in self.rules for p in rule.escalate_to))
        shared = [p for p in named if all(p in rule.approvers or p in rule.escalate_to for rule in self.rules)]
        return tuple(shared or named)

    def may_request(self, user_id: str, is_member: IsMember) -> bool:
        return all(is_member(user_id, rule.requesters) for rule in self.rules)

    def may_approve(self, user_id: str, is_member: IsMember) -> bool:
        return all(is_member(user_id, rule.approvers) for rule in self.rules)

    def may_approve_escalated(self, user_id: str, is_member: IsMember) -> bool:
        """Whether a person may approve once the request has escalated: for every rule, among its approvers or its
        ``escalate_to``. (Before the escalation, ``may_approve`` alone.)"""
        return all(is_member(user_id, (*rule.approvers, *rule.escalate_to)) for rule in self.rules)

    def approvers(self) -> tuple[str, ...]:
        """Whom to ask (a reminder's mentions): the users and groups every rule names, those who surely may approve;
        when the rules share none (they name different groups, whose members may overlap), those of the rules of
        ``POLICY_FILE``, among whom every eligible approver is. Each once, in the rules' order."""
        shared = [p for p in self.rules[0].approvers if all(p in rule.approvers for rule in self.rules[1:])]
        if shared:
            return tuple(dict.fromkeys(shared))
        named = [rule for rule in self.rules if rule.from_file] or list(self.rules)
        return tuple(dict.fromkeys(p for rule in named for p in rule.approvers))


@dataclass(frozen=True)
class Policy:
    """The rules file, read (``source``: its path; no rules when there is none)."""

    rules: tuple[Rule, ...] = ()
    source: str | None = None

    def rule_for(self, login_id: str, tenant: str | None) -> Rule | None:
        """The first rule matching the request, or ``None`` (the environment decides)."""
        return next((rule for rule in self.rules if rule.matches(login_id, tenant)), None)

    @property
    def names_tenants(self) -> bool:
        """Whether some rule depends on a tenant (its ``tenants`` name one)."""
        return any(rule.tenants is not None and any(rule.tenants) for rule in self.rules)

    def decide(self, login_id: str, tenant: str | None, target_tenants: Sequence[str] | None,
               environment: Rule) -> Decision:
        """The rules deciding a request for ``login_id`` in ``tenant``; for one naming no tenant, with the target's
        tenants as the pre-flight found them (``None``: unknown)."""
        def rule(for_tenant: str | None) -> Rule:
            return self.rule_for(login_id, for_tenant) or environment

        if tenant is not None:
            return Decision((rule(tenant),))
        if target_tenants is None and self.names_tenants:
            return Decision((rule(None),), tenants_unknown=True)
        rules = [rule(None)]
        for each in target_tenants or ():
            found = rule(each)
            if found not in rules:
                rules.append(found)
        return Decision(tuple(rules))


def environment_rule(approvers: tuple[str, ...], requesters: tuple[str, ...],
                     window: tuple[timedelta, timedelta, timedelta], *, approval_mfa: Mfa = Mfa.NONE,
                     reveal_mfa: Mfa = Mfa.NONE, break_glass: bool = False,
                     break_glass_max_duration: timedelta = timedelta(minutes=30), break_glass_per_day: int = 3,
                     escalate_after: timedelta | None = None, escalate_to: tuple[str, ...] = ()) -> Rule:
    """The rule the environment's settings make (``Settings.environment_rule``), from the values read: with
    ``REQUESTERS`` unset (empty), the approvers may request; ``window`` is (min, default, max); ``approval_mfa`` and
    ``reveal_mfa`` are ``APPROVAL_MFA`` and ``REVEAL_MFA``; ``break_glass``, ``break_glass_max_duration``,
    ``break_glass_per_day`` are ``BREAK_GLASS``, ``BREAK_GLASS_MAX_DURATION``, ``BREAK_GLASS_PER_DAY``;
    ``escalate_after`` and ``escalate_to`` are ``ESCALATE_AFTER`` and ``ESCALATION_APPROVERS``."""
    low, default, high = window
    return Rule(number=0, name="", requesters=requesters or approvers, approvers=approvers, min_duration=low,
                default_duration=default, max_duration=high, approval_mfa=approval_mfa, reveal_mfa=reveal_mfa,
                break_glass=break_glass, break_glass_max_duration=break_glass_max_duration,
                break_glass_per_day=break_glass_per_day, escalate_after=escalate_after, escalate_to=escalate_to)
