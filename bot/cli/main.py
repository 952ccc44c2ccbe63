"""``impersonation-bot [command]`` (alias ``python -m bot``): the parser, and the dispatch to the command's module.

Each command is a module of ``bot.cli`` with ``register(commands)`` (its parser: ``--help`` comes with it) and
``run(args)`` (its work and output; the exit status). No command: ``serve``. An unknown command or bad arguments:
argparse's usage line and exit 2, never a traceback. Each module imports what it needs when it runs, so
``--help`` and the small commands start fast.
"""

from __future__ import annotations

import argparse
from types import ModuleType

from bot.cli import audit, check, demo, manifest, migrate, policy, serve

COMMANDS: dict[str, ModuleType] = {"serve": serve, "migrate": migrate, "check": check, "policy": policy,
                                   "audit": audit, "demo": demo, "manifest": manifest}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="impersonation-bot",
                                  description="Slack bot for gated, time-boxed Descope impersonation.")
    commands = top.add_subparsers(dest="command", metavar="command", title="commands")
    for module in COMMANDS.values():
        module.register(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = COMMANDS[args.command or "serve"].run(args)
    return status
