"""``Settings`` (typed, frozen, secrets in ``Secret``), ``ConfigError`` (every problem by variable name), and the
shapes of Slack user and user-group IDs. Reading the environment is ``reader``'s (``settings_from_env``)."""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bot.domain.policy import Decision, Policy, Rule, environment_rule
from bot.domain.proof import Mfa
from bot.domain.target import Target

SLACK_API_DEFAULT = "https://slack.com/api/"
DATABASE_DEFAULT = "sqlite:///impersonation.db"
_DATABASE_EXAMPLES = "sqlite:///impersonation.db or postgresql://user:password@host:5432/db"
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: The second factors ``APPROVAL_MFA``, ``REVEAL_MFA`` and a rule's ``approval_mfa``, ``reveal_mfa`` take, in the
#: order problems list them (any case is read).
MFA_CHOICES = (Mfa.NONE.value, Mfa.TOTP.value, Mfa.EMAIL.value)
#: The shortest ``AUDIT_WEBHOOK_SECRET`` (it keys the HMAC each POST is signed with).
AUDIT_WEBHOOK_SECRET_MIN = 16
#: The shortest ``RECONCILE_INTERVAL`` other than 0 (off): Descope allows about 10 audit searches a minute.
RECONCILE_INTERVAL_MIN = timedelta(minutes=1)
#: The longest ``RECONCILE_LOOKBACK``: Descope keeps 30 days of its audit searchable.
RECONCILE_LOOKBACK_MAX = timedelta(days=30)


