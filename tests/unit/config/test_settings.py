"""``bot.config.Settings.from_env``: defaults, every problem reported at once, secrets kept out of sight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    SLACK_API_DEFAULT,
    ConfigError,
    Secret,
    Settings,
    database_url_from_env,
    policy_from_env,
    retention_from_env,
    settings_from_env,
)
from bot.domain.policy import Policy
from bot.domain.proof import Mfa
from bot.domain.target import UNVERIFIED, Target
from tests.unit.factories import POLICY_EXAMPLE

TOKEN = "xoxb-1"
SIGNING = "s"
KEY = "K1"

MINIMAL = {
    "SLACK_BOT_TOKEN": TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING,
    "SLACK_APPROVAL_CHANNEL": "C0123ABCD",
    "APPROVERS": "U0AAA,S0BBB",
    "DESCOPE_PROJECT_ID": "P2abc",
    "DESCOPE_MANAGEMENT_KEY": KEY,
}
REQUIRED_IN_HTTP_MODE = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APPROVAL_CHANNEL",
    "APPROVERS",
    "DESCOPE_PROJECT_ID",
    "DESCOPE_MANAGEMENT_KEY",
]


def settings(**overrides: str) -> Settings:
    return settings_from_env({**MINIMAL, **overrides})


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_env(env)
    message = str(info.value)
    for problem in info.value.problems:
        assert problem in message
    return info.value.problems


def problems_with(**overrides: str) -> list[str]:
    return problems({**MINIMAL, **overrides})


def test_minimal_env_gives_the_documented_defaults() -> None:
    s = settings()
    assert s.slack_bot_token.get() == TOKEN
    assert s.slack_signing_secret is not None and s.slack_signing_secret.get() == SIGNING
    assert s.descope_management_key.get() == KEY
    assert s.approval_channel == "C0123ABCD"
    assert s.approvers == ("U0AAA", "S0BBB")
    assert s.requesters == ()
    assert s.environment_rule.requesters == ("U0AAA", "S0BBB")
    assert s.descope_project_id == "P2abc"
    assert s.descope_base_uri is None
    assert s.default_duration == timedelta(minutes=30)
    assert s.min_duration == timedelta(minutes=1)
    assert s.max_duration == timedelta(hours=4)
    assert s.pending_timeout == timedelta(minutes=30)
    assert s.validate_consent is True
    assert s.port == 3000
    assert s.database_url == "sqlite:///impersonation.db"
    assert s.slack_api_url == SLACK_API_DEFAULT
    assert s.slack_api_url.endswith("/")
    assert s.slack_app_token is None
    assert not s.socket_mode
    assert s.token_encryption_key is None
    assert s.log_level == "INFO"
    assert s.expiry_warning == timedelta(minutes=5)
    assert s.policy == Policy()
    assert (s.approval_mfa, s.reveal_mfa) == (Mfa.NONE, Mfa.NONE)
    assert (s.environment_rule.approval_mfa, s.environment_rule.reveal_mfa) == (Mfa.NONE, Mfa.NONE)
    assert s.mfa_in_use() == frozenset()
    assert (s.break_glass, s.break_glass_max_duration, s.break_glass_per_day, s.break_glass_channel) == (
        False, timedelta(minutes=30), 3, None)
    assert (s.escalate_after, s.escalation_approvers) == (None, ())
    rule = s.environment_rule
    assert (rule.break_glass, rule.break_glass_max_duration, rule.break_glass_per_day) == (
        False, timedelta(minutes=30), 3)
    assert (rule.escalate_after, rule.escalate_to) == (None, ())


def test_values_are_stripped() -> None:
    s = settings(APPROVERS=" U0AAA , S0BBB ,", SLACK_APPROVAL_CHANNEL=" C0123ABCD ", PORT=" 8080 ")
    assert s.approvers == ("U0AAA", "S0BBB")
    assert s.approval_channel == "C0123ABCD"
    assert s.port == 8080


def test_explicit_values() -> None:
    s = settings(
        REQUESTERS="U0CCC,W0DDD,S0EEE",
        DEFAULT_DURATION="1h",
        MIN_DURATION="5m",
        MAX_DURATION="2h",
        PENDING_TIMEOUT="10m",
        VALIDATE_CONSENT="false",
        PORT="8080",
        DATABASE_URL="postgresql+psycopg://db/impersonation",
        DESCOPE_BASE_URI="https://api.descope.example",
        LOG_LEVEL="debug",
        LOG_FORMAT="JSON",
        TOKEN_DELIVERY="dm",
        REMINDER_INTERVAL="0",
    )
    assert (s.log_format, s.token_delivery, s.reminder_interval) == ("json", "dm", timedelta(0))
    assert s.requesters == ("U0CCC", "W0DDD", "S0EEE")
    assert s.environment_rule.requesters == ("U0CCC", "W0DDD", "S0EEE")
    assert (s.default_duration, s.min_duration, s.max_duration) == (
        timedelta(hours=1), timedelta(minutes=5), timedelta(hours=2))
    assert s.pending_timeout == timedelta(minutes=10)
    assert s.validate_consent is False
    assert s.port == 8080
    assert s.database_url == "postgresql+psycopg://db/impersonation"
    assert s.descope_base_uri == "https://api.descope.example"
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:4567/api", "http://127.0.0.1:4567/api/"),
        ("http://127.0.0.1:4567/api/", "http://127.0.0.1:4567/api/"),
    ],
)
def test_slack_api_url_gets_a_trailing_slash(url: str, expected: str) -> None:
    assert settings(SLACK_API_URL=url).slack_api_url == expected


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                            ("on", True), ("false", False), ("0", False), ("No", False),
                                            ("off", False)])
def test_booleans(raw: str, value: bool) -> None:
    assert settings(VALIDATE_CONSENT=raw).validate_consent is value


def test_empty_env_lists_every_missing_variable_in_one_error() -> None:
    found = problems({})
    for name in REQUIRED_IN_HTTP_MODE:
        assert any(p.startswith(name) for p in found), (name, found)
    assert len(found) == len(REQUIRED_IN_HTTP_MODE)


@pytest.mark.parametrize("name", REQUIRED_IN_HTTP_MODE)
def test_each_missing_variable_is_named(name: str) -> None:
    env = {k: v for k, v in MINIMAL.items() if k != name}
    found = problems(env)
    assert len(found) == 1
    assert found[0].startswith(name)


@pytest.mark.parametrize("name", REQUIRED_IN_HTTP_MODE)
def test_blank_counts_as_missing(name: str) -> None:
    found = problems_with(**{name: "   "})
    assert [p for p in found if p.startswith(name)]


def test_several_problems_reported_together() -> None:
    found = problems_with(SLACK_APPROVAL_CHANNEL="#general", PORT="http", VALIDATE_CONSENT="maybe",
                          MAX_DURATION="forever")
    names = {p.split()[0].rstrip(":") for p in found}
    assert names == {"SLACK_APPROVAL_CHANNEL", "PORT", "VALIDATE_CONSENT", "MAX_DURATION"}


def test_malformed_urls_reported_with_the_other_problems() -> None:
    found = problems_with(DESCOPE_BASE_URI="ftp://x", DATABASE_URL="nonsense", SLACK_API_URL="slack.com/api",
                          PORT="http")
    names = {p.split()[0].rstrip(":") for p in found}
    assert names == {"DESCOPE_BASE_URI", "DATABASE_URL", "SLACK_API_URL", "PORT"}


@pytest.mark.parametrize("name", ["DESCOPE_BASE_URI", "SLACK_API_URL"])
@pytest.mark.parametrize("value", ["ftp://x", "not a url", "https://", "api.descope.com", "https://api descope.com",
                                   "https://host:port", "http://[::1", "http://api.descope.com",
                                   "http://10.0.0.5:8080"])
def test_bad_base_url(name: str, value: str) -> None:
    """Plain http would send the management key or the bot token in the clear: only to this machine."""
    (problem,) = problems_with(**{name: value})
    assert problem.startswith(f"{name} must be an https://")
    assert f"`{value}`" in problem


@pytest.mark.parametrize("value", ["https://api.descope.com", "https://auth.example.com/", "http://127.0.0.1:4567",
                                   "http://localhost:8080/"])
def test_good_descope_base_uri(value: str) -> None:
    assert settings(DESCOPE_BASE_URI=value).descope_base_uri == value


PASSWORD = "db-pass-0c2d"


@pytest.mark.parametrize(("value", "says"), [
    ("nonsense", "is not a URL SQLAlchemy can read"),
    (f"nonsense:{PASSWORD}", "is not a URL SQLAlchemy can read"),
    (f"mysql://bot:{PASSWORD}@db/bot", "must be a SQLite or PostgreSQL URL"),
    (f"oracle+oracledb://bot:{PASSWORD}@db/bot", "not `oracle+oracledb://…`"),
    (f"postgresql+nosuchdriver://bot:{PASSWORD}@db/bot", "`postgresql+nosuchdriver` is unknown or not installed"),
    ("sqlite+nosuchdriver:///bot.db", "`sqlite+nosuchdriver` is unknown or not installed"),
    ("sqlite+aiosqlite:///bot.db", "asyncio driver"),
])
def test_bad_database_url(value: str, says: str) -> None:
    (problem,) = problems_with(DATABASE_URL=value)
    assert problem.startswith("DATABASE_URL")
    assert says in problem
    assert PASSWORD not in problem


@pytest.mark.parametrize("value", ["sqlite:///bot.db", "sqlite://", "sqlite:////var/lib/bot/bot.db",
                                   "postgres://bot:pw@db:5432/bot", "postgresql://db/bot",
                                   "postgresql+psycopg://bot@db/bot"])
def test_good_database_url(value: str) -> None:
    assert settings(DATABASE_URL=value).database_url == value


def test_database_url_alone_for_migrate_and_audit() -> None:
    assert database_url_from_env({}) == "sqlite:///impersonation.db"
    assert database_url_from_env({"DATABASE_URL": "postgres://db/bot"}) == "postgres://db/bot"
    with pytest.raises(ConfigError) as info:
        database_url_from_env({"DATABASE_URL": "mysql://db/bot"})
    (problem,) = info.value.problems
    assert problem.startswith("DATABASE_URL")


def test_socket_mode_does_not_need_the_signing_secret() -> None:
    env = {k: v for k, v in MINIMAL.items() if k != "SLACK_SIGNING_SECRET"}
    s = settings_from_env({**env, "SLACK_APP_TOKEN": "xapp-1-A0-123-abc"})
    assert s.socket_mode
    assert s.slack_app_token is not None and s.slack_app_token.get() == "xapp-1-A0-123-abc"
    assert s.slack_signing_secret is None


def test_http_mode_needs_the_signing_secret() -> None:
    env = {k: v for k, v in MINIMAL.items() if k != "SLACK_SIGNING_SECRET"}
    (problem,) = problems(env)
    assert "SLACK_SIGNING_SECRET" in problem
    assert "SLACK_APP_TOKEN" in problem  # tells the operator the alternative


def test_oauth_credentials_that_would_make_bolt_ignore_the_bot_token_are_refused() -> None:
    (problem,) = problems({**MINIMAL, "SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "abc"})
    assert problem.startswith("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must not both be set")
    assert "ignores SLACK_BOT_TOKEN" in problem
    settings_from_env({**MINIMAL, "SLACK_CLIENT_ID": "123.456"})  # one alone changes nothing in Bolt


def test_bad_choices_and_reminder_interval_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        settings(LOG_FORMAT="xml", TOKEN_DELIVERY="email", REMINDER_INTERVAL="soon")
    problems = "\n".join(info.value.problems)
    assert "LOG_FORMAT must be one of text, json, not `xml`" in problems
    assert "TOKEN_DELIVERY must be one of reveal, dm, not `email`" in problems
    assert "REMINDER_INTERVAL: `soon` is not a duration" in problems and "or 0 to turn it off" in problems


@pytest.mark.parametrize(("raw", "method"), [("none", Mfa.NONE), ("totp", Mfa.TOTP), ("TOTP", Mfa.TOTP),
                                             ("email", Mfa.EMAIL), ("Email", Mfa.EMAIL), (" email ", Mfa.EMAIL)])
def test_second_factors(raw: str, method: Mfa) -> None:
    s = settings(APPROVAL_MFA=raw, REVEAL_MFA=raw)
    assert (s.approval_mfa, s.reveal_mfa) == (method, method)
    assert (s.environment_rule.approval_mfa, s.environment_rule.reveal_mfa) == (method, method)
    assert s.decide("jane@acme.com", "acme", None).approval_mfa == method


def test_a_blank_second_factor_is_none() -> None:
    assert settings(APPROVAL_MFA=" ", REVEAL_MFA="").approval_mfa == Mfa.NONE


def test_bad_second_factors_are_named_with_the_other_problems() -> None:
    found = problems_with(APPROVAL_MFA="sms", REVEAL_MFA="passkey", PORT="http")
    assert found == ["APPROVAL_MFA must be one of none, totp, email, not `sms`",
                     "REVEAL_MFA must be one of none, totp, email, not `passkey`",
                     "PORT must be a whole number from 1 to 65535, not `http`"]


def test_a_code_before_show_token_needs_the_show_token_delivery() -> None:
    assert problems_with(REVEAL_MFA="totp", TOKEN_DELIVERY="dm") == [
        "REVEAL_MFA (or a rule's reveal_mfa) asks the requester for a code before Show token, but TOKEN_DELIVERY=dm "
        "puts the token in the DM without one: use TOKEN_DELIVERY=reveal, or leave REVEAL_MFA unset"]
    assert settings(REVEAL_MFA="totp", TOKEN_DELIVERY="reveal").reveal_mfa == Mfa.TOTP
    assert settings(APPROVAL_MFA="totp", TOKEN_DELIVERY="dm").approval_mfa == Mfa.TOTP


# --- break-glass and escalation -----------------------------------------------------------------------------


def test_break_glass_and_escalation_settings() -> None:
    s = settings(BREAK_GLASS="true", BREAK_GLASS_MAX_DURATION="6h", BREAK_GLASS_PER_DAY=" 2 ",
                 BREAK_GLASS_CHANNEL=" C0ALERTS ", ESCALATE_AFTER="45m", ESCALATION_APPROVERS="U0BOSS, W0BOSS,S0ONCALL",
                 PENDING_TIMEOUT="1h")
    assert (s.break_glass, s.break_glass_max_duration, s.break_glass_per_day, s.break_glass_channel) == (
        True, timedelta(hours=6), 2, "C0ALERTS")  # a cap past MAX_DURATION (4h): break-glass has its own
    assert (s.escalate_after, s.escalation_approvers) == (timedelta(minutes=45), ("U0BOSS", "W0BOSS", "S0ONCALL"))
    rule = s.environment_rule
    assert (rule.break_glass, rule.break_glass_max_duration, rule.break_glass_per_day) == (True, timedelta(hours=6), 2)
    assert (rule.escalate_after, rule.escalate_to) == (timedelta(minutes=45), ("U0BOSS", "W0BOSS", "S0ONCALL"))
    decision = s.decide("jane@acme.com", "acme", None)
    assert decision.break_glass and decision.escalate_after == timedelta(minutes=45)
    assert decision.escalate_to() == ("U0BOSS", "W0BOSS", "S0ONCALL")


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)])
def test_break_glass_is_a_boolean(raw: str, value: bool) -> None:
    assert settings(BREAK_GLASS=raw).break_glass is value


@pytest.mark.parametrize("raw", ["0", " 0 ", ""])
def test_escalate_after_0_or_unset_is_never(raw: str) -> None:
    assert settings(ESCALATE_AFTER=raw).escalate_after is None


def test_bad_break_glass_and_escalation_values_are_named_together() -> None:
    found = problems_with(BREAK_GLASS="maybe", BREAK_GLASS_MAX_DURATION="soon", BREAK_GLASS_PER_DAY="0",
                          BREAK_GLASS_CHANNEL="#alerts", ESCALATE_AFTER="later", ESCALATION_APPROVERS="jane@acme.com")
    assert found == [
        "BREAK_GLASS_CHANNEL must be a channel ID like C0123ABCD (not a name): got `#alerts`",
        "BREAK_GLASS must be true or false, not `maybe`",
        "BREAK_GLASS_MAX_DURATION: `soon` is not a duration: write it like `90s`, `15m`, `2h` or `1h30m`",
        "BREAK_GLASS_PER_DAY must be a whole number from 1 to 100, not `0`",
        "ESCALATE_AFTER: `later` is not a duration: write it like `90s`, `15m`, `2h` or `1h30m` (or 0 to turn it off)",
        "ESCALATION_APPROVERS: `jane@acme.com` is not a Slack user ID (U…/W…) or user-group ID (S…)",
    ]


@pytest.mark.parametrize("value", ["101", "-1", "two", "3.5"])
def test_break_glass_per_day_is_a_whole_number_from_1_to_100(value: str) -> None:
    assert problems_with(BREAK_GLASS_PER_DAY=value) == [
        f"BREAK_GLASS_PER_DAY must be a whole number from 1 to 100, not `{value}`"]


@pytest.mark.parametrize("channel", ["C0123ABCD", "G0123ABCD"])
def test_good_break_glass_channel(channel: str) -> None:
    assert settings(BREAK_GLASS_CHANNEL=channel).break_glass_channel == channel


def test_escalate_after_without_escalation_approvers_is_a_problem() -> None:
    assert problems_with(ESCALATE_AFTER="30m") == [
        "ESCALATE_AFTER is set (`30m`) but ESCALATION_APPROVERS is not: escalation needs both: when (ESCALATE_AFTER, "
        "a duration) and to whom (ESCALATION_APPROVERS, user and user-group IDs); set ESCALATION_APPROVERS, or unset "
        "ESCALATE_AFTER"]


@pytest.mark.parametrize(("after", "says"), [({}, "not"), ({"ESCALATE_AFTER": "0"}, "0")])
def test_escalation_approvers_without_escalate_after_is_a_problem(after: dict[str, str], says: str) -> None:
    assert problems_with(ESCALATION_APPROVERS="S0ONCALL", **after) == [
        f"ESCALATION_APPROVERS is set but ESCALATE_AFTER is {says}: escalation needs both: when (ESCALATE_AFTER, a "
        "duration) and to whom (ESCALATION_APPROVERS, user and user-group IDs); set ESCALATE_AFTER (e.g. 30m), or "
        "unset ESCALATION_APPROVERS"]


def test_a_break_glass_cap_shorter_than_min_duration_is_a_problem() -> None:
    assert problems_with(MIN_DURATION="10m", BREAK_GLASS_MAX_DURATION="5m") == [
        "BREAK_GLASS_MAX_DURATION (5m) is shorter than MIN_DURATION (10m): a break-glass window is at least "
        "MIN_DURATION long; set BREAK_GLASS_MAX_DURATION to 10m or more (it may pass MAX_DURATION)"]
    assert settings(MIN_DURATION="10m", BREAK_GLASS_MAX_DURATION="10m").break_glass_max_duration == timedelta(
        minutes=10)  # as long as the shortest window is fine


def test_the_default_break_glass_cap_is_checked_only_when_break_glass_is_on() -> None:
    window = {"MIN_DURATION": "1h", "DEFAULT_DURATION": "1h"}
    assert settings(**window).break_glass_max_duration == timedelta(minutes=30)  # off: the cap is never used
    (problem,) = problems_with(**window, BREAK_GLASS="true")
    assert problem.startswith("BREAK_GLASS_MAX_DURATION (30m, the default) is shorter than MIN_DURATION (1h)")


def test_break_glass_and_escalation_problems_come_with_the_others() -> None:
    found = problems_with(PORT="http", ESCALATE_AFTER="15m", BREAK_GLASS_PER_DAY="1000", SLACK_APPROVAL_CHANNEL="#x")
    assert [p.split()[0] for p in found] == ["SLACK_APPROVAL_CHANNEL", "BREAK_GLASS_PER_DAY", "ESCALATE_AFTER",
                                             "PORT"]


def test_the_policy_command_reads_break_glass_and_escalation() -> None:
    env = {"APPROVERS": "U0AAA", "BREAK_GLASS": "on", "BREAK_GLASS_PER_DAY": "5", "ESCALATE_AFTER": "20m",
           "ESCALATION_APPROVERS": "S0ONCALL"}
    _, environment = policy_from_env(env)
    assert (environment.break_glass, environment.break_glass_per_day) == (True, 5)
    assert (environment.escalate_after, environment.escalate_to) == (timedelta(minutes=20), ("S0ONCALL",))
    with pytest.raises(ConfigError) as info:
        policy_from_env({"APPROVERS": "U0AAA", "ESCALATION_APPROVERS": "S0ONCALL", "BREAK_GLASS_MAX_DURATION": "x"})
    assert [p.split()[0].rstrip(":") for p in info.value.problems] == ["BREAK_GLASS_MAX_DURATION",
                                                                       "ESCALATION_APPROVERS"]


def test_bad_app_token_prefix() -> None:
    (problem,) = problems_with(SLACK_APP_TOKEN="xoxb-not-an-app-token")
    assert problem.startswith("SLACK_APP_TOKEN")
    assert "xoxb-not-an-app-token" not in problem


def test_bad_bot_token_prefix_does_not_echo_the_value() -> None:
    (problem,) = problems_with(SLACK_BOT_TOKEN="xoxp-user-token-secret")
    assert problem.startswith("SLACK_BOT_TOKEN")
    assert "xoxb-" in problem
    assert "xoxp-user-token-secret" not in problem


@pytest.mark.parametrize("channel", ["#general", "general", "c0123abcd", "U0123ABCD", "C0"])
def test_bad_channel(channel: str) -> None:
    (problem,) = problems_with(SLACK_APPROVAL_CHANNEL=channel)
    assert problem.startswith("SLACK_APPROVAL_CHANNEL")
    assert channel in problem


@pytest.mark.parametrize("channel", ["C0123ABCD", "G0123ABCD"])
def test_good_channel(channel: str) -> None:
    assert settings(SLACK_APPROVAL_CHANNEL=channel).approval_channel == channel


@pytest.mark.parametrize("entry", ["jane@acme.com", "@jane", "u0aaa", "C0123ABCD", "<@U0AAA>"])
def test_bad_approvers_entry(entry: str) -> None:
    (problem,) = problems_with(APPROVERS=f"U0AAA,{entry}")
    assert problem.startswith("APPROVERS")
    assert f"`{entry}`" in problem


def test_bad_requesters_entry() -> None:
    (problem,) = problems_with(REQUESTERS="jane@acme.com")
    assert problem.startswith("REQUESTERS")
    assert "jane@acme.com" in problem


def test_approvers_with_no_entries_is_a_problem() -> None:
    found = problems_with(APPROVERS=" , ,")
    assert any(p.startswith("APPROVERS") for p in found)


@pytest.mark.parametrize("name", ["DEFAULT_DURATION", "MIN_DURATION", "MAX_DURATION", "PENDING_TIMEOUT",
                                  "SWEEP_INTERVAL"])
@pytest.mark.parametrize("value", ["30", "forever", "0m", "1m1h", "-5m", "1.5h"])
def test_bad_durations(name: str, value: str) -> None:
    found = problems_with(**{name: value})
    assert len(found) == 1
    assert found[0].startswith(f"{name}:")
    assert f"`{value}`" in found[0]


def test_huge_duration_is_a_config_error() -> None:
    problems_with(MAX_DURATION="99999999999999h")


def test_min_longer_than_max() -> None:
    (problem,) = problems_with(MIN_DURATION="2h", MAX_DURATION="1h", DEFAULT_DURATION="90m")
    assert "MIN_DURATION (2h)" in problem
    assert "MAX_DURATION (1h)" in problem


@pytest.mark.parametrize(("env", "shown"), [
    ({"DEFAULT_DURATION": "5h"}, "DEFAULT_DURATION (5h)"),
    ({"DEFAULT_DURATION": "30s"}, "DEFAULT_DURATION (30s)"),
    ({"MAX_DURATION": "20m"}, "DEFAULT_DURATION (30m)"),
    ({"MIN_DURATION": "45m"}, "DEFAULT_DURATION (30m)"),
])
def test_default_outside_bounds(env: dict[str, str], shown: str) -> None:
    (problem,) = problems_with(**env)
    assert shown in problem
    assert "MIN_DURATION" in problem and "MAX_DURATION" in problem


def test_default_on_the_bounds_is_fine() -> None:
    s = settings(DEFAULT_DURATION="1h", MIN_DURATION="1h", MAX_DURATION="1h")
    assert s.default_duration == s.min_duration == s.max_duration == timedelta(hours=1)


@pytest.mark.parametrize("value", ["maybe", "2", "y", "enabled"])
def test_bad_boolean(value: str) -> None:
    (problem,) = problems_with(VALIDATE_CONSENT=value)
    assert problem.startswith("VALIDATE_CONSENT")
    assert f"`{value}`" in problem


@pytest.mark.parametrize("value", ["http", "0", "65536", "-1", "3000.0", "30 00"])
def test_bad_port(value: str) -> None:
    (problem,) = problems_with(PORT=value)
    assert problem.startswith("PORT")
    assert "1 to 65535" in problem


@pytest.mark.parametrize("value", ["1", "65535"])
def test_port_bounds(value: str) -> None:
    assert settings(PORT=value).port == int(value)


def test_superscript_port_is_a_config_error() -> None:
    problems_with(PORT="²")


def test_bad_max_pending() -> None:
    (problem,) = problems_with(MAX_PENDING_PER_REQUESTER="0")
    assert problem.startswith("MAX_PENDING_PER_REQUESTER")


# --- secrets -------------------------------------------------------------------------------------------

SECRET_ENV = {
    **MINIMAL,
    "SLACK_BOT_TOKEN": "xoxb-123-456-bottokenvalue",
    "SLACK_SIGNING_SECRET": "signing-secret-value-8f3a",
    "DESCOPE_MANAGEMENT_KEY": "K2management-key-value",
    "TOKEN_ENCRYPTION_KEY": "sealing-key-value-77",
}
SECRET_VALUES = ["xoxb-123-456-bottokenvalue", "signing-secret-value-8f3a", "K2management-key-value",
                 "sealing-key-value-77"]


def test_secret_hides_its_value() -> None:
    secret = Secret("hunter2-value")
    assert "hunter2-value" not in repr(secret)
    assert "hunter2-value" not in str(secret)
    assert "hunter2-value" not in f"{secret}"
    assert "hunter2-value" not in f"{secret!r}"
    assert secret.get() == "hunter2-value"
    assert secret == Secret("hunter2-value")
    assert secret != Secret("other")
    assert secret != "hunter2-value"


@pytest.mark.parametrize("render", [repr, str, format, lambda s: f"{s}", lambda s: f"{s!r}"])
def test_settings_never_show_secrets(render: Callable[[object], str]) -> None:
    s = settings_from_env(SECRET_ENV)
    text = render(s)
    assert "P2abc" in text  # the project ID is not secret: the repr still says something useful
    for value in SECRET_VALUES:
        assert value not in text


def test_socket_mode_app_token_hidden() -> None:
    s = settings_from_env({**SECRET_ENV, "SLACK_APP_TOKEN": "xapp-1-A0-123-appsecret"})
    assert "xapp-1-A0-123-appsecret" not in repr(s)
    assert "xapp-1-A0-123-appsecret" in s.secrets()


def test_settings_secrets_lists_every_configured_secret() -> None:
    assert sorted(settings_from_env(SECRET_ENV).secrets()) == sorted(SECRET_VALUES)


def test_settings_secrets_skips_unset_ones() -> None:
    assert sorted(settings().secrets()) == sorted([TOKEN, SIGNING, KEY])


def test_database_password_is_hidden() -> None:
    s = settings(DATABASE_URL="postgresql+psycopg://bot:db-pass-4f9c1e@db.internal/impersonation")
    assert "db-pass-4f9c1e" not in repr(s)
    assert "db-pass-4f9c1e" in s.secrets()


def test_retention_is_a_duration_or_unset_for_keep_everything() -> None:
    assert settings().retention is None
    assert settings(RETENTION="  ").retention is None
    assert settings(RETENTION="720h").retention == timedelta(days=30)
    assert retention_from_env({"RETENTION": "90m"}) == timedelta(minutes=90)
    assert retention_from_env({}) is None
    with pytest.raises(ConfigError) as err:
        settings(RETENTION="30d")
    assert "RETENTION: `30d` is not a duration" in str(err.value) and "leave it unset" in str(err.value)
    with pytest.raises(ConfigError, match="RETENTION"):
        retention_from_env({"RETENTION": "0"})


def test_metrics_port_is_unset_by_default_and_validated() -> None:
    assert settings().metrics_port is None
    assert settings(METRICS_PORT="9100").metrics_port == 9100
    for bad in ("0", "65536", "metrics"):
        (problem,) = problems_with(METRICS_PORT=bad)
        assert problem.startswith("METRICS_PORT must be a whole number from 1 to 65535")


def test_expiry_warning_is_a_duration_or_0_for_off() -> None:
    assert settings(EXPIRY_WARNING="10m").expiry_warning == timedelta(minutes=10)
    assert settings(EXPIRY_WARNING="0").expiry_warning == timedelta(0)
    (problem,) = problems_with(EXPIRY_WARNING="soon")
    assert problem.startswith("EXPIRY_WARNING: `soon` is not a duration") and "or 0 to turn it off" in problem


# --- POLICY_FILE ---------------------------------------------------------------------------------------------

POLICY = POLICY_EXAMPLE + """
[[rule]]
name = "no tenant"
tenants = [""]
min_duration = "10m"
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return str(path)


