"""``TOKEN_DELIVERY=reveal`` (the default): the token is never the text of a Slack message.

The requester's DM says the session is ready, with a **Show token** button; their click opens a modal
(``views.open`` with that click's ``trigger_id``) holding the token. Each showing is audited. Anyone else's
click, or a click once the session has ended, shows nothing. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, OUTSIDER, REQUESTER, ROOT, TARGET, TENANT, Stack

StackFactory = Callable[..., Stack]


def test_show_token_opens_a_modal_for_the_requester_only(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    request_id, ts = s.submit(f"{TARGET} 30m --tenant {TENANT} checking invoice SUP-200")
    s.click("approve", request_id, APPROVER, ts)
    dm_ts = s.slack.wait_for(lambda: s.session_dm(request_id), message="session DM")
    token = s.descope.minted[0]
    dm = s.slack.message_text("D" + REQUESTER, dm_ts)
    assert "Show token" in dm and TARGET in dm and "/impersonate stop" in dm and token not in dm

    # The requester's click: a modal with the token (preformatted) and the end time.
    assert s.show_token(request_id) == token
    modal = s.slack.views[-1]
    assert modal["type"] == "modal" and len(modal["title"]["text"]) <= 24
    assert "<!date^" in json.dumps(modal)  # the end time, in each reader's time zone
    opened = s.slack.calls_of("views.open")[-1]
    assert opened.params["trigger_id"]  # the click's own trigger

    # Anyone else (even an approver) gets no token; neither does a second look once it has ended.
    for other in (APPROVER, OUTSIDER):
        assert s.show_token(request_id, other) is None
        assert "Only the requester" in s.ephemeral_after_click()
    assert len(s.slack.views) == 1

    # Showing it is an audit event, also in the approval message's thread.
    s.slack.wait_for(lambda: any(f"token shown to <@{REQUESTER}>" in s.slack.message_text(ch, t)
                                 for (ch, t), m in list(s.slack.messages.items())
                                 if ch == APPROVAL_CHANNEL and m.get("thread_ts") == ts), message="thread line")
    out = subprocess.run([sys.executable, "-m", "bot", "audit", "--request", request_id], cwd=ROOT,
                         env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=60,
                         check=True)
    shown = [json.loads(line) for line in out.stdout.splitlines() if '"token_shown"' in line]
    assert len(shown) == 1 and shown[0]["actor"] == REQUESTER

    # The session ends: the DM is edited (no button any more), a late click is told it has ended.
    s.command(f"stop {request_id}")
    s.slack.wait_for(lambda: "stopped early" in s.approval_text(ts), message="stopped")
    s.slack.wait_for(lambda: s.session_dm(request_id) is None, message="button gone")
    assert "has ended" in s.slack.message_text("D" + REQUESTER, dm_ts)
    s.click("token.show", request_id, REQUESTER, dm_ts, channel_id="D" + REQUESTER)
    assert "has ended" in s.ephemeral_after_click()
    assert len(s.slack.views) == 1

    # The token never travelled in a message, a response URL or a log line.
    assert not [m for m, _, text in s.slack.all_text_sent() if token in text]
    assert token not in s.bot.log()


def test_reveal_is_exactly_once_under_simultaneous_approvals(stack: Stack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bot.devtools.signing import block_action_body

    request_id, ts = stack.submit()
    bodies = [block_action_body("approval.approve", request_id, user_id=APPROVER, channel_id=APPROVAL_CHANNEL,
                                message_ts=ts, response_url=stack.slack.response_url(f"race-{i}")) for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(lambda b: stack.bot.post(b).status, bodies)) == {200}
    stack.slack.wait_for(lambda: stack.session_dm(request_id), message="session DM")
    stack.slack.wait_for(lambda: "active until" in stack.approval_text(ts), message="active")
    assert len(stack.descope.minted) == 1
    assert len(stack.dms()) == 1  # one session DM
    assert stack.show_token(request_id) == stack.descope.minted[0]