class ConfigError(Exception):
    """The environment cannot run the bot; ``problems`` names each variable at fault (``unset``: those of them that
    are a required variable left unset; the others are values written wrong, each saying how to write it)."""

    def __init__(self, problems: list[str], *, unset: list[str] | None = None) -> None:
        self.problems = problems
        self.unset = unset or []
        super().__init__("Configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))


class Secret:
    """A string that does not show itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def default(name: str) -> Any:
    """The default of the setting ``name`` (a field of ``Settings``): the one place it is written."""
    found = Settings.__dataclass_fields__[name]
    if found.default is not MISSING:
        return found.default
    assert found.default_factory is not MISSING, f"Settings.{name} has no default"
    return found.default_factory()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container's limit shows), at least one."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity is not None else os.cpu_count() or 1)


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.fullmatch(value))


def is_group_id(value: str) -> bool:
    return bool(_GROUP_ID.fullmatch(value))


@dataclass(frozen=True)
class Settings:
    slack_bot_token: Secret
    approval_channel: str
    approvers: tuple[str, ...]
    descope_project_id: str
    descope_management_key: Secret
    requesters: tuple[str, ...] = ()
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = SLACK_API_DEFAULT
    descope_base_uri: str | None = None
    database_url: str = field(default=DATABASE_DEFAULT, repr=False)
    default_duration: timedelta = timedelta(minutes=30)
    min_duration: timedelta = timedelta(minutes=1)
    max_duration: timedelta = timedelta(hours=4)
    pending_timeout: timedelta = timedelta(minutes=30)
    validate_consent: bool = True
    port: int = 3000
    # HTTP mode: serving processes, each a full replica (WEB_CONCURRENCY); by default one per usable core.
    web_concurrency: int = field(default_factory=lambda: usable_cores())
    sweep_interval: timedelta = timedelta(seconds=5)
    max_pending_per_requester: int = 3
    token_encryption_key: Secret | None = None
    log_level: str = "INFO"
    log_format: str = "text"  # "text" or "json" (one object per line)
    token_delivery: str = "reveal"  # "reveal": a Show token button opens a modal; "dm": edited into the DM
    reminder_interval: timedelta = timedelta(minutes=15)  # 0: no reminders
    retention: timedelta | None = None  # ended requests older than this are deleted; None: keep everything
    metrics_port: int | None = None  # Socket Mode: serve GET /metrics on this port (HTTP mode: on PORT)
    expiry_warning: timedelta = timedelta(minutes=5)  # 0: no warning before a session ends
    policy: Policy = field(default_factory=Policy)  # POLICY_FILE's rules (none: the environment decides)
    proxied: bool = False  # the environment names an HTTP proxy: HTTP clients send through it
    approval_mfa: Mfa = Mfa.NONE  # the second factor each approver proves before their Approve counts
    reveal_mfa: Mfa = Mfa.NONE  # the second factor the requester proves before Show token shows the token
    break_glass: bool = False  # a requester may start a session at once, with no approver (reviewed after)
    break_glass_max_duration: timedelta = timedelta(minutes=30)  # a break-glass window's cap (may pass max_duration)
    break_glass_per_day: int = 3  # break-glass sessions one requester may start in 24 hours
    break_glass_channel: str | None = None  # where a copy of each break-glass alert goes too (None: the approvals')
    escalate_after: timedelta | None = None  # a request waiting this long escalates; None: never
    escalation_approvers: tuple[str, ...] = ()  # whom it escalates to (user and group IDs), who may then approve
    audit_webhook_url: str | None = field(default=None, repr=False)  # every audit event POSTed there; None: no stream
    audit_webhook_secret: Secret | None = None  # keys each POST's X-Audit-Signature; set with the URL
    reconcile_interval: timedelta = timedelta(minutes=5)  # how often Descope's audit is searched; 0: never
    reconcile_lookback: timedelta = timedelta(hours=24)  # how far back the first search looks (at most 30 days)

    @property
    def processes(self) -> int:
        """How many serving processes to run: ``web_concurrency`` in HTTP mode; one in Socket Mode (one connection)."""
        return 1 if self.socket_mode else self.web_concurrency

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def environment_rule(self) -> Rule:
        """What the environment allows: the rule of every request no rule of ``POLICY_FILE`` matches."""
        return environment_rule(self.approvers, self.requesters,
                                (self.min_duration, self.default_duration, self.max_duration),
                                approval_mfa=self.approval_mfa, reveal_mfa=self.reveal_mfa,
                                break_glass=self.break_glass, break_glass_max_duration=self.break_glass_max_duration,
                                break_glass_per_day=self.break_glass_per_day, escalate_after=self.escalate_after,
                                escalate_to=self.escalation_approvers)

    def named(self, login_id: str, tenant: str | None) -> Decision:
        """The rule for the tenant a request names (naming none: the rule for no tenant), alone: among those that
        decide it (``decide``), so what it refuses stays refused, known before Descope is asked."""
        return Decision((self.policy.rule_for(login_id, tenant) or self.environment_rule,))

    def decide(self, login_id: str, tenant: str | None, target: Target | None) -> Decision:
        """The rules that decide a request for ``login_id`` (in ``tenant``; naming none, the rules of every tenant of
        ``target``, the pre-flight's look-up: ``Policy.decide``)."""
        tenants = tuple(t for t, _ in target.tenants) if target is not None and target.verified else None
        return self.policy.decide(login_id, tenant, tenants, self.environment_rule)

    def all_rules(self) -> tuple[Rule, ...]:
        """The file's rules and the environment's (last)."""
        return (*self.policy.rules, self.environment_rule)

    def mfa_in_use(self) -> frozenset[Mfa]:
        """Every second factor (never ``Mfa.NONE``) that the environment or a rule of ``POLICY_FILE`` asks, of the
        approvers or of the requester: those the setup doctor checks can be verified. A rule with ``allow = false``
        asks nothing (its requests are refused)."""
        return frozenset(method for rule in self.all_rules() if rule.allow
                         for method in (rule.approval_mfa, rule.reveal_mfa) if method.needed)

    @property
    def widest_window(self) -> tuple[timedelta, timedelta]:
        """The shortest and longest window any rule allows (what a typed duration is first checked against)."""
        allowing = [r for r in self.all_rules() if r.allow]
        return min(r.min_duration for r in allowing), max(r.max_duration for r in allowing)

    def secrets(self) -> list[str]:
        """Every configured secret value, for log redaction."""
        values = [self.slack_bot_token, self.descope_management_key, self.slack_signing_secret,
                  self.slack_app_token, self.token_encryption_key, self.audit_webhook_secret]
        found = [s.get() for s in values if s is not None and s.get()]
        password = make_url(self.database_url).password if "://" in self.database_url else None
        hook_password = _url_password(self.audit_webhook_url) if self.audit_webhook_url else None
        return [*found, *(str(p) for p in (password, hook_password) if p)]


def _url_password(url: str) -> str | None:
    """The password a URL carries in its ``user:password@`` part, if any (a malformed URL: none)."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None

