"""``impersonation-bot policy <login-id> [--tenant <id>]``: which rules decide such a request, and what they allow.

``report`` is pure: given the policy and the environment's rule (``bot.config.policy_from_env``), it says which
rule matches first (or that the environment's settings apply) and lists what that rule allows and what a request
needs (the second factors: ``approval_mfa``, ``reveal_mfa``), whether it may break glass (``break_glass``) and when it
escalates (``escalate_after``), each line named as the key a rule of ``POLICY_FILE`` would set, so what is printed
reads like the file. A request naming no tenant is
decided as the bot decides it (``Policy.decide``): by the rules of every tenant the target is in (``target``, looked
up in Descope by the command), the strictest winning, or refused when those tenants are unknown and rules name
tenants (``unknown_because`` says why they are). Operator-facing text.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.cli.exits import cannot_start
from bot.config import ConfigError, Secret, descope_from_env, policy_from_env, proxied_from_env
from bot.domain import TargetRefused, UnknownTarget
from bot.domain.durations import format_duration
from bot.domain.policy import Decision, Policy, Rule
from bot.domain.proof import Mfa
from bot.domain.target import Target

#: What each second factor asks of a request's approvers (``approval_mfa``) and of its requester (``reveal_mfa``).
_APPROVAL_MFA = {
    Mfa.NONE: "a click",
    Mfa.EMAIL: "each approver types a code Descope mails them",
    Mfa.TOTP: "each approver types the 6-digit code of their authenticator app (verified at Descope)",
}
_REVEAL_MFA = {
    Mfa.NONE: "a click on Show token shows the token",
    Mfa.EMAIL: "the requester types a code Descope mails them before Show token shows the token",
    Mfa.TOTP: "the requester types the 6-digit code of their authenticator app (verified at Descope) before Show "
              "token shows the token",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = commands.add_parser(
        "policy", help="say which rules of POLICY_FILE decide a request, and what they allow",
        description="Say which rules of POLICY_FILE decide a request for LOGIN-ID, and what they allow. Reads only "
                    "POLICY_FILE, APPROVERS, REQUESTERS, the durations, APPROVAL_MFA, REVEAL_MFA, BREAK_GLASS, "
                    "BREAK_GLASS_MAX_DURATION, BREAK_GLASS_PER_DAY, ESCALATE_AFTER, ESCALATION_APPROVERS and, for a "
                    "request naming no tenant, Descope's settings (the user is looked up as the bot does).")
    policy.add_argument("login_id", metavar="login-id", type=_login_id,
                        help="the login ID to impersonate, e.g. jane@acme.com")
    policy.add_argument("--tenant", help="the tenant ID the request names (left out: a request without a tenant)")


def _login_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("give the login ID a request would name, e.g. jane@acme.com")
    return text.strip()


def run(args: argparse.Namespace) -> int:
    login_id, tenant = args.login_id.strip(), (args.tenant or "").strip() or None
    try:
        rules, environment = policy_from_env()
        looked_up = tenant is None and rules.names_tenants
        descope = descope_from_env() if looked_up else None
    except ConfigError as exc:
        return cannot_start(exc.problems)
    target, why = look_up(descope, login_id) if looked_up else (None, "")
    print(report(login_id, tenant, rules, environment, target, why))
    return 0


def look_up(descope: tuple[str, Secret, str | None] | None, login_id: str) -> tuple[Target | None, str]:
    """The target as the bot's pre-flight finds it in Descope (``descope``: project ID, management key, base URI),
    or ``None`` and why its tenants are not known."""
    if descope is None:
        return None, "DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY are not set, so the user was not looked up"
    from bot.descope import DescopeClient
    from bot.workflows.preflight import look_up as preflight

    project_id, key, base_uri = descope
    try:
        with (DescopeClient(project_id, key.get(), base_uri, keep_alive=not proxied_from_env()) as client,
              ThreadPoolExecutor(1) as workers):
            target = preflight(client, login_id, None, workers)
    except UnknownTarget:
        return None, "Descope has no user with this login ID, so such a request is refused anyway"
    except TargetRefused:
        return None, "the user is disabled in Descope, so such a request is refused anyway"
    if not target.verified:
        return None, "Descope did not answer the look-up in time"
    return target, ""


def report(login_id: str, tenant: str | None, policy: Policy, environment: Rule, target: Target | None = None,
           unknown_because: str = "the user was not looked up in Descope") -> str:
    """What decides a request for ``login_id`` (in ``tenant``, ``None``: no tenant), and what it allows."""
    request = f"{login_id} in tenant {tenant}" if tenant is not None else f"{login_id} with no tenant"
    tenants = tuple(t for t, _ in target.tenants) if target is not None and target.verified else None
    decision = policy.decide(login_id, tenant, tenants, environment)
    if decision.tenants_unknown and decision.forbidding is None:  # (one forbidding it is shown as it stands)
        return (f"{request}: refused. Its token would reach every tenant the user is in, rules of POLICY_FILE "
                f"{policy.source} name tenants, and which tenants the user is in is not known ({unknown_because}). "
                "Name the tenant (--tenant).")
    if len(decision.rules) > 1:
        return _combined(request, decision, policy, environment, login_id, tenants or ())
    rule = policy.rule_for(login_id, tenant)
    if rule is not None:
        head = f"{request}: {_named(rule)} of POLICY_FILE {policy.source} decides."
        return "\n".join([head, *_lines(rule)])
    if policy.source is None:
        head = f"{request}: POLICY_FILE is not set, so the environment's settings decide every request."
    else:
        head = f"{request}: no rule of POLICY_FILE {policy.source} matches, so the environment's settings decide."
    return "\n".join([head, *_lines(environment)])


def _combined(request: str, decision: Decision, policy: Policy, environment: Rule, login_id: str,
              tenants: tuple[str, ...]) -> str:
    """A request naming no tenant whose target's tenants bring in several rules: each, and what they allow together."""
    head = (f"{request}: its token would reach every tenant the user is in ({', '.join(tenants)}), so these rules "
            "all decide, the strictest winning:")
    lines = [head]
    for rule in decision.rules:
        where = [t for t in (None, *tenants) if (policy.rule_for(login_id, t) or environment) == rule]
        scope = ", ".join("no tenant" if t is None else f"tenant {t}" for t in where)
        name = f"{_named(rule)} of POLICY_FILE {policy.source}" if rule.from_file else "the environment's settings"
        lines.append(f"  - {name}, for {scope}")
    if not decision.allow:
        forbidding = decision.forbidding
        assert forbidding is not None
        rows = [("allow", f"false: {_named(forbidding) if forbidding.from_file else 'a rule'} forbids it")]
    else:
        rows = [
            ("allow", "true"),
            ("requesters", "in each rule's: " + "; ".join(", ".join(r.requesters) for r in decision.rules)),
            ("approvers", "in each rule's: " + "; ".join(", ".join(r.approvers) for r in decision.rules)),
            ("approvals", f"{decision.approvals} (distinct approvers, never the requester)"),
            ("approval_mfa", _approval_mfa(decision.approval_mfa)),
            ("min_duration", format_duration(decision.min_duration)),
            ("default_duration", format_duration(decision.default_duration)),
            ("max_duration", format_duration(decision.max_duration)),
            ("reveal_mfa", _reveal_mfa(decision.reveal_mfa)),
            ("break_glass", _break_glass(decision.break_glass, decision.break_glass_max_duration,
                                         decision.break_glass_per_day)),
            ("escalate_after", _escalation(decision.escalate_after, decision.escalate_to())),
        ]
    return "\n".join([*lines, *_aligned(rows)])


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in rows)
    return [f"  {key.ljust(width)}  {value}" for key, value in rows]


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
            ("approval_mfa", _approval_mfa(rule.approval_mfa)),
            ("min_duration", format_duration(rule.min_duration)),
            ("default_duration", format_duration(rule.default_duration)),
            ("max_duration", format_duration(rule.max_duration)),
            ("reveal_mfa", _reveal_mfa(rule.reveal_mfa)),
            ("break_glass", _break_glass(rule.break_glass, rule.break_glass_max_duration, rule.break_glass_per_day)),
            ("escalate_after", _escalation(rule.escalate_after, rule.escalate_to)),
        ]
    return _aligned(rows)


def _globs(patterns: tuple[str, ...] | None, everything: str) -> str:
    if patterns is None:
        return everything
    return ", ".join(p or '"" (no tenant)' for p in patterns)


def _approval_mfa(method: Mfa) -> str:
    return f"{method.value}: {_APPROVAL_MFA[method]}"


def _reveal_mfa(method: Mfa) -> str:
    return f"{method.value}: {_REVEAL_MFA[method]}"


def _break_glass(allowed: bool, cap: timedelta, per_day: int) -> str:
    if not allowed:
        return "not allowed"
    return (f"allowed: up to {format_duration(cap)}, {per_day} a day per requester, no approver; the approvers "
            "review it after")


def _escalation(after: timedelta | None, to: tuple[str, ...]) -> str:
    return "never" if after is None else f"after {format_duration(after)} to {', '.join(to)}"
