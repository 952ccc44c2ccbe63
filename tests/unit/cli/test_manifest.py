"""``impersonation-bot manifest``: the package's Slack app manifest, with the host in every URL or in Socket Mode."""

from __future__ import annotations

import pytest

from bot.cli.check import MANIFEST, manifest_bot_scopes
from bot.cli.main import main
from bot.cli.manifest import render

SHIPPED = MANIFEST.read_text()


def test_the_host_goes_into_every_url() -> None:
    text = render(SHIPPED, host="bot.example.com")
    assert "YOUR-HOST" not in text
    urls = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith(("url:", "request_url:"))]
    assert urls == ["https://bot.example.com/slack/events"] * 3  # the command, interactivity, events
    assert "socket_mode_enabled: false" in text
    assert manifest_bot_scopes(text) == manifest_bot_scopes(SHIPPED)


def test_socket_mode_has_no_url_at_all() -> None:
    text = render(SHIPPED, socket_mode=True)
    assert "YOUR-HOST" not in text and "url:" not in text and "https://YOUR" not in text
    assert "socket_mode_enabled: true" in text and "socket_mode_enabled: false" not in text
    assert "command: /impersonate" in text and "bot_events:" in text  # all the rest stays
    assert manifest_bot_scopes(text) == manifest_bot_scopes(SHIPPED)


def test_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "--host", "https://bot.example.com/"]) == 0
    assert "https://bot.example.com/slack/events" in capsys.readouterr().out
    assert main(["manifest"]) == 0
    assert capsys.readouterr().out == SHIPPED
    with pytest.raises(SystemExit) as bad:
        main(["manifest", "--host", "bot.example.com/slack"])
    assert bad.value.code == 2 and "is not a host name" in capsys.readouterr().err
    with pytest.raises(SystemExit) as both:
        main(["manifest", "--host", "a.example.com", "--socket-mode"])
    assert both.value.code == 2
