"""Security guards, each proved end to end where a user could reach it (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from bot.devtools.descope_api import IMPERSONATE
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    APPROVER_GROUP,
    GROUP_APPROVER,
    REQUESTER,
    ROOT,
    TARGET,
    TENANT,
    Stack,
)

StackFactory = Callable[..., Stack]


def _raw_database_text(database_url: str) -> str:
    """Every value of every row, as text, read straight from the database."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    out = []
    with engine.connect() as conn:
        for table in ("requests", "audit"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                out.append(" ".join(str(v) for v in row))
    engine.dispose()
    return "\n".join(out)


def _activate(s: Stack, text_: str | None = None) -> tuple[str, str, str]:
    request_id, ts = s.submit(text_) if text_ else s.submit()
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    token = s.descope.minted[-1]
    s.slack.wait_for(lambda: s.session_dm(request_id), message="session DM")
    return request_id, ts, token


def test_token_is_sealed_at_rest_and_wiped_after_stop(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    request_id, ts, token = _activate(s)
    signature = token.split(".")[2]
    raw = _raw_database_text(database_url)
    assert request_id in raw
    assert token not in raw and signature not in raw
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        for suffix in ("", "-wal"):
            if os.path.exists(path + suffix):
                with open(path + suffix, "rb") as f:
                    assert signature.encode() not in f.read()
    s.command(f"stop {request_id}")
    s.slack.wait_for(lambda: "stopped early" in s.approval_text(ts), message="stopped")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        sealed = conn.execute(text("SELECT token_sealed FROM requests WHERE id = :i"), {"i": request_id}).scalar()
    engine.dispose()
    assert sealed is None


def test_no_token_or_secret_in_debug_logs(make_stack: StackFactory) -> None:
    s = make_stack(LOG_LEVEL="DEBUG", MIN_DURATION="1s")
    request_id, ts = s.submit(f"{TARGET} 4s debugging the logs")
    s.click("approve", request_id, APPROVER, ts)
    token = s.descope.wait_for(lambda: s.descope.minted[-1] if s.descope.minted else None)
    assert s.show_token(request_id) == token  # the token passes through the bot once more: views.open
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), timeout=15, message="ended")
    log = s.bot.log()
    assert "DEBUG" in log and "slack_sdk" in log  # the libraries' debug output really was captured
    # httpx too: its request log of the impersonate call (the one that returned the token), which shows only at
    # DEBUG (at INFO, the default, it is off: its URLs name the people looked up).
    assert f"httpx: HTTP Request: POST {s.descope.url}{IMPERSONATE}" in log
    for secret in (token, token.split(".")[2], "xoxb-test-token", s.descope.management_key, "test-signing-secret"):
        assert secret not in log


def test_user_text_cannot_ping_mention_link_or_format(stack: Stack) -> None:
    reason = f"<!channel> <@{APPROVER}> *urgent* <https://evil.example|click me> &lt;b&gt;"
    _, ts = stack.submit(f"{TARGET} 10m --tenant acme-eu {reason}")
    message = stack.slack.message(APPROVAL_CHANNEL, ts)
    assert message is not None
    mrkdwn: list[str] = [str(message.get("text", ""))]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                mrkdwn.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks"))
    everything = "\n".join(mrkdwn)
    assert "<!channel>" not in everything
    assert f"<@{APPROVER}>" not in everything
    assert "<https://evil" not in everything and "*urgent*" not in everything
    assert "click me" in stack.approval_text(ts)  # the words survive, as plain text

    too_long = stack.command(f"{TARGET} 10m " + "x" * 3000)
    assert "keep it under 500" in too_long.text
    time.sleep(0.3)
    assert len([c for c in stack.slack.calls_of("chat.postMessage") if c.params.get("channel") == APPROVAL_CHANNEL
                and not c.params.get("thread_ts")]) == 1


