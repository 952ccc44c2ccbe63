"""The audit stream's and the Descope watch's settings: ``AUDIT_WEBHOOK_URL`` with ``AUDIT_WEBHOOK_SECRET`` (both or
neither, the secret long enough and never shown), ``RECONCILE_INTERVAL`` (``0``: off; else at least a minute) and
``RECONCILE_LOOKBACK`` (at most 30 days)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.config import ConfigError, settings_from_env
from tests.unit.config.test_settings import MINIMAL, problems_with, settings

HOOK = "https://siem.example.com/intake/impersonation-bot"
HOOK_SECRET = "audit-hook-secret-5e1f9a"  # 24 characters
SHORT_SECRET = "hook-sec-7c2"  # 12 characters


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_env(env)
    return info.value.problems


def names(found: list[str]) -> set[str]:
    return {p.split()[0].rstrip(":") for p in found}


def test_the_defaults() -> None:
    s = settings()
    assert s.audit_webhook_url is None
    assert s.audit_webhook_secret is None
    assert s.reconcile_interval == timedelta(minutes=5)
    assert s.reconcile_lookback == timedelta(hours=24)


def test_good_values() -> None:
    s = settings(AUDIT_WEBHOOK_URL=f"  {HOOK} ", AUDIT_WEBHOOK_SECRET=f" {HOOK_SECRET} ", RECONCILE_INTERVAL="10m",
                 RECONCILE_LOOKBACK="168h")
    assert s.audit_webhook_url == HOOK
    assert s.audit_webhook_secret is not None and s.audit_webhook_secret.get() == HOOK_SECRET
    assert s.reconcile_interval == timedelta(minutes=10)
    assert s.reconcile_lookback == timedelta(days=7)


def test_blank_values_are_unset() -> None:
    s = settings(AUDIT_WEBHOOK_URL=" ", AUDIT_WEBHOOK_SECRET="", RECONCILE_INTERVAL="", RECONCILE_LOOKBACK=" ")
    assert (s.audit_webhook_url, s.audit_webhook_secret) == (None, None)
    assert (s.reconcile_interval, s.reconcile_lookback) == (timedelta(minutes=5), timedelta(hours=24))


@pytest.mark.parametrize("url", ["http://localhost:8080/audit", "http://127.0.0.1:4567/", "http://[::1]:9000/events"])
def test_plain_http_to_this_machine_is_accepted(url: str) -> None:
    assert settings(AUDIT_WEBHOOK_URL=url, AUDIT_WEBHOOK_SECRET=HOOK_SECRET).audit_webhook_url == url


@pytest.mark.parametrize("url", ["http://siem.example.com/intake", "http://10.0.0.5:8080/audit", "ftp://siem",
                                 "siem.example.com/intake", "https://", "not a url",
                                 "http://127.evil.example/audit"])  # a name that merely starts like a loopback
def test_any_other_url_is_refused(url: str) -> None:
    (problem,) = problems_with(AUDIT_WEBHOOK_URL=url, AUDIT_WEBHOOK_SECRET=HOOK_SECRET)
    assert problem.startswith("AUDIT_WEBHOOK_URL must be an https:// URL")
    assert "http:// only to localhost" in problem and "not shown: it may hold a secret" in problem
    assert f"`{url}`" not in problem  # the value itself is never echoed


def test_a_url_without_a_secret_names_both() -> None:
    (problem,) = problems_with(AUDIT_WEBHOOK_URL=HOOK)
    assert problem.startswith("AUDIT_WEBHOOK_URL is set but AUDIT_WEBHOOK_SECRET is not")
    assert "set AUDIT_WEBHOOK_SECRET" in problem and "or unset AUDIT_WEBHOOK_URL" in problem
    assert "at least 16 characters" in problem


def test_a_secret_without_a_url_is_a_problem() -> None:
    (problem,) = problems_with(AUDIT_WEBHOOK_SECRET=HOOK_SECRET)
    assert problem.startswith("AUDIT_WEBHOOK_SECRET is set but AUDIT_WEBHOOK_URL is not")
    assert "set AUDIT_WEBHOOK_URL, or unset AUDIT_WEBHOOK_SECRET" in problem
    assert HOOK_SECRET not in problem


@pytest.mark.parametrize("secret", [SHORT_SECRET, "x" * 15])
def test_a_short_secret_is_refused_without_being_shown(secret: str) -> None:
    (problem,) = problems_with(AUDIT_WEBHOOK_URL=HOOK, AUDIT_WEBHOOK_SECRET=secret)
    assert problem.startswith("AUDIT_WEBHOOK_SECRET is too short")
    assert "at least 16 characters" in problem
    assert secret not in problem


def test_a_secret_of_16_characters_is_enough() -> None:
    s = settings(AUDIT_WEBHOOK_URL=HOOK, AUDIT_WEBHOOK_SECRET="y" * 16)
    assert s.audit_webhook_secret is not None and s.audit_webhook_secret.get() == "y" * 16


def test_interval_0_turns_the_watch_off() -> None:
    assert settings(RECONCILE_INTERVAL="0").reconcile_interval == timedelta(0)
    assert settings(RECONCILE_INTERVAL="0", RECONCILE_LOOKBACK="720h").reconcile_lookback == timedelta(days=30)


@pytest.mark.parametrize("value", ["1m", "60s", "1h"])
def test_an_interval_of_a_minute_or_more_is_fine(value: str) -> None:
    assert settings(RECONCILE_INTERVAL=value).reconcile_interval >= timedelta(minutes=1)


@pytest.mark.parametrize(("value", "shown"), [("30s", "30s"), ("59s", "59s"), ("1s", "1s")])
def test_an_interval_shorter_than_a_minute_is_refused(value: str, shown: str) -> None:
    (problem,) = problems_with(RECONCILE_INTERVAL=value)
    assert problem.startswith(f"RECONCILE_INTERVAL ({shown}) is shorter than 1m")
    assert "0 to turn" in problem


def test_an_interval_that_is_not_a_duration_is_named() -> None:
    (problem,) = problems_with(RECONCILE_INTERVAL="often")
    assert problem.startswith("RECONCILE_INTERVAL: `often` is not a duration") and "or 0 to turn it off" in problem


@pytest.mark.parametrize("value", ["721h", "720h1s", "8000h"])
def test_a_lookback_longer_than_30_days_is_refused(value: str) -> None:
    (problem,) = problems_with(RECONCILE_LOOKBACK=value)
    assert problem.startswith("RECONCILE_LOOKBACK (")
    assert "at most 720h (30 days)" in problem


@pytest.mark.parametrize("value", ["30d", "0", "a while"])
def test_a_lookback_that_is_not_a_duration_is_named(value: str) -> None:
    (problem,) = problems_with(RECONCILE_LOOKBACK=value)
    assert problem.startswith(f"RECONCILE_LOOKBACK: `{value}`")


def test_every_problem_is_named_at_once_with_the_others() -> None:
    found = problems_with(AUDIT_WEBHOOK_URL="http://siem.example.com/intake", AUDIT_WEBHOOK_SECRET=SHORT_SECRET,
                          RECONCILE_INTERVAL="10s", RECONCILE_LOOKBACK="1000h", PORT="http")
    assert names(found) == {"AUDIT_WEBHOOK_URL", "AUDIT_WEBHOOK_SECRET", "RECONCILE_INTERVAL", "RECONCILE_LOOKBACK",
                            "PORT"}
    assert len(found) == 5
    assert not any(SHORT_SECRET in p for p in found)


def test_a_missing_secret_comes_with_the_other_problems() -> None:
    found = problems({**MINIMAL, "AUDIT_WEBHOOK_URL": HOOK, "RECONCILE_INTERVAL": "5s", "SLACK_BOT_TOKEN": ""})
    assert names(found) == {"AUDIT_WEBHOOK_URL", "RECONCILE_INTERVAL", "SLACK_BOT_TOKEN"}


@pytest.mark.parametrize("render", [repr, str, format, lambda s: f"{s}", lambda s: f"{s!r}"])
def test_the_secret_is_never_shown(render: Callable[[object], str]) -> None:
    s = settings(AUDIT_WEBHOOK_URL=HOOK, AUDIT_WEBHOOK_SECRET=HOOK_SECRET)
    text = render(s)
    assert HOOK_SECRET not in text
    assert HOOK not in text  # its path or query may hold a credential: not in the repr either
    assert HOOK_SECRET not in render(s.audit_webhook_secret)


def test_the_secret_is_redacted_from_logs() -> None:
    assert HOOK_SECRET in settings(AUDIT_WEBHOOK_URL=HOOK, AUDIT_WEBHOOK_SECRET=HOOK_SECRET).secrets()


def test_a_password_in_the_url_is_redacted_from_logs_too() -> None:
    url = "https://bot:intake-pass-3b7e@siem.example.com/intake"
    assert "intake-pass-3b7e" in settings(AUDIT_WEBHOOK_URL=url, AUDIT_WEBHOOK_SECRET=HOOK_SECRET).secrets()


@pytest.mark.parametrize("secret", [HOOK_SECRET, SHORT_SECRET])
def test_no_problem_ever_shows_the_secret(secret: str) -> None:
    for env in ({"AUDIT_WEBHOOK_SECRET": secret},
                {"AUDIT_WEBHOOK_SECRET": secret, "AUDIT_WEBHOOK_URL": "ftp://x"},
                {"AUDIT_WEBHOOK_SECRET": secret, "SLACK_BOT_TOKEN": ""}):
        with pytest.raises(ConfigError) as info:
            settings_from_env({**MINIMAL, **env})
        assert secret not in str(info.value)
        assert not any(secret in p for p in info.value.problems)
