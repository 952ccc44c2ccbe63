"""Settings: read from the environment once, validated as a whole, typed, secrets hidden.

``settings_from_env(env)`` collects *every* problem before failing, so one start tells an operator all that is
wrong (``ConfigError`` lists each variable by name). Tests build ``Settings`` directly. Secrets are wrapped in
``Secret``: ``repr`` and ``str`` show ``**********``; ``.get()`` reveals.

    settings   Settings, Secret, ConfigError, the ID shapes (users, groups)
    reader     Reader: each variable parsed and checked; settings_from_env, all of them
    parts      the parts a command needs alone: database_url_from_env (migrate, audit), retention_from_env,
               logging_from_env, policy_from_env, descope_from_env and proxied_from_env (policy)
    policy_file  POLICY_FILE (the TOML rules) read and checked: read_policy, environment_rule
"""

from bot.config.parts import (
    database_url_from_env,
    descope_from_env,
    logging_from_env,
    policy_from_env,
    proxied_from_env,
    retention_from_env,
)
from bot.config.policy_file import read_policy
from bot.config.reader import settings_from_env
from bot.config.settings import (
    DATABASE_DEFAULT,
    SLACK_API_DEFAULT,
    ConfigError,
    Secret,
    Settings,
    is_group_id,
    is_user_id,
)
from bot.domain.policy import environment_rule

__all__ = ["DATABASE_DEFAULT", "SLACK_API_DEFAULT", "ConfigError", "Secret", "Settings", "database_url_from_env",
           "descope_from_env", "environment_rule", "is_group_id", "is_user_id", "logging_from_env", "policy_from_env",
           "proxied_from_env", "read_policy", "retention_from_env", "settings_from_env"]
