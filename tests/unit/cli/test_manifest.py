"""``impersonation-bot manifest``: the package's Slack app manifest, with the host in every URL or in Socket Mode."""

from __future__ import annotations

import pytest

from bot.cli.main import main
from bot.slack.manifest import MANIFEST

SHIPPED = MANIFEST.read_text()


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
