"""``LOG_FORMAT=json`` on the real process: every line of the bot's output is one JSON object (time, level,
logger, message), the lines about a request carry its ID, and nothing secret (nor the target's login ID) is in
any of them."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.devtools.harness import APPROVER, Stack

StackFactory = Callable[..., Stack]


def test_json_logs_one_object_per_line_with_the_request(make_stack: StackFactory) -> None:
    s = make_stack(LOG_FORMAT="json", MIN_DURATION="1s")
    request_id, ts = s.submit("jane@acme.com 3s --tenant acme-eu json logs")
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), timeout=15, message="ended")
    lines = [line for line in s.bot.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    about = [r for r in records if r.get("request_id") == request_id]
    messages = " | ".join(r["message"] for r in about)
    for said in ("submitted", "approved by", "active until", "stopped"):
        assert said in messages, (said, messages)
    token = s.descope.minted[0]
    assert token not in s.bot.log() and "test-signing-secret" not in s.bot.log()
    # whom the session impersonated is in the audit, not in every log line of the calls made for it
    assert "jane@acme.com" not in s.bot.log() and "jane%40acme.com" not in s.bot.log()