def test_the_policy_file_is_read_with_the_environments_values(policy_file: str) -> None:
    s = settings(POLICY_FILE=f" {policy_file} ", REQUESTERS="U0REQ", DEFAULT_DURATION="1h", MAX_DURATION="2h")
    regulated, staff, no_tenant = s.policy.rules
    assert s.policy.source == policy_file
    assert (regulated.number, regulated.name, regulated.approvals) == (1, "regulated tenants", 2)
    assert (regulated.requesters, regulated.approvers) == (("U0REQ",), ("S0SECOPS",))
    assert (regulated.min_duration, regulated.default_duration, regulated.max_duration) == (
        timedelta(minutes=1), timedelta(hours=1), timedelta(hours=1))
    assert not staff.allow
    assert (no_tenant.requesters, no_tenant.approvers) == (("U0REQ",), ("U0AAA", "S0BBB"))
    assert (no_tenant.min_duration, no_tenant.default_duration, no_tenant.max_duration) == (
        timedelta(minutes=10), timedelta(hours=1), timedelta(hours=2))


def test_the_first_matching_rule_decides(policy_file: str) -> None:
    s = settings(POLICY_FILE=policy_file)
    assert s.named("jane@bank.com", "bank-eu").name == "regulated tenants"
    assert s.named("bo@ourcompany.com", "bank-eu").name == "regulated tenants"  # rule 1 comes first
    assert s.named("bo@ourcompany.com", "acme").name == "our own staff"
    assert s.named("jane@acme.com", None).name == "no tenant"  # "" among tenants: a request without one
    assert s.named("jane@acme.com", "acme").rules == (s.environment_rule,)  # no match: the environment decides
    assert s.environment_rule.number == 0


