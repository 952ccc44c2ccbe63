"""The policy file end to end (issue 11, parts 1 and 2): the first matching rule decides a request; a rule's
refusals (``allow = false``, a requester it does not admit, a window out of its bounds) are answered at once and
never reach the approvers; its approvers are checked at click time; a rule needing N approvals keeps the request
pending, with its tally on the channel message, until N distinct approvers have approved; exactly once holds
under a storm of clicks. SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.devtools.descope_api import IMPERSONATE, USER_LOAD
from bot.devtools.harness import (
    APPROVER,
    APPROVER_GROUP,
    GROUP_APPROVER,
    OTHER_TARGET,
    REQUESTER,
    TARGET,
    TENANT,
    Stack,
)
from bot.domain import State
from bot.store import Store, make_engine

StackFactory = Callable[..., Stack]

POLICY = f"""
[[rule]]
name = "regulated tenants"
tenants = ["ACME-*"]
approvers = ["{APPROVER}", "{APPROVER_GROUP}"]
approvals = 2
max_duration = "1h"

[[rule]]
name = "bob's own approver"
targets = ["{OTHER_TARGET}"]
approvers = ["{GROUP_APPROVER}"]

[[rule]]
name = "our own staff"
targets = ["*@corp.example"]
allow = false

[[rule]]
name = "support only"
targets = ["*@restricted.example"]
requesters = ["{APPROVER}"]
"""


@pytest.fixture
def policed(make_stack: StackFactory, tmp_path: Path) -> Stack:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return make_stack(POLICY_FILE=str(path), REMINDER_INTERVAL="0")


@pytest.fixture
def db(database_url: str) -> Store:
    return Store(make_engine(database_url))


def posted_count(s: Stack) -> int:
    return len([c for c in s.slack.calls_of("chat.postMessage") if not c.params.get("thread_ts")])


def test_two_approvals_needed_the_tally_shows_and_the_second_approver_starts_the_session(policed: Stack) -> None:
    s = policed
    request_id, ts = s.submit(f"{TARGET} 30m --tenant {TENANT} checking invoice SUP-9")
    text = s.approval_text(ts)
    assert "Policy: regulated tenants · 2 approvals needed" in text
    assert "0 of 2 approvals" in text and s.has_buttons(ts)

    assert s.click("approve", request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: f"1 of 2 approvals: <@{APPROVER}>" in s.approval_text(ts), message="the tally")
    assert s.has_buttons(ts)  # still waiting: the buttons stay
    assert s.descope.calls_to(IMPERSONATE) == []

    s.click("approve", request_id, APPROVER, ts)  # the same approver again
    assert "You have already approved" in s.ephemeral_after_click()
    assert s.descope.calls_to(IMPERSONATE) == []

    s.click("approve", request_id, GROUP_APPROVER, ts)  # a second, distinct approver (through the group)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    assert f"Approved by <@{APPROVER}> and <@{GROUP_APPROVER}>" in s.approval_text(ts)
    assert len(s.descope.calls_to(IMPERSONATE)) == 1
    assert s.show_token(request_id) is not None
    thread = [s.slack.message_text(ch, t) for (ch, t), m in list(s.slack.messages.items())
              if m.get("thread_ts") == ts and t != ts]
    assert any("(1 of 2)" in line for line in thread)


def test_one_deny_denies_after_an_approval(policed: Stack) -> None:
    s = policed
    request_id, ts = s.submit(f"{TARGET} 30m --tenant {TENANT} one deny is enough")
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "1 of 2 approvals" in s.approval_text(ts), message="the tally")
    s.click("deny", request_id, GROUP_APPROVER, ts)
    s.slack.wait_for(lambda: f"Denied by <@{GROUP_APPROVER}>" in s.approval_text(ts), message="denied")
    assert not s.has_buttons(ts)
    assert s.descope.calls_to(IMPERSONATE) == []


def test_twenty_simultaneous_clicks_by_both_approvers_make_one_session(policed: Stack, db: Store) -> None:
    s = policed
    request_id, ts = s.submit(f"{TARGET} 30m --tenant {TENANT} the storm")
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def click(user: str) -> None:
        barrier.wait()
        statuses.append(s.click("approve", request_id, user, ts).status)

    threads = [threading.Thread(target=click, args=(APPROVER if i % 2 else GROUP_APPROVER,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    assert len(s.descope.calls_to(IMPERSONATE)) == 1
    ready = [m for (ch, _), m in list(s.slack.messages.items()) if ch == "D" + REQUESTER]
    assert len(ready) == 1  # one delivery
    request = db.get(request_id)
    assert request is not None and request.state is State.ACTIVE
    assert sorted(request.approved_by) == sorted([APPROVER, GROUP_APPROVER])
    approvals = [a for a in db.audit(request_id=request_id) if a.action in ("approval", "approved")]
    assert [a.action for a in approvals] == ["approval", "approved"]


def test_a_forbidden_target_is_refused_at_once_and_never_reaches_the_approvers(policed: Stack, db: Store) -> None:
    s = policed
    before = posted_count(s)
    reply = s.command(f"{APPROVER.lower()}@corp.example 30m just looking")
    assert reply.status == 200
    assert "Nobody may impersonate" in reply.text and "our own staff" in reply.text
    assert s.descope.calls_but_probes(USER_LOAD) == [] and s.descope.calls_to(IMPERSONATE) == []
    assert posted_count(s) == before
    refused = [a for a in db.audit() if a.action == "refused"]
    assert len(refused) == 1 and "forbidden" in (refused[0].detail or "")  # the audit keeps the attempt


def test_a_requester_the_rule_does_not_admit_is_refused(policed: Stack) -> None:
    s = policed
    before = posted_count(s)
    reply = s.command("amy@restricted.example 30m please")
    assert "The policy rule \u201csupport only\u201d does not allow you" in reply.text
    assert posted_count(s) == before and s.descope.calls_but_probes(USER_LOAD) == []
    s.descope.add_user("amy@restricted.example")
    _, ts = s.submit("amy@restricted.example 30m allowed for this one", user_id=APPROVER)  # the rule's requester
    assert "Policy: support only" in s.approval_text(ts)


def test_a_window_beyond_the_rules_maximum_is_refused_but_the_environment_allows_it_elsewhere(policed: Stack) -> None:
    s = policed
    before = posted_count(s)
    reply = s.command(f"{TARGET} 2h --tenant {TENANT} long job")
    assert "the longest window allowed under the policy rule \u201cregulated tenants\u201d is 1h" in reply.text
    # Naming no tenant does not escape it: the token would reach the target's tenant all the same (issue 22).
    reply = s.command(f"{TARGET} 2h long job, no tenant")
    assert "the policy rule \u201cdefault + regulated tenants\u201d is 1h" in reply.text
    assert posted_count(s) == before
    s.descope.add_user("solo@acme.com")  # in no tenant: no rule matches, the environment's 4h
    _, ts = s.submit("solo@acme.com 2h long job, no tenant")
    assert "Policy:" not in s.approval_text(ts)


def test_approvers_are_the_rules_at_click_time(policed: Stack) -> None:
    s = policed
    s.descope.add_user(OTHER_TARGET)  # in no tenant: the rule matching bob alone decides
    request_id, ts = s.submit(f"{OTHER_TARGET} 30m bob's turn")
    assert "Policy: bob's own approver · 1 approval needed" in s.approval_text(ts)
    s.click("approve", request_id, APPROVER, ts)  # an approver by the environment, not by this rule
    assert "Only approvers can approve" in s.ephemeral_after_click()
    assert s.descope.calls_to(IMPERSONATE) == []
    s.click("approve", request_id, GROUP_APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
