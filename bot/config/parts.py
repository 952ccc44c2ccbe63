"""The parts of the settings a command needs alone, each read and checked as ``settings_from_env`` reads it, without
the rest (which such a command does without): the database for ``migrate`` and ``audit``, the retention for
``audit``, the log settings for ``migrate``, the rules and Descope's credentials for ``policy``, the proxy for the
clients those commands make."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from bot.config.reader import DESCOPE_EXAMPLE, LOG_FORMATS, LOG_LEVELS, Reader, proxied
from bot.config.settings import ConfigError, Secret
from bot.config.settings import default as preset
from bot.domain.policy import Policy, Rule, environment_rule


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL`` alone, validated as ``settings_from_env`` does (for ``migrate`` and ``audit``)."""
    reader = Reader(os.environ if env is None else env)
    url = reader.database_url()
    if reader.problems:
        raise ConfigError(reader.problems, unset=reader.unset)
    return url


def retention_from_env(env: Mapping[str, str] | None = None) -> timedelta | None:
    """``RETENTION`` alone, validated as ``settings_from_env`` does (for ``audit``)."""
    reader = Reader(os.environ if env is None else env)
    retention = reader.retention()
    if reader.problems:
        raise ConfigError(reader.problems, unset=reader.unset)
    return retention


def logging_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``LOG_LEVEL`` and ``LOG_FORMAT`` alone, for the commands that log without the other settings (``migrate``); a
    value that is not one of theirs falls back to the default (the command's own work says what else is wrong)."""
    reader = Reader(os.environ if env is None else env)
    return (reader.choice("LOG_LEVEL", preset("log_level"), LOG_LEVELS),
            reader.choice("LOG_FORMAT", preset("log_format"), LOG_FORMATS))


def proxied_from_env(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names an HTTP proxy (``HTTPS_PROXY``, ``http_proxy``, ``ALL_PROXY`` …): the Descope
    client then sends through httpx's own transport, which honours it, instead of its kept connections."""
    return proxied(os.environ if env is None else env)


def descope_from_env(env: Mapping[str, str] | None = None) -> tuple[str, Secret, str | None] | None:
    """The Descope project ID, management key and base URI, when the ID and key are both set (for ``python -m bot
    policy``, which looks the target up with them); ``None`` when either is missing. Raises ``ConfigError`` for a bad
    base URI."""
    reader = Reader(os.environ if env is None else env)
    project_id, key = reader.raw("DESCOPE_PROJECT_ID"), reader.raw("DESCOPE_MANAGEMENT_KEY")
    base_uri = reader.http_url("DESCOPE_BASE_URI", DESCOPE_EXAMPLE)
    if reader.problems:
        raise ConfigError(reader.problems, unset=reader.unset)
    return (project_id, Secret(key), base_uri) if project_id and key else None


def policy_from_env(env: Mapping[str, str] | None = None) -> tuple[Policy, Rule]:
    """``POLICY_FILE``'s rules and the environment's rule (``APPROVERS``, ``REQUESTERS``, ``MIN_DURATION``,
    ``DEFAULT_DURATION``, ``MAX_DURATION``, ``APPROVAL_MFA``, ``REVEAL_MFA``, ``BREAK_GLASS``,
    ``BREAK_GLASS_MAX_DURATION``, ``BREAK_GLASS_PER_DAY``, ``ESCALATE_AFTER``, ``ESCALATION_APPROVERS``), validated
    as ``settings_from_env`` does, without the Slack or Descope settings (for ``python -m bot policy``). Raises
    ``ConfigError`` with every problem."""
    reader = Reader(os.environ if env is None else env)
    approvers, requesters = reader.approvers(), reader.principals("REQUESTERS", reader.raw("REQUESTERS"))
    window = reader.window()
    approval_mfa = reader.mfa("APPROVAL_MFA", preset("approval_mfa"))
    reveal_mfa = reader.mfa("REVEAL_MFA", preset("reveal_mfa"))
    break_glass, break_glass_max_duration, break_glass_per_day = reader.break_glass(window[0])
    escalate_after, escalate_to = reader.escalation()
    environment = environment_rule(approvers, requesters, window, approval_mfa=approval_mfa, reveal_mfa=reveal_mfa,
                                   break_glass=break_glass, break_glass_max_duration=break_glass_max_duration,
                                   break_glass_per_day=break_glass_per_day, escalate_after=escalate_after,
                                   escalate_to=escalate_to)
    policy = reader.policy(environment)
    if reader.problems:
        raise ConfigError(reader.problems, unset=reader.unset)
    return policy, environment
