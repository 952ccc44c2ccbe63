"""The Slack app manifest (``manifest.yml`` beside this module, package data; ``slack-app-manifest.yml`` at the
repository's root is a copy): where it is, the bot scopes it asks for (what ``check`` compares the token's with, and
what the Slack stand-in grants), and the manifest rendered for a deployment (``impersonation-bot manifest``)."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

MANIFEST = Path(str(files("bot.slack") / "manifest.yml"))
PLACEHOLDER = "YOUR-HOST"
#: The header's lines on what to change by hand (replaced by what was done).
_HOW = re.compile(r"(?m)^# Replace YOUR-HOST[^\n]*\n(?:#[^\n]*\n)*?# For Socket Mode[^\n]*\n")
_URL_LINE = re.compile(r"^\s*(?:url|request_url): https://YOUR-HOST/slack/events\s*$")


def bot_scopes(text: str) -> list[str]:
    """``oauth_config.scopes.bot`` of a Slack app manifest in YAML (block style, as ours is written)."""
    path = ("oauth_config", "scopes", "bot")
    stack: list[tuple[int, str]] = []  # (indent, key) of the mappings we are inside
    scopes: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        while stack and stack[-1][0] >= indent and not (body.startswith("- ") and stack[-1][0] == indent):
            stack.pop()
        if body.startswith("- "):
            if tuple(k for _, k in stack) == path:
                scopes.append(body[2:].strip().strip("'\""))
            continue
        key, sep, _ = body.partition(":")
        if sep:
            stack.append((indent, key.strip()))
    return scopes


def render(manifest: str, *, host: str | None = None, socket_mode: bool = False) -> str:
    """The manifest with ``host`` in every URL, or in Socket Mode without URLs (the shipped text when neither)."""
    if socket_mode:
        text = "".join(line for line in manifest.splitlines(keepends=True) if not _URL_LINE.match(line))
        text = text.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
        return _HOW.sub("# Socket Mode: the bot connects out with an app-level token (SLACK_APP_TOKEN).\n", text)
    if host is not None:
        text = _HOW.sub(f"# HTTP mode: Slack sends every request to https://{host}/slack/events.\n", manifest)
        return text.replace(PLACEHOLDER, host)
    return manifest
