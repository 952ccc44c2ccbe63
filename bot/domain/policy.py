"""The rules file's rules (``POLICY_FILE``), as data: which rule decides a request, and what it allows.

A ``Policy`` is an ordered list of ``Rule``s; the first whose ``tenants`` and ``targets`` globs match a request
decides it (``Policy.rule_for``). No rule matching, the environment's settings decide (``Settings.rule_for``
builds that rule, ``number`` 0). Rules are complete: the file's reader fills what a rule leaves out from the
environment, so a rule here never needs the settings. Pure: no file, no Slack.

Globs are shell-style (``fnmatch``), case-insensitive; ``""`` among ``tenants`` matches a request without a
tenant; ``None`` (the key left out) matches everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase


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
    environment's settings, which decide when no rule matches."""

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

    @property
    def from_file(self) -> bool:
        return self.number > 0

    def matches(self, login_id: str, tenant: str | None) -> bool:
        return glob_matches(self.tenants, tenant) and glob_matches(self.targets, login_id)


@dataclass(frozen=True)
class Policy:
    """The rules file, read (``source``: its path; no rules when there is none)."""

    rules: tuple[Rule, ...] = ()
    source: str | None = None

    def rule_for(self, login_id: str, tenant: str | None) -> Rule | None:
        """The first rule matching the request, or ``None`` (the environment decides)."""
        return next((rule for rule in self.rules if rule.matches(login_id, tenant)), None)


def environment_rule(approvers: tuple[str, ...], requesters: tuple[str, ...],
                     window: tuple[timedelta, timedelta, timedelta]) -> Rule:
    """The rule the environment's settings make (``Settings.environment_rule``), from the values read: with
    ``REQUESTERS`` unset (empty), the approvers may request; ``window`` is (min, default, max)."""
    low, default, high = window
    return Rule(number=0, name="", requesters=requesters or approvers, approvers=approvers, min_duration=low,
                default_duration=default, max_duration=high)