def test_matching_ignores_case(policy_file: str) -> None:
    s = settings(POLICY_FILE=policy_file)
    assert s.named("Bo@OurCompany.COM", "ACME").name == "our own staff"
    assert s.named("jane@acme.com", "Bank-EU").name == "regulated tenants"


def test_a_request_naming_no_tenant_is_decided_by_every_tenant_of_its_target(policy_file: str) -> None:
    s = settings(POLICY_FILE=policy_file, MAX_DURATION="4h")
    banker = Target(verified=True, name="Banker", tenants=(("bank-eu", "Bank Eu"), ("acme", None)))
    decision = s.decide("banker@bank.test", None, banker)
    assert [rule.name for rule in decision.rules] == ["no tenant", "regulated tenants", ""]
    assert decision.name == "no tenant + regulated tenants + default"
    assert decision.approvals == 2 and decision.max_duration == timedelta(hours=1)  # the strictest
    assert decision.min_duration == timedelta(minutes=10)
    assert decision.allow and not decision.tenants_unknown
    # Named, the tenant's rule alone decides; a target in no tenant, the rule for no tenant alone.
    assert s.decide("banker@bank.test", "bank-eu", banker).name == "regulated tenants"
    assert s.decide("jane@acme.com", None, Target(verified=True)).name == "no tenant"


