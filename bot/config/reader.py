"""Reading the environment into ``Settings``: each variable parsed and checked, every problem remembered
(``Reader.problems``) instead of stopping at the first, so one start names all that is wrong. ``POLICY_FILE``'s
rules are read by ``bot.config.policy_file``, against the rule the environment makes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from bot.config.policy_file import read_policy
from bot.config.settings import (
    AUDIT_WEBHOOK_SECRET_MIN,
    RECONCILE_INTERVAL_MIN,
    RECONCILE_LOOKBACK_MAX,
    SLACK_API_DEFAULT,
    ConfigError,
    Secret,
    Settings,
)
from bot.config.settings import default as preset
from bot.config.values import Values
from bot.domain.durations import format_duration
from bot.domain.policy import Policy, Rule, environment_rule

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
#: How a custom Descope base URI is written (a problem's example; unset, the client derives Descope's own).
DESCOPE_EXAMPLE = "https://auth.example.com"
#: How an audit intake's URL is written (a problem's example).
AUDIT_WEBHOOK_EXAMPLE = "https://siem.example.com/intake/impersonation-bot"


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Every setting, read from ``env`` and checked as a whole. Raises ``ConfigError`` naming every problem."""
    return Reader(os.environ if env is None else env).settings()


def proxied(env: Mapping[str, str]) -> bool:
    return any(name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value.strip()
               for name, value in env.items())


