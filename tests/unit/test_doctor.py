"""The setup doctor's pure parts: the manifest's bot scopes, and the checklist as printed."""

from __future__ import annotations

from bot.doctor import MANIFEST, Check, manifest_bot_scopes, render

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
    assert manifest_bot_scopes(MANIFEST_TEXT) == ["commands", "chat:write", "users:read.email"]


def test_no_bot_scopes() -> None:
    assert manifest_bot_scopes("oauth_config:\n  scopes:\n    user:\n      - a\n") == []


def test_the_shipped_manifest() -> None:
    scopes = manifest_bot_scopes(MANIFEST.read_text())
    assert {"commands", "chat:write", "users:read.email", "usergroups:read", "channels:read"} <= set(scopes)


def test_render_marks_fixes_and_summary() -> None:
    out = render([
        Check("a", True, "Token accepted", "never shown"),
        Check("b", False, "Bot is not in C1", "invite it"),
        Check("c", None, "Descope not checked"),
    ])
    assert out.splitlines() == ["✓ Token accepted", "✗ Bot is not in C1 — invite it", "· Descope not checked", "",
                                "2 of 3 checks failed."]


def test_render_all_passed() -> None:
    assert render([Check("a", True, "fine")]).splitlines()[-1] == "All 1 checks passed."