def test_a_request_naming_no_tenant_fails_closed_when_its_tenants_are_unknown(policy_file: str) -> None:
    s = settings(POLICY_FILE=policy_file)
    for target in (UNVERIFIED, None):
        decision = s.decide("banker@bank.test", None, target)
        assert decision.tenants_unknown and not decision.allow
    assert s.decide("banker@bank.test", "bank-eu", UNVERIFIED).allow  # named, it is decided as before
    assert settings().decide("jane@acme.com", None, UNVERIFIED).allow  # no rule names a tenant: nothing to know


def test_allow_false_in_any_tenant_of_the_target_forbids_a_request_naming_none(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "frozen"\ntenants = ["frozen-*"]\nallow = false\n')
    s = settings(POLICY_FILE=str(path))
    decision = s.decide("jane@acme.com", None, Target(verified=True, tenants=(("acme", None), ("frozen-1", None))))
    assert not decision.allow and decision.forbidding is not None and decision.forbidding.name == "frozen"


def test_policy_problems_come_with_the_others(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "x"\nmax_duration = "90x"\n')
    found = problems_with(POLICY_FILE=str(path), PORT="http")
    assert [p.split()[0].rstrip(":") for p in found] == ["PORT", "POLICY_FILE"]
    assert found[1].startswith(f'POLICY_FILE {path}, rule 1 ("x"), key max_duration: `90x` is not a duration')


def test_a_missing_policy_file_is_named() -> None:
    (problem,) = problems_with(POLICY_FILE="/nonexistent/policy.toml")
    assert problem.startswith("POLICY_FILE /nonexistent/policy.toml: there is no such file")


def test_rules_are_checked_when_the_environment_has_problems(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\ntenants = ["bank-["]\nmin_duration = "5h"\n')
    env = {k: v for k, v in MINIMAL.items() if k != "APPROVERS"}
    found = problems({**env, "POLICY_FILE": str(path), "MAX_DURATION": "2h", "DEFAULT_DURATION": "1h"})
    assert found[0].startswith("APPROVERS is not set")
    assert [p.split(": ")[0] for p in found[1:]] == [f"POLICY_FILE {path}, rule 1, key tenants",
                                                      f"POLICY_FILE {path}, rule 1, key min_duration"]
    assert "MAX_DURATION (2h, from the environment" in found[2]


def test_a_rule_leaving_out_a_second_factor_takes_the_environments(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\napproval_mfa = "TOTP"\n'
                    '[[rule]]\nname = "acme"\ntenants = ["acme"]\nreveal_mfa = "none"\n')
    s = settings(POLICY_FILE=str(path), APPROVAL_MFA="email", REVEAL_MFA="email")
    bank, acme = s.policy.rules
    assert (bank.approval_mfa, bank.reveal_mfa) == (Mfa.TOTP, Mfa.EMAIL)
    assert (acme.approval_mfa, acme.reveal_mfa) == (Mfa.EMAIL, Mfa.NONE)
    both = s.decide("x@bank.test", None, Target(verified=True, tenants=(("bank-eu", None), ("acme", None))))
    assert (both.approval_mfa, both.reveal_mfa) == (Mfa.TOTP, Mfa.EMAIL)  # the strictest of the rules


def test_a_rules_bad_second_factor_is_named_by_file_rule_and_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\napproval_mfa = "sms"\nreveal_mfa = 6\n')
    assert problems_with(POLICY_FILE=str(path), APPROVAL_MFA="otp") == [
        "APPROVAL_MFA must be one of none, totp, email, not `otp`",
        f'POLICY_FILE {path}, rule 1 ("bank"), key approval_mfa: must be one of "none", "totp" or "email", not "sms"',
        f'POLICY_FILE {path}, rule 1 ("bank"), key reveal_mfa: must be one of "none", "totp" or "email", not a '
        "number (6)",
    ]


def test_the_second_factors_in_use(tmp_path: Path) -> None:
    assert settings(APPROVAL_MFA="totp").mfa_in_use() == {Mfa.TOTP}
    assert settings(REVEAL_MFA="email").mfa_in_use() == {Mfa.EMAIL}
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\ntenants = ["bank-*"]\nreveal_mfa = "totp"\n'
                    '[[rule]]\ntenants = ["frozen"]\nallow = false\napproval_mfa = "email"\n')
    assert settings(POLICY_FILE=str(path)).mfa_in_use() == {Mfa.TOTP}  # a rule refusing everything asks nothing
    assert settings(POLICY_FILE=str(path), APPROVAL_MFA="email").mfa_in_use() == {Mfa.TOTP, Mfa.EMAIL}


def test_the_policy_alone_for_the_policy_command(policy_file: str) -> None:
    env = {"APPROVERS": "U0AAA,S0BBB", "REQUESTERS": "U0REQ", "MIN_DURATION": "5m", "POLICY_FILE": policy_file,
           "APPROVAL_MFA": "totp", "REVEAL_MFA": "Email"}
    policy, environment = policy_from_env(env)  # no Slack or Descope setting needed
    s = settings(**env)
    assert (policy, environment) == (s.policy, s.environment_rule)
    assert (environment.approval_mfa, environment.reveal_mfa) == (Mfa.TOTP, Mfa.EMAIL)
    assert {(rule.approval_mfa, rule.reveal_mfa) for rule in policy.rules} == {(Mfa.TOTP, Mfa.EMAIL)}
    assert policy_from_env({"APPROVERS": "U0AAA"})[0] == Policy()


def test_the_policy_alone_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\napprovals = 0\n')
    with pytest.raises(ConfigError) as info:
        policy_from_env({"POLICY_FILE": str(path), "MIN_DURATION": "2h", "REQUESTERS": "jane"})
    assert [p.split()[0].rstrip(":") for p in info.value.problems] == [
        "APPROVERS", "REQUESTERS", "DEFAULT_DURATION", "POLICY_FILE"]  # the default (30m) is under MIN_DURATION


def test_serving_processes_default_to_the_usable_cores_and_socket_mode_runs_one() -> None:
    import os

    cores = len(os.sched_getaffinity(0))
    assert settings().web_concurrency == cores and settings().processes == cores
    assert settings(WEB_CONCURRENCY="3").processes == 3
    assert settings(WEB_CONCURRENCY="3", SLACK_APP_TOKEN="xapp-1-A-1-abc").processes == 1


@pytest.mark.parametrize("value", ["0", "65", "two", "-1"])
def test_web_concurrency_must_be_a_sensible_number(value: str) -> None:
    (problem,) = problems_with(WEB_CONCURRENCY=value)
    assert problem.startswith(f"WEB_CONCURRENCY must be a whole number from 1 to 64, not `{value}`")


def test_a_rule_leaving_out_break_glass_and_escalation_takes_the_environments(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\nbreak_glass = false\nescalate_after = "1h"\n'
                    'escalate_to = ["U0BOSS"]\n'
                    '[[rule]]\nname = "acme"\ntenants = ["acme"]\nbreak_glass_max_duration = "2h"\n'
                    'break_glass_per_day = 1\n')
    s = settings(POLICY_FILE=str(path), PENDING_TIMEOUT="2h", BREAK_GLASS="true", BREAK_GLASS_PER_DAY="4",
                 ESCALATE_AFTER="15m",
                 ESCALATION_APPROVERS="S0ONCALL")
    bank, acme = s.policy.rules
    assert (bank.break_glass, bank.break_glass_max_duration, bank.break_glass_per_day) == (
        False, timedelta(minutes=30), 4)
    assert (bank.escalate_after, bank.escalate_to) == (timedelta(hours=1), ("U0BOSS",))
    assert (acme.break_glass, acme.break_glass_max_duration, acme.break_glass_per_day) == (True, timedelta(hours=2), 1)
    assert (acme.escalate_after, acme.escalate_to) == (timedelta(minutes=15), ("S0ONCALL",))
    both = s.decide("x@bank.test", None, Target(verified=True, tenants=(("bank-eu", None), ("acme", None))))
    assert [rule.name for rule in both.rules] == ["", "bank", "acme"]
    assert not both.break_glass  # the bank rule says no
    assert both.escalate_after == timedelta(hours=1)  # the latest
    assert both.escalate_to() == ("S0ONCALL", "U0BOSS")
    assert both.may_approve_escalated("S0ONCALL", lambda user, principals: user in principals) is False  # not bank's
    assert s.decide("x@acme.test", "acme", None).break_glass_max_duration == timedelta(hours=2)


def test_a_rule_escalating_with_nobody_to_escalate_to_is_named_by_file_rule_and_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\nescalate_after = "1h"\n'
                    '[[rule]]\nname = "acme"\ntenants = ["acme"]\nescalate_to = ["jane"]\n'
                    '[[rule]]\nname = "ops"\ntenants = ["ops"]\nescalate_to = ["S0OPS"]\n')
    assert problems_with(POLICY_FILE=str(path)) == [
        f'POLICY_FILE {path}, rule 1 ("bank"), key escalate_after: escalates after 1h but names nobody to escalate '
        'to: add escalate_to = ["U012AB3CD", "S0ONCALL"] (or set ESCALATION_APPROVERS), or leave escalate_after out',
        f'POLICY_FILE {path}, rule 2 ("acme"), key escalate_to: "jane" is not a Slack user ID (U…/W…) or user-group '
        "ID (S…): copy a person's member ID from their profile (⋮ → Copy member ID)",
        f'POLICY_FILE {path}, rule 3 ("ops"), key escalate_to: names whom to escalate to but not when: add '
        'escalate_after, like escalate_after = "30m" (or set ESCALATE_AFTER), or leave escalate_to out',
    ]
    # With the environment's escalation, each rule takes the half it leaves out.
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\nescalate_after = "1h"\n'
                    '[[rule]]\nname = "ops"\ntenants = ["ops"]\nescalate_to = ["S0OPS"]\n')
    bank, ops = settings(POLICY_FILE=str(path), ESCALATE_AFTER="10m", ESCALATION_APPROVERS="U0BOSS",
                         PENDING_TIMEOUT="2h").policy.rules
    assert (bank.escalate_after, bank.escalate_to) == (timedelta(hours=1), ("U0BOSS",))
    assert (ops.escalate_after, ops.escalate_to) == (timedelta(minutes=10), ("S0OPS",))


