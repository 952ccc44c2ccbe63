"""Escalation end to end (issue 26, part 2): a request nobody answers within its rule's ``escalate_after`` is opened
to its ``escalate_to`` people (mentioned in its thread, shown on the approval message), who may then decide it and
not before; a request whose approvers are all deactivated in Slack escalates at once and says why; reminders leave
deactivated approvers out. SQLite and PostgreSQL, one bot per database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, OUTSIDER, TENANT, Stack
from bot.slack.views import ids
from tests.conftest import started_once

GONE = "UGONE1"  # an approver whose Slack account is deactivated
BACKUP = "UBACKUP1"  # the escalation approver

POLICY = f"""
[[rule]]
name = "escalates"
targets = ["late-*"]
approvers = ["{APPROVER}"]
escalate_after = "2s"
escalate_to = ["{OUTSIDER}"]

[[rule]]
name = "approver gone"
targets = ["gone-*"]
approvers = ["{GONE}"]
escalate_after = "1h"
escalate_to = ["{BACKUP}"]
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def escalating(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("escalation")
    (folder / "policy.toml").write_text(POLICY)
    with started_once(request.param, folder, POLICY_FILE=str(folder / "policy.toml"), REMINDER_INTERVAL="1s",
                      MAX_PENDING_PER_REQUESTER="100", PENDING_TIMEOUT="2h") as s:
        s.slack.add_user(GONE, "gone@corp.example", deleted=True)
        s.slack.add_user(BACKUP, "backup@corp.example")
        yield s


def submit(s: Stack, target: str) -> tuple[str, str]:
    s.descope.add_user(target, tenants=[TENANT])
    return s.submit(f"{target} 30m checking invoice SUP-123")


def thread(s: Stack, parent: str) -> str:
    """The request's thread (under its approval message ``parent``), every reply."""
    return "\n".join(s.slack.message_text(ch, ts) for (ch, ts), m in list(s.slack.messages.items())
                     if ch == APPROVAL_CHANNEL and m.get("thread_ts") == parent)


def test_nobody_answering_escalates_to_the_backup_who_may_then_approve(escalating: Stack) -> None:
    s = escalating
    request_id, ts = submit(s, "late-ann@acme.com")
    assert s.click(ids.APPROVE, request_id, OUTSIDER, ts).status == 200  # not yet theirs to decide
    assert "Only approvers can approve" in s.ephemeral_after_click()
    s.slack.wait_for(lambda: "Escalated to" in s.approval_text(ts), timeout=15, message="the escalation shown")
    assert f"Escalated to <@{OUTSIDER}>" in s.approval_text(ts)
    s.slack.wait_for(lambda: f"escalated: <@{OUTSIDER}> may now approve or deny this request (nobody answered "
                             "within 2s)" in thread(s, ts), message="the escalation in the thread")
    assert s.click(ids.APPROVE, request_id, OUTSIDER, ts).status == 200
    s.slack.wait_for(lambda: f"Approved by <@{OUTSIDER}>" in s.approval_text(ts), message="the backup's approval")
    assert thread(s, ts).count("escalated:") == 1  # once, whatever the sweeps and reminders since


def test_a_request_whose_approvers_are_all_deactivated_escalates_at_once_and_says_why(escalating: Stack) -> None:
    s = escalating
    request_id, ts = submit(s, "gone-bea@acme.com")
    s.slack.wait_for(lambda: "none of its approvers is active in Slack any more" in thread(s, ts), timeout=10,
                     message="the escalation, at once")
    assert f"Escalated to <@{BACKUP}>" in s.approval_text(ts)
    s.slack.wait_for(lambda: any("reminder:" in line and f"<@{BACKUP}>" in line for line in thread(s, ts).splitlines()),
                     timeout=10, message="a reminder to the backup")
    reminders = [line for line in thread(s, ts).splitlines() if "reminder:" in line]
    assert all(f"<@{GONE}>" not in line for line in reminders)  # never the deactivated approver
    assert s.click(ids.APPROVE, request_id, BACKUP, ts).status == 200
    s.slack.wait_for(lambda: f"Approved by <@{BACKUP}>" in s.approval_text(ts), message="the backup's approval")
