"""``impersonation-bot manifest [--host HOST] [--socket-mode]``: the Slack app manifest to paste at
https://api.slack.com/apps (Create New App → From a manifest), ready for this deployment.

``--host``: every URL points at ``https://HOST/slack/events`` (HTTP mode). ``--socket-mode``: Socket Mode on and no
URLs at all (the bot connects out; nothing public). Neither: the manifest as shipped, ``YOUR-HOST`` to replace. The
manifest is the package's own (``bot/slack/manifest.yml``), so what the bot checks (``check``) is what is printed.
"""

from __future__ import annotations

import argparse
import re

from bot.slack.manifest import MANIFEST, render

_HOST = re.compile(r"(?=.{1,253}(:\d{1,5})?$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    manifest = commands.add_parser(
        "manifest", help="print the Slack app manifest for this deployment",
        description="Print the Slack app manifest to paste at https://api.slack.com/apps (Create New App, From a "
                    "manifest): with --host, every URL on that host; with --socket-mode, Socket Mode and no URLs.")
    where = manifest.add_mutually_exclusive_group()
    where.add_argument("--host", type=_host, help="the public host that serves the bot, e.g. bot.example.com")
    where.add_argument("--socket-mode", action="store_true", help="Socket Mode: no public URL at all")


def _host(text: str) -> str:
    host = text.strip().removeprefix("https://").rstrip("/")
    if not _HOST.fullmatch(host):
        raise argparse.ArgumentTypeError(f"`{text}` is not a host name: give it like bot.example.com (no path)")
    return host


def run(args: argparse.Namespace) -> int:
    print(render(MANIFEST.read_text(), host=args.host, socket_mode=args.socket_mode), end="")
    return 0
