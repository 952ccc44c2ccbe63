"""Reminders: while a request waits, a reply in its thread mentions the approvers (users as ``<@U…>``, groups as
``<!subteam^S…>``), after ``REMINDER_INTERVAL``, then twice that, four times …, until it is decided, withdrawn or
expires; exactly one reminder per due time, whatever the number of replicas. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.devtools.harness import APPROVER, APPROVER_GROUP, GROUP_APPROVER, Stack

StackFactory = Callable[..., Stack]


def reminders(s: Stack, ts: str) -> list[str]:
    return [str(c.params.get("text")) for c in s.slack.calls_of("chat.postMessage")
            if c.params.get("thread_ts") == ts and "reminder:" in str(c.params.get("text"))]


def test_reminders_double_and_stop_once_decided(make_stack: StackFactory) -> None:
    s = make_stack(REMINDER_INTERVAL="1s", PENDING_TIMEOUT="30s")
    started = time.monotonic()
    request_id, ts = s.submit()
    s.slack.wait_for(lambda: len(reminders(s, ts)) >= 2, timeout=10, message="two reminders")
    first = reminders(s, ts)[0]
    assert f"<@{APPROVER}>" in first and f"<!subteam^{APPROVER_GROUP}>" in first
    assert time.monotonic() - started >= 3.0 - 0.5  # at 1 s, then 2 s later: the interval doubles
    assert len(reminders(s, ts)) == 2
    s.click("approve", request_id, GROUP_APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="approved")
    time.sleep(max(0.0, started + 8.0 - time.monotonic()))  # past the third reminder's time (7 s)
    assert len(reminders(s, ts)) == 2


def test_no_reminders_when_off(make_stack: StackFactory) -> None:
    s = make_stack(REMINDER_INTERVAL="0", PENDING_TIMEOUT="3s")
    _, ts = s.submit()
    s.slack.wait_for(lambda: "Expired" in s.approval_text(ts), timeout=10, message="expired")
    assert reminders(s, ts) == []


def test_reminders_end_with_the_request(make_stack: StackFactory) -> None:
    s = make_stack(REMINDER_INTERVAL="2s", PENDING_TIMEOUT="4s")  # a reminder at 2 s; the next (6 s) is too late
    _, ts = s.submit()
    s.slack.wait_for(lambda: "Expired" in s.approval_text(ts), timeout=10, message="expired")
    time.sleep(3)
    assert len(reminders(s, ts)) == 1