def test_requests_and_clicks_only_count_where_they_belong(stack: Stack) -> None:
    other_team = stack.command(f"{TARGET} 10m from elsewhere", team_id="T9OTHER")
    assert "only serves the workspace" in other_team.text
    request_id, ts = stack.submit()
    # A click from another channel, or on another message, decides nothing.
    stack.click("approve", request_id, GROUP_APPROVER, ts, channel_id="C0ELSEWHERE")
    assert "only from the request's message in the approvals channel" in stack.ephemeral_after_click()
    # A click from another workspace (a shared channel) is refused, and the clicker is told why.
    stack.click("approve", request_id, APPROVER, ts, team_id="T9OTHER")
    assert "only serves the workspace" in stack.ephemeral_after_click()
    stack.click("approve", request_id, GROUP_APPROVER, "1699999999.000001")
    assert "does not belong" in stack.ephemeral_after_click()
    # Group membership is read from Slack at click time: someone dropped from the group is refused.
    stack.slack.add_group("SOPS1", [])
    stack.click("approve", request_id, GROUP_APPROVER, ts)
    assert "Only approvers" in stack.ephemeral_after_click()
    assert stack.has_buttons(ts)
    assert stack.descope.calls_to(IMPERSONATE) == []


def test_group_membership_is_cached_across_a_burst_of_clicks(make_stack: StackFactory) -> None:
    # Approvers only through the user group. The cache is per serving process: one process, so both clicks meet it.
    s = make_stack(APPROVERS=APPROVER_GROUP, WEB_CONCURRENCY="1")
    first, first_ts = s.submit()
    second, second_ts = s.submit(f"bob@acme.com 10m --tenant {TENANT} second look")
    s.click("approve", first, GROUP_APPROVER, first_ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(first_ts), message="first approved")
    s.click("deny", second, GROUP_APPROVER, second_ts)
    s.slack.wait_for(lambda: "Denied by" in s.approval_text(second_ts), message="second denied")
    # Both clicks needed the group's members; Slack was asked once (the cache lives GROUP_TTL, 60 s).
    assert [c.params.get("usergroup") for c in s.slack.calls_of("usergroups.users.list")] == [APPROVER_GROUP]


def test_policy_caps(make_stack: StackFactory) -> None:
    s = make_stack(MAX_PENDING_PER_REQUESTER="2")
    s.descope.add_user("carol@acme.com")
    s.submit(f"{TARGET} 10m first")
    again = s.command(f"{TARGET.upper()} 10m same target again")
    assert "already have request" in again.text
    s.submit("bob@acme.com 10m second")
    third = s.command("carol@acme.com 10m third")
    assert "already have 2 requests waiting" in third.text
    out_of_policy = s.command("dave@acme.com 9h too long")
    assert "longest window allowed is 4h" in out_of_policy.text and "1s to 4h" in out_of_policy.text


def test_policy_caps_hold_against_simultaneous_commands(make_stack: StackFactory) -> None:
    """The caps are checked in the transaction that stores the request: commands sent at the same moment
    cannot all slip under them."""
    s = make_stack(MAX_PENDING_PER_REQUESTER="2")
    for i in range(8):
        s.descope.add_user(f"user{i}@acme.com")

    def at_once(texts: list[str]) -> list[str]:
        with ThreadPoolExecutor(len(texts)) as pool:
            return [r.text for r in pool.map(s.command, texts)]

    same = at_once([f"{TARGET} 10m same target, try {i}" for i in range(8)])
    assert sum("is waiting for a second admin" in t for t in same) == 1
    assert sum("already have request" in t for t in same) == 7
    spread = at_once([f"user{i}@acme.com 10m different targets" for i in range(8)])
    assert sum("is waiting for a second admin" in t for t in spread) == 1  # one slot was left of the two
    assert sum("already have 2 requests waiting" in t for t in spread) == 7
    s.slack.wait_for(lambda: len([m for (ch, _), m in list(s.slack.messages.items())
                                  if ch == APPROVAL_CHANNEL and not m.get("thread_ts")]) == 2, message="2 posted")
    time.sleep(0.5)  # nothing more arrives
    assert len([m for (ch, _), m in list(s.slack.messages.items())
                if ch == APPROVAL_CHANNEL and not m.get("thread_ts")]) == 2


