"""Show token (``TOKEN_DELIVERY=reveal``), in process against the fake Slack: the requester's click opens a
modal with the token; anyone else's, or a late one, shows nothing and says why."""

from __future__ import annotations

import time

from bot.devtools.harness import APPROVER, OUTSIDER, REQUESTER, modal_token
from bot.slack.views.ids import SHOW_TOKEN
from tests.unit.slack.listeners.conftest import InProcessBot


def _session(bot: InProcessBot) -> tuple[str, str]:
    """An active session: (request ID, ts of the requester's session DM)."""
    request_id, ts = bot.submit()
    bot.click("approval.approve", request_id, user_id=APPROVER, message_ts=ts)
    request = bot.request(request_id)
    dm = [t for (ch, t) in list(bot.slack.messages) if ch == "D" + REQUESTER]
    assert request.state == "active" and len(dm) == 1
    return request_id, dm[0]


def _show(bot: InProcessBot, request_id: str, dm_ts: str, user_id: str = REQUESTER, **kw: object) -> str:
    return bot.click(SHOW_TOKEN, request_id, user_id=user_id, message_ts=dm_ts, channel_id="D" + REQUESTER,
                     block_id=f"token:{request_id}", **kw)


def test_the_requesters_click_opens_the_token_modal_and_is_audited(bot: InProcessBot) -> None:
    request_id, dm_ts = _session(bot)
    key = _show(bot, request_id, dm_ts)
    [opened] = bot.slack.calls_of("views.open")
    [view] = bot.slack.views
    assert modal_token(view) == bot.descope.minted[0]
    assert view["callback_id"] == "token.modal" and opened.params["trigger_id"]
    assert bot.told(key) == []
    assert [e.actor for e in bot.store.audit(request_id=request_id) if e.action == "token_shown"] == [REQUESTER]
    assert bot.logged_errors() == []


def test_nobody_else_sees_the_token(bot: InProcessBot) -> None:
    request_id, dm_ts = _session(bot)
    for other in (APPROVER, OUTSIDER):
        key = _show(bot, request_id, dm_ts, user_id=other)
        assert [t["text"] for t in bot.told(key)] == [":warning: Only the requester can see this token."]
    assert bot.slack.views == [] and not [e for e in bot.store.audit(request_id=request_id)
                                          if e.action == "token_shown"]


def test_a_click_after_the_session_ended_is_told_so(bot: InProcessBot) -> None:
    request_id, dm_ts = _session(bot)
    bot.command(f"stop {request_id}")
    bot.workflows.ticker.tick(request_id)
    assert bot.request(request_id).state == "stopped"
    key = _show(bot, request_id, dm_ts)
    assert "has ended" in bot.told(key)[0]["text"] and bot.slack.views == []


def test_a_trigger_slack_no_longer_accepts_asks_for_another_click(bot: InProcessBot, monkeypatch: object) -> None:
    request_id, dm_ts = _session(bot)
    import bot.devtools.signing as signing

    real = signing._trigger_id
    signing._trigger_id = lambda: f"{int((time.time() - 10) * 1000)}.1.ab"  # issued 10 s ago: expired
    try:
        key = _show(bot, request_id, dm_ts)
    finally:
        signing._trigger_id = real
    assert "click *Show token* again" in bot.told(key)[0]["text"]
    # Nothing was shown; the attempt is on record all the same (recorded before the token leaves the bot).
    assert bot.slack.views == [] and [e.actor for e in bot.store.audit(request_id=request_id)
                                      if e.action == "token_shown"] == [REQUESTER]
