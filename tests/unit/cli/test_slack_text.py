"""Slack's markup read as a person reads it in Slack (the demo's transcript)."""

from __future__ import annotations

from datetime import datetime

from bot.cli.slack_text import readable, wrapped
from bot.slack.mrkdwn import code


def test_mentions_dates_links_and_marks_read_as_slack_shows_them() -> None:
    moment = datetime(2026, 12, 6, 9, 30).astimezone()
    text = (f":key: <@UREQ1> asked in <#C0APPROVE>, *approved* by <@UAPPR1|sam> until "
            f"<!date^{int(moment.timestamp())}^{{time}}|09:30 UTC>; see <https://example.com/x|the docs> "
            f"and {code('jane@acme.com')} &lt;ok&gt; <!subteam^S0ADMINS|@admins> :unknown_one:")
    assert readable(text, {"UREQ1": "Riley Chen", "UAPPR1": "Sam Ortiz"}, {"C0APPROVE": "approvals"}) == (
        "🔑 @Riley Chen asked in #approvals, approved by @Sam Ortiz until 09:30; see the docs and jane@acme.com "
        "<ok> @admins :unknown_one:")


def test_an_unknown_user_keeps_its_id_and_snake_case_is_not_a_mark() -> None:
    assert readable("<@U0NOBODY> set max_pending_per_requester", {}) == "@U0NOBODY set max_pending_per_requester"


def test_long_lines_wrap_without_losing_a_word() -> None:
    text = "word " * 50 + "\nsecond paragraph"
    lines = wrapped(text, 30)
    assert all(len(line) <= 30 for line in lines)
    assert " ".join(lines).split() == text.split()
