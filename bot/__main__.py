"""``python -m bot``: the same as the ``impersonation-bot`` command (``bot.cli``)."""

import sys

from bot.cli.main import main

sys.exit(main())
