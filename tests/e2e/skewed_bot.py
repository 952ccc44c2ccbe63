"""A replica whose own clock runs ahead: ``python -m tests.e2e.skewed_bot SECONDS`` serves the real bot (its
settings from the environment, as ``impersonation-bot serve`` reads them) with its wall clock injected SECONDS ahead
(``Runtime(wall_clock=…)``). For ``test_replicas``: nothing in the bot's own settings can do this."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from bot.config import settings_from_env
from bot.server.logs import configure
from bot.server.runtime import Runtime
from bot.store import utcnow


def main() -> None:
    skew = timedelta(seconds=float(sys.argv[1]))
    settings = settings_from_env(os.environ)
    configure(settings.log_level, settings.secrets(), settings.log_format)
    Runtime(settings, wall_clock=lambda: utcnow() + skew).serve()


if __name__ == "__main__":
    main()