def test_audit_trail_in_thread_and_export(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    request_id, ts, _ = _activate(s)
    s.command(f"stop {request_id}")
    s.slack.wait_for(lambda: "stopped early" in s.approval_text(ts), message="stopped")
    thread = lambda: [c.params["text"] for c in s.slack.calls_of("chat.postMessage")  # noqa: E731
                      if c.params.get("thread_ts") == ts]
    s.slack.wait_for(lambda: any("session stopped" in t for t in thread()), message="thread complete")
    lines = thread()
    for needle in (f"approved by <@{APPROVER}>", "session started", f"stop requested by <@{REQUESTER}>",
                   "session stopped"):
        assert any(needle in line for line in lines), (needle, lines)

    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "bot", "audit", "--format", "csv", "--since", "1h"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    rows = [r for r in csv.DictReader(io.StringIO(out.stdout)) if r["request_id"] == request_id]
    assert [r["action"] for r in rows] == ["requested", "approved", "activated", "stop_requested", "stopped"]
    moved = json.loads(rows[1]["details"])  # the stream's event shape: the states moved between are in its details
    assert rows[1]["actor"] == APPROVER and (moved["from_state"], moved["to_state"]) == ("pending", "approved")
    assert {r["target"] for r in rows} == {TARGET} and all(r["id"].isdigit() for r in rows)
    assert rows[3]["actor"] == REQUESTER


def _audit_json(database_url: str, *args: str) -> list[dict[str, Any]]:
    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "bot", "audit", "--format", "json", *args],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert f"{len(rows)} audit entries" in out.stderr
    return rows


def test_audit_export_as_json_since_an_iso_time(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    started = datetime.now(UTC) - timedelta(seconds=1)
    stopped, ts, _ = _activate(s)
    s.command(f"stop {stopped}")
    s.slack.wait_for(lambda: "stopped early" in s.approval_text(ts), message="stopped")
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    denied, denied_ts = s.submit(f"bob@acme.com 10m --tenant {TENANT} second look")
    s.click("deny", denied, GROUP_APPROVER, denied_ts)
    s.slack.wait_for(lambda: "Denied by" in s.approval_text(denied_ts), message="denied")

    def trail(rows: list[dict[str, Any]], request_id: str) -> list[tuple[str, str, str | None, str]]:
        return [(r["action"], r["actor"], r["details"].get("from_state"), r["details"]["to_state"]) for r in rows
                if r["request_id"] == request_id]

    rows = _audit_json(database_url, "--since", started.strftime("%Y-%m-%dT%H:%M:%S"))  # naive ISO: UTC
    assert trail(rows, stopped) == [
        ("requested", REQUESTER, None, "pending"),
        ("approved", APPROVER, "pending", "approved"),
        ("activated", "system", "approved", "active"),
        ("stop_requested", REQUESTER, "active", "active"),
        ("stopped", REQUESTER, "active", "stopped"),
    ]
    assert trail(rows, denied) == [
        ("requested", REQUESTER, None, "pending"),
        ("denied", GROUP_APPROVER, "pending", "denied"),
    ]
    details = {r["action"]: r["details"] for r in rows if r["request_id"] == stopped}
    assert details["stopped"] == {"type": "ending", "reason": "stopped_early", "from_state": "active",
                                  "to_state": "stopped"}  # data, not a sentence
    assert details["activated"]["type"] == "activated" and "@" in details["activated"]["impersonator"]
    assert all(datetime.fromisoformat(r["time"]) >= started for r in rows)
    # --since really filters: from a moment between the two requests, only the second one's rows.
    later = _audit_json(database_url, "--since", between.isoformat())
    assert {r["request_id"] for r in later} == {denied}
    assert trail(later, denied) == trail(rows, denied)
    # --until too: up to that moment, only the first one's rows.
    earlier = _audit_json(database_url, "--since", started.isoformat(), "--until", between.isoformat())
    assert {r["request_id"] for r in earlier} == {stopped}


def test_bad_settings_stop_the_bot_at_start_naming_each_problem(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DESCOPE_"))}
    env.update({"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APPROVAL_CHANNEL": "#approvals",
                "APPROVERS": "U0GOOD,bo@corp.example", "DESCOPE_PROJECT_ID": "P2x"})
    env.pop("APPROVERS_UNUSED", None)
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    for needle in ("SLACK_SIGNING_SECRET", "SLACK_APPROVAL_CHANNEL must be a channel ID", "`bo@corp.example`",
                   "DESCOPE_MANAGEMENT_KEY is not set"):
        assert needle in result.stderr, result.stderr
