"""The Slack app manifest the package ships: the bot scopes read from it, the copy at the repository's root, and the
manifest rendered for a host or for Socket Mode."""

from __future__ import annotations

from pathlib import Path

from bot.slack.manifest import MANIFEST, bot_scopes, render

SHIPPED = MANIFEST.read_text()

MANIFEST_TEXT = """\
display_information:
  name: Bot  # a comment
features:
  bot_user:
    display_name: impersonation-bot
oauth_config:
  redirect_urls:
    - https://example.com/
  scopes:
    user:
      - search:read
    bot:
      # why this one
      - commands
      - "chat:write"   # quoted, with a comment
      - users:read.email
settings:
  event_subscriptions:
    bot_events:
      - app_home_opened
"""


def test_reads_only_the_bot_scopes() -> None:
    assert bot_scopes(MANIFEST_TEXT) == ["commands", "chat:write", "users:read.email"]


def test_no_bot_scopes() -> None:
    assert bot_scopes("oauth_config:\n  scopes:\n    user:\n      - a\n") == []


def test_the_shipped_manifest() -> None:
    scopes = bot_scopes(MANIFEST.read_text())
    assert {"commands", "chat:write", "users:read.email", "usergroups:read", "channels:read"} <= set(scopes)



def test_the_host_goes_into_every_url() -> None:
    text = render(SHIPPED, host="bot.example.com")
    assert "YOUR-HOST" not in text
    urls = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith(("url:", "request_url:"))]
    assert urls == ["https://bot.example.com/slack/events"] * 3  # the command, interactivity, events
    assert "socket_mode_enabled: false" in text
    assert bot_scopes(text) == bot_scopes(SHIPPED)


def test_socket_mode_has_no_url_at_all() -> None:
    text = render(SHIPPED, socket_mode=True)
    assert "YOUR-HOST" not in text and "url:" not in text and "https://YOUR" not in text
    assert "socket_mode_enabled: true" in text and "socket_mode_enabled: false" not in text
    assert "command: /impersonate" in text and "bot_events:" in text  # all the rest stays
    assert bot_scopes(text) == bot_scopes(SHIPPED)


def test_the_manifest_at_the_root_is_the_one_the_package_ships() -> None:
    root = Path(__file__).resolve().parents[3] / "slack-app-manifest.yml"
    assert root.read_text() == MANIFEST.read_text(), "edit bot/slack/manifest.yml and copy it to the root"

