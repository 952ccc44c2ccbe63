"""``impersonation-bot [command]`` (alias ``python -m bot``): the parser, and the dispatch to the command's module.

Each command is a module of ``bot.cli`` with ``register(commands)`` (its parser: ``--help`` comes with it) and
``run(args)`` (its work and output; the exit status). No command: ``serve``. An unknown command or bad arguments:
argparse's usage line and exit 2, never a traceback; Ctrl-C, exit 130 without one. Each module imports what it needs
when it runs, so ``--help`` and the small commands start fast."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from types import ModuleType

from bot.cli import audit, check, demo, manifest, migrate, policy, serve

INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C (128 + SIGINT)

COMMANDS: dict[str, ModuleType] = {"serve": serve, "migrate": migrate, "check": check, "policy": policy,
                                   "audit": audit, "demo": demo, "manifest": manifest}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="impersonation-bot",
                                  description="Slack bot for gated, time-boxed Descope impersonation.")
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = top.add_subparsers(dest="command", metavar="command", title="commands")
    for module in COMMANDS.values():
        module.register(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status: int = COMMANDS[args.command or "serve"].run(args)
    except KeyboardInterrupt:  # Ctrl-C before the bot serves (which winds down on its own): no traceback
        print(file=sys.stderr)
        return INTERRUPTED
    return status


def _version() -> str:
    try:
        return metadata.version("impersonation-bot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"
