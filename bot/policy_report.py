"""``python -m bot policy <login-id> [--tenant <id>]``: which rule decides such a request, and what it allows.

``report`` is pure: given the policy and the environment's rule (``bot.config.policy_from_env``), it says which
rule matches first (or that the environment's settings apply) and lists what that rule allows, each line named
as the key a rule of ``POLICY_FILE`` would set, so what is printed reads like the file. Operator-facing text.
"""

from __future__ import annotations

from bot.domain.policy import Policy, Rule
from bot.durations import format_duration


def report(login_id: str, tenant: str | None, policy: Policy, environment: Rule) -> str:
    """What decides a request for ``login_id`` (in ``tenant``, ``None``: no tenant), and what it allows."""
    request = f"{login_id} in tenant {tenant}" if tenant is not None else f"{login_id} with no tenant"
    rule = policy.rule_for(login_id, tenant)
    if rule is not None:
        head = f"{request}: {_named(rule)} of POLICY_FILE {policy.source} decides."
        return "\n".join([head, *_lines(rule)])
    if policy.source is None:
        head = f"{request}: POLICY_FILE is not set, so the environment's settings decide every request."
    else:
        head = f"{request}: no rule of POLICY_FILE {policy.source} matches, so the environment's settings decide."
    return "\n".join([head, *_lines(environment)])


def _named(rule: Rule) -> str:
    return f"rule {rule.number}" if rule.name == f"rule {rule.number}" else f'rule {rule.number} ("{rule.name}")'


def _lines(rule: Rule) -> list[str]:
    matches = [("tenants", _globs(rule.tenants, "any tenant")), ("targets", _globs(rule.targets, "any login ID"))]
    if not rule.allow:
        rows = [*matches, ("allow", "false: nobody may impersonate these targets")]
    else:
        rows = [
            *(matches if rule.from_file else []),
            ("allow", "true"),
            ("requesters", ", ".join(rule.requesters)),
            ("approvers", ", ".join(rule.approvers)),
            ("approvals", f"{rule.approvals} (distinct approvers, never the requester)"),
            ("min_duration", format_duration(rule.min_duration)),
            ("default_duration", format_duration(rule.default_duration)),
            ("max_duration", format_duration(rule.max_duration)),
        ]
    width = max(len(key) for key, _ in rows)
    return [f"  {key.ljust(width)}  {value}" for key, value in rows]


def _globs(patterns: tuple[str, ...] | None, everything: str) -> str:
    if patterns is None:
        return everything
    return ", ".join(p or '"" (no tenant)' for p in patterns)
