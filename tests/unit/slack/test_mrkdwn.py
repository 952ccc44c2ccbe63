"""``bot.slack.mrkdwn``: what a person typed, made safe for Slack's mrkdwn; times in the reader's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.mrkdwn import code, escape, target, when
from tests.unit.factories import view


def test_escape() -> None:
    assert escape("a & <b> <!channel>") == "a &amp; &lt;b&gt; &lt;!channel&gt;"
    assert escape("plain") == "plain"


def test_when_renders_a_localised_date_with_utc_fallback() -> None:
    moment = datetime(2024, 5, 1, 14, 32, tzinfo=UTC)
    assert when(moment) == f"<!date^{int(moment.timestamp())}^{{time}}|14:32 UTC>"


def test_code_shows_text_literally_on_one_line() -> None:
    assert code("*bold* <!here>") == "`*bold* &lt;!here&gt;`"
    assert code("a`b\nc") == "`a'b c`"  # a backtick or a newline cannot end the code span


def test_target_is_the_login_id_and_tenant_as_code() -> None:
    assert target(view()) == "`jane@acme.com` (tenant `acme-eu`)"
    assert target(view(tenant=None)) == "`jane@acme.com`"