class Reader(Values):
    """Reads each variable, remembering every problem instead of stopping at the first; the settings as a whole."""

    def approvers(self) -> tuple[str, ...]:
        hint = "comma list of user (U…) and user-group (S…) IDs"
        return self.principals("APPROVERS", self.required("APPROVERS", hint) or None)

    def window(self) -> tuple[timedelta, timedelta, timedelta]:
        """``MIN_DURATION``, ``DEFAULT_DURATION``, ``MAX_DURATION``: the default within the bounds."""
        default = self.duration("DEFAULT_DURATION", preset("default_duration"))
        low = self.duration("MIN_DURATION", preset("min_duration"))
        high = self.duration("MAX_DURATION", preset("max_duration"))
        if low > high:
            self.problems.append(
                f"MIN_DURATION ({format_duration(low)}) is longer than MAX_DURATION ({format_duration(high)})"
            )
        elif not low <= default <= high:
            self.problems.append(
                f"DEFAULT_DURATION ({format_duration(default)}) must lie between MIN_DURATION "
                f"({format_duration(low)}) and MAX_DURATION ({format_duration(high)})"
            )
        return low, default, high

    def break_glass(self, low: timedelta) -> tuple[bool, timedelta, int]:
        """``BREAK_GLASS``, ``BREAK_GLASS_MAX_DURATION`` and ``BREAK_GLASS_PER_DAY``. The cap may pass
        ``MAX_DURATION`` (a break-glass window has its own) but not fall short of ``MIN_DURATION`` (``low``): checked
        when it is set, or when break-glass is on (the default cap too)."""
        allowed = self.boolean("BREAK_GLASS", preset("break_glass"))
        before = len(self.problems)
        cap = self.duration("BREAK_GLASS_MAX_DURATION", preset("break_glass_max_duration"))
        written = self.raw("BREAK_GLASS_MAX_DURATION") is not None
        if len(self.problems) == before and (allowed or written) and cap < low:
            self.problems.append(
                f"BREAK_GLASS_MAX_DURATION ({format_duration(cap)}{'' if written else ', the default'}) is shorter "
                f"than MIN_DURATION ({format_duration(low)}): a break-glass window is at least MIN_DURATION long; set "
                f"BREAK_GLASS_MAX_DURATION to {format_duration(low)} or more (it may pass MAX_DURATION)")
        per_day = self.integer("BREAK_GLASS_PER_DAY", preset("break_glass_per_day"), 1, 100)
        return allowed, cap, per_day

    def escalation(self) -> tuple[timedelta | None, tuple[str, ...]]:
        """``ESCALATE_AFTER`` (a duration; ``0`` or unset: never) and ``ESCALATION_APPROVERS`` (the user and group
        IDs it escalates to): both set, or neither."""
        value = self.raw("ESCALATE_AFTER")
        after = self.duration_or_off("ESCALATE_AFTER", timedelta(0)) or None
        whom = self.raw("ESCALATION_APPROVERS")
        escalate_to = self.principals("ESCALATION_APPROVERS", whom)
        both = ("escalation needs both: when (ESCALATE_AFTER, a duration) and to whom (ESCALATION_APPROVERS, user "
                "and user-group IDs)")
        if value not in (None, "0") and whom is None:
            self.problems.append(f"ESCALATE_AFTER is set (`{value}`) but ESCALATION_APPROVERS is not: {both}; set "
                                 "ESCALATION_APPROVERS, or unset ESCALATE_AFTER")
        elif whom is not None and value in (None, "0"):
            self.problems.append(f"ESCALATION_APPROVERS is set but ESCALATE_AFTER is {'0' if value else 'not'}: "
                                 f"{both}; set ESCALATE_AFTER (e.g. 30m), or unset ESCALATION_APPROVERS")
        return after, escalate_to

    def audit_webhook(self) -> tuple[str | None, Secret | None]:
        """``AUDIT_WEBHOOK_URL`` (where every audit event is POSTed; https, http only to localhost) and
        ``AUDIT_WEBHOOK_SECRET`` (the key of each POST's signature, at least ``AUDIT_WEBHOOK_SECRET_MIN`` characters):
        both set, or neither. Problems never show the secret."""
        url = self.http_url("AUDIT_WEBHOOK_URL", AUDIT_WEBHOOK_EXAMPLE)
        secret = self.raw("AUDIT_WEBHOOK_SECRET")
        how = f"at least {AUDIT_WEBHOOK_SECRET_MIN} characters, e.g. the output of `openssl rand -hex 32`"
        if url is not None and secret is None:
            self.problems.append(
                "AUDIT_WEBHOOK_URL is set but AUDIT_WEBHOOK_SECRET is not: every POST to the audit intake is signed "
                "with it (X-Audit-Signature), so the receiver knows the events are the bot's; set "
                f"AUDIT_WEBHOOK_SECRET ({how}), or unset AUDIT_WEBHOOK_URL")
        elif secret is not None and url is None:
            self.problems.append(
                "AUDIT_WEBHOOK_SECRET is set but AUDIT_WEBHOOK_URL is not: the secret signs the audit events POSTed "
                "there; set AUDIT_WEBHOOK_URL, or unset AUDIT_WEBHOOK_SECRET")
        if secret is not None and len(secret) < AUDIT_WEBHOOK_SECRET_MIN:
            self.problems.append(f"AUDIT_WEBHOOK_SECRET is too short: it must be {how}")
        return url, Secret(secret) if secret is not None else None

    def reconcile(self) -> tuple[timedelta, timedelta]:
        """``RECONCILE_INTERVAL`` (how often Descope's audit is searched for impersonations made outside the bot; ``0``:
        never; otherwise at least ``RECONCILE_INTERVAL_MIN``) and ``RECONCILE_LOOKBACK`` (how far back the first search
        looks, at most ``RECONCILE_LOOKBACK_MAX``)."""
        interval = self.duration_or_off("RECONCILE_INTERVAL", preset("reconcile_interval"))
        if timedelta(0) < interval < RECONCILE_INTERVAL_MIN:
            least = format_duration(RECONCILE_INTERVAL_MIN)
            self.problems.append(
                f"RECONCILE_INTERVAL ({format_duration(interval)}) is shorter than {least}: Descope allows about 10 "
                f"audit searches a minute; search every {least} or more, or set 0 to turn the watch off")
        lookback = self.duration("RECONCILE_LOOKBACK", preset("reconcile_lookback"))
        if lookback > RECONCILE_LOOKBACK_MAX:
            self.problems.append(
                f"RECONCILE_LOOKBACK ({format_duration(lookback)}) must be at most "
                f"{format_duration(RECONCILE_LOOKBACK_MAX)} ({RECONCILE_LOOKBACK_MAX.days} days): Descope keeps "
                f"{RECONCILE_LOOKBACK_MAX.days} days of its audit searchable")
        return interval, lookback

    def policy(self, environment: Rule) -> Policy:
        """``POLICY_FILE``'s rules (none when it is unset), keys they leave out taken from ``environment``."""
        path = self.raw("POLICY_FILE")
        if path is None:
            return Policy()
        policy, problems = read_policy(path, environment)
        self.problems += problems
        return policy

    def settings(self) -> Settings:
        bot_token = self.required("SLACK_BOT_TOKEN", "the bot token (xoxb-…) from the app's OAuth page")
        if bot_token and not bot_token.startswith("xoxb-"):
            self.problems.append("SLACK_BOT_TOKEN must be a bot token starting with `xoxb-`")
        app_token = self.raw("SLACK_APP_TOKEN")
        if app_token and not app_token.startswith("xapp-"):
            self.problems.append("SLACK_APP_TOKEN must be an app-level token starting with `xapp-`")
        if self.raw("SLACK_CLIENT_ID") and self.raw("SLACK_CLIENT_SECRET"):
            self.problems.append(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must not both be set: with them Bolt switches to OAuth "
                "installs and ignores SLACK_BOT_TOKEN; this bot runs in one workspace with its bot token, so unset "
                "them")
        signing = self.raw("SLACK_SIGNING_SECRET")
        if not app_token and not signing:
            self.problems.append(
                "SLACK_SIGNING_SECRET is not set: HTTP mode needs it to verify Slack's requests "
                "(or set SLACK_APP_TOKEN to run in Socket Mode)"
            )
            self.unset.append(self.problems[-1])
        channel = self.required("SLACK_APPROVAL_CHANNEL", "the channel ID (C…) where approval requests go")
        self.channel("SLACK_APPROVAL_CHANNEL", channel)
        break_glass_channel = self.channel("BREAK_GLASS_CHANNEL", self.raw("BREAK_GLASS_CHANNEL"))
        approvers = self.approvers()
        requesters = self.principals("REQUESTERS", self.raw("REQUESTERS"))
        project_id = self.required("DESCOPE_PROJECT_ID", "your Descope project ID")
        key = self.required("DESCOPE_MANAGEMENT_KEY", "a Descope management key")
        low, default, high = window = self.window()
        approval_mfa = self.mfa("APPROVAL_MFA", preset("approval_mfa"))
        reveal_mfa = self.mfa("REVEAL_MFA", preset("reveal_mfa"))
        break_glass, break_glass_max_duration, break_glass_per_day = self.break_glass(low)
        escalate_after, escalation_approvers = self.escalation()
        audit_webhook_url, audit_webhook_secret = self.audit_webhook()
        reconcile_interval, reconcile_lookback = self.reconcile()
        api_url = self.http_url("SLACK_API_URL", SLACK_API_DEFAULT) or SLACK_API_DEFAULT
        enc_key = self.raw("TOKEN_ENCRYPTION_KEY")
        settings = Settings(
            slack_bot_token=Secret(bot_token),
            slack_signing_secret=Secret(signing) if signing else None,
            slack_app_token=Secret(app_token) if app_token else None,
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            approval_channel=channel,
            approvers=approvers,
            requesters=requesters,
            descope_project_id=project_id,
            descope_management_key=Secret(key),
            descope_base_uri=self.http_url("DESCOPE_BASE_URI", DESCOPE_EXAMPLE),
            database_url=self.database_url(),
            default_duration=default,
            min_duration=low,
            max_duration=high,
            pending_timeout=self.duration("PENDING_TIMEOUT", preset("pending_timeout")),
            validate_consent=self.boolean("VALIDATE_CONSENT", preset("validate_consent")),
            port=self.integer("PORT", preset("port"), 1, 65535),
            web_concurrency=self.integer("WEB_CONCURRENCY", preset("web_concurrency"), 1, 64),
            sweep_interval=self.duration("SWEEP_INTERVAL", preset("sweep_interval")),
            max_pending_per_requester=self.integer("MAX_PENDING_PER_REQUESTER", preset("max_pending_per_requester"), 1,
                                                   1000),
            token_encryption_key=Secret(enc_key) if enc_key else None,
            log_level=self.choice("LOG_LEVEL", preset("log_level"), LOG_LEVELS),
            log_format=self.choice("LOG_FORMAT", preset("log_format"), LOG_FORMATS),
            token_delivery=self.choice("TOKEN_DELIVERY", preset("token_delivery"), ("reveal", "dm")),
            reminder_interval=self.duration_or_off("REMINDER_INTERVAL", preset("reminder_interval")),
            retention=self.retention(),
            metrics_port=self.optional_integer("METRICS_PORT", 1, 65535),
            expiry_warning=self.duration_or_off("EXPIRY_WARNING", preset("expiry_warning")),
            proxied=proxied(self.env),
            approval_mfa=approval_mfa,
            reveal_mfa=reveal_mfa,
            break_glass=break_glass,
            break_glass_max_duration=break_glass_max_duration,
            break_glass_per_day=break_glass_per_day,
            break_glass_channel=break_glass_channel,
            escalate_after=escalate_after,
            escalation_approvers=escalation_approvers,
            audit_webhook_url=audit_webhook_url,
            audit_webhook_secret=audit_webhook_secret,
            reconcile_interval=reconcile_interval,
            reconcile_lookback=reconcile_lookback,
            policy=self.policy(environment_rule(
                approvers, requesters, window, approval_mfa=approval_mfa, reveal_mfa=reveal_mfa,
                break_glass=break_glass, break_glass_max_duration=break_glass_max_duration,
                break_glass_per_day=break_glass_per_day, escalate_after=escalate_after,
                escalate_to=escalation_approvers)),
        )
        for rule in settings.all_rules():
            if rule.allow and rule.escalate_to and rule.escalate_after is not None and \
                    rule.escalate_after >= settings.pending_timeout:
                where = f"POLICY_FILE, rule {rule.number} (\"{rule.name}\"), key escalate_after" if rule.from_file \
                    else "ESCALATE_AFTER"
                self.problems.append(
                    f"{where} ({format_duration(rule.escalate_after)}) is not shorter than PENDING_TIMEOUT "
                    f"({format_duration(settings.pending_timeout)}): a request would expire before it escalates; "
                    "escalate sooner, or let requests wait longer")
        if settings.token_delivery == "dm" and any(rule.reveal_mfa.needed for rule in settings.all_rules()):
            self.problems.append(
                "REVEAL_MFA (or a rule's reveal_mfa) asks the requester for a code before Show token, but "
                "TOKEN_DELIVERY=dm puts the token in the DM without one: use TOKEN_DELIVERY=reveal, or leave "
                "REVEAL_MFA unset")
        if self.problems:
            raise ConfigError(self.problems, unset=self.unset)
        return settings