def test_a_rule_allowing_break_glass_whose_cap_is_shorter_than_its_window_is_named(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\nbreak_glass = true\nmin_duration = "45m"\n')
    (problem,) = problems_with(POLICY_FILE=str(path))
    assert problem.startswith(f'POLICY_FILE {path}, rule 1 ("bank"), key min_duration: BREAK_GLASS_MAX_DURATION '
                              "(30m, from the environment: this rule sets no break_glass_max_duration) is shorter "
                              "than min_duration (45m)")


def test_a_short_break_glass_cap_all_from_the_environment_is_named_once(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[rule]]\nname = "bank"\ntenants = ["bank-*"]\n')
    found = problems_with(POLICY_FILE=str(path), BREAK_GLASS="true", MIN_DURATION="1h", DEFAULT_DURATION="1h")
    assert [p.split()[0] for p in found] == ["BREAK_GLASS_MAX_DURATION"]


def test_an_escalation_that_would_come_after_the_request_expired_is_refused() -> None:
    problems = problems_with(ESCALATE_AFTER="2h", ESCALATION_APPROVERS="U0BACKUP", PENDING_TIMEOUT="1h")
    assert problems == ["ESCALATE_AFTER (2h) is not shorter than PENDING_TIMEOUT (1h): a request would expire before "
                        "it escalates; escalate sooner, or let requests wait longer"]
    assert settings(ESCALATE_AFTER="30m", ESCALATION_APPROVERS="U0BACKUP", PENDING_TIMEOUT="1h").escalate_after
