"""The holes an adversarial test found (issue 22), each closed end to end against the running bot, SQLite and
PostgreSQL: a tenant rule escaped by leaving out ``--tenant``; an approved request nobody could call off while it was
being activated; a revocation taken on faith; a stop that denied for someone who may not deny; an approvals channel
that refused the bot in silence; a requester who had lost the right still getting the session; hidden characters.
(Malformed payloads: ``test_malformed.py``; a crash during the impersonate call: ``test_reliability.py``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.devtools.descope_api import IMPERSONATE, LOGOUT, REFRESH, USER_LOAD
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GROUP_APPROVER,
    REQUESTER,
    ROOT,
    TARGET,
    TENANT,
    Stack,
)

StackFactory = Callable[..., Stack]

BANKER = "banker@bank.test"
BANK_POLICY = """
[[rule]]
name = "regulated tenants"
tenants = ["bank-*"]
approvals = 2
max_duration = "1h"
"""


def approval_posts(s: Stack) -> int:
    return len([c for c in s.slack.calls_of("chat.postMessage")
                if c.params.get("channel") == APPROVAL_CHANNEL and not c.params.get("thread_ts")])


def policy_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return str(path)


# -- 1. a tenant rule is not escaped by leaving out --tenant --------------------------------------------------


@pytest.fixture
def bank(make_stack: StackFactory, tmp_path: Path) -> Stack:
    s = make_stack(POLICY_FILE=policy_file(tmp_path, BANK_POLICY), REMINDER_INTERVAL="0")
    s.descope.add_user(BANKER, tenants=["bank-eu"], name="Banker")
    return s


def test_a_request_naming_no_tenant_is_held_to_the_rules_of_every_tenant_of_its_target(bank: Stack) -> None:
    s = bank
    before = approval_posts(s)
    named = s.command(f"{BANKER} 4h --tenant bank-eu settling a dispute")
    unnamed = s.command(f"{BANKER} 4h settling a dispute")
    for reply in (named, unnamed):  # the rule's 1h maximum, whether the tenant is named or not
        assert "the longest window allowed under the policy rule" in reply.text and "is 1h" in reply.text, reply
    assert approval_posts(s) == before

    request_id, ts = s.submit(f"{BANKER} 30m settling a dispute")  # within the rule: it needs its two approvals
    assert "regulated tenants" in s.approval_text(ts) and "2 approvals needed" in s.approval_text(ts)
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "1 of 2 approvals" in s.approval_text(ts), message="the tally")
    time.sleep(0.3)
    assert s.descope.calls_to(IMPERSONATE) == []  # one approval mints nothing
    s.click("approve", request_id, GROUP_APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    (call,) = s.descope.calls_to(IMPERSONATE)
    assert call.body["refreshDuration"] == 30 * 60 and call.body["selectedTenant"] is None


def test_a_rules_requesters_hold_for_a_request_naming_no_tenant(make_stack: StackFactory, tmp_path: Path) -> None:
    s = make_stack(POLICY_FILE=policy_file(tmp_path, BANK_POLICY + f'requesters = ["{APPROVER}"]\n'))
    s.descope.add_user(BANKER, tenants=["bank-eu"])
    before = approval_posts(s)
    for text in (f"{BANKER} 30m --tenant bank-eu a look", f"{BANKER} 30m a look"):
        reply = s.command(text)
        assert "does not allow you to request impersonation" in reply.text, reply
    assert approval_posts(s) == before


def test_with_the_targets_tenants_unknown_a_request_naming_none_is_refused(bank: Stack) -> None:
    s = bank
    s.descope.set_latency(USER_LOAD, 2.5)  # longer than the pre-flight waits: the target cannot be verified
    before = approval_posts(s)
    reply = s.command(f"{BANKER} 30m settling a dispute")
    assert "cannot be decided" in reply.text and "--tenant" in reply.text and "try again" in reply.text, reply
    named = s.command(f"{BANKER} 30m --tenant bank-eu settling a dispute")  # named: decided, marked unverified
    assert "is waiting for 2 approvers" in named.text, named
    s.descope.set_latency(USER_LOAD, 0)
    s.slack.wait_for(lambda: approval_posts(s) == before + 1, message="only the named request is posted")


def test_the_policy_command_shows_the_same_decision(bank: Stack, tmp_path: Path) -> None:
    s = bank
    env = {**os.environ, **{k: v for k, v in s.bot.env.items() if k.startswith(("DESCOPE_", "POLICY_", "APPROVERS",
                                                                                 "REQUESTERS", "MIN_", "MAX_"))}}
    done = subprocess.run([sys.executable, "-m", "bot", "policy", BANKER], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "its token would reach every tenant the user is in (bank-eu)" in done.stdout
    assert "approvals         2" in done.stdout and "max_duration      1h" in done.stdout
    env["DESCOPE_BASE_URI"] = "http://127.0.0.1:9"  # Descope unreachable: the decision fails closed
    done = subprocess.run([sys.executable, "-m", "bot", "policy", BANKER], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith(f"{BANKER} with no tenant: refused."), done


# -- 2. a stop during the activation wins ----------------------------------------------------------------------


def test_a_stop_while_descope_makes_the_activation_wait_wins(stack: Stack) -> None:
    s = stack
    request_id, ts = s.submit()
    s.descope.set_latency(IMPERSONATE, 3.0)  # the call in flight: Descope takes its time (a put-off: test_rate_limits)
    s.click("approve", request_id, APPROVER, ts)
    s.descope.wait_for_call(IMPERSONATE)
    answer = s.command(f"stop {request_id}").text
    assert "try again" not in answer and request_id in answer, answer
    s.slack.wait_for(lambda: "called off" in s.approval_text(ts), timeout=15, message="called off")
    token = s.descope.wait_for(lambda: s.descope.minted[-1] if s.descope.minted else None, message="the mint")
    s.descope.wait_for(lambda: s.descope.is_revoked(token), message="the token revoked at once")
    assert s.descope.is_stopped(token) and s.descope.refresh(token) == 401
    assert s.session_dm(request_id) is None  # never delivered
    assert not any(token in text for _, _, text in s.slack.all_text_sent())
    s.slack.wait_for(lambda: any("called off" in dm for dm in s.dms()), message="the requester is told")


def test_a_stop_before_the_token_is_minted_mints_nothing(stack: Stack) -> None:
    s = stack
    request_id, ts = s.submit()
    s.slack.fail_next("users.info", status=500, retry_after=None, count=30)  # the requester's email: no answer yet
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for_call("users.info")
    answer = s.command(f"stop {request_id}", user_id=REQUESTER).text
    assert "try again" not in answer, answer
    s.slack.wait_for(lambda: "no token was handed over" in s.approval_text(ts), timeout=15, message="called off")
    time.sleep(0.5)
    assert s.descope.calls_to(IMPERSONATE) == [] and s.descope.minted == []


# -- 3. a revocation is never taken on faith --------------------------------------------------------------------


def test_a_logout_refused_for_another_reason_is_retried_until_the_token_is_revoked(stack: Stack) -> None:
    s = stack
    request_id, ts = s.submit()
    s.click("approve", request_id, APPROVER, ts)
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
    token = s.descope.minted[-1]
    gateway = {"errorCode": "E011003", "errorDescription": "Unauthorized", "errorMessage": "gateway said no"}
    s.descope.fail_next(LOGOUT, status=401, body=gateway, count=3)
    s.command(f"stop {request_id}")
    s.descope.wait_for(lambda: len(s.descope.calls_to(LOGOUT)) >= 2, timeout=15, message="the logout retried")
    assert s.descope.calls_to(REFRESH), "the bot asked whether the token still works"
    assert not s.descope.is_revoked(token) and "Session ended" not in s.approval_text(ts)
    s.slack.wait_for(lambda: any("may still work" in s.slack.message_text(ch, t)
                                 for (ch, t), m in list(s.slack.messages.items()) if m.get("thread_ts") == ts),
                     timeout=20, message="the channel hears the token is not revoked yet")
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), timeout=30, message="ended once revoked")
    assert s.descope.is_revoked(token) and s.descope.refresh(token) == 401


# -- 4. a stop is a deny only for those who may deny ------------------------------------------------------------


def test_a_stop_on_a_waiting_request_denies_only_for_its_rules_approvers(make_stack: StackFactory,
                                                                          tmp_path: Path) -> None:
    rule = f'[[rule]]\nname = "bank approvers"\ntenants = ["{TENANT}"]\napprovers = ["{GROUP_APPROVER}"]\n'
    s = make_stack(POLICY_FILE=policy_file(tmp_path, rule))
    request_id, ts = s.submit()
    refused = s.command(f"stop {request_id}", user_id=APPROVER).text  # in APPROVERS, not an approver of this rule
    assert "would deny it" in refused, refused
    time.sleep(0.3)
    assert "Waiting for a second admin" in s.approval_text(ts) and "Denied" not in s.approval_text(ts)
    assert "is denied" in s.command(f"stop {request_id}", user_id=GROUP_APPROVER).text
    s.slack.wait_for(lambda: f"Denied by <@{GROUP_APPROVER}>" in s.approval_text(ts), message="denied")


# -- 5. an approvals channel that refuses the bot ----------------------------------------------------------------


def test_the_requester_hears_at_once_when_the_approvals_channel_refuses_the_bot(stack: Stack) -> None:
    s = stack
    s.slack.add_channel(APPROVAL_CHANNEL, is_member=False)  # the bot was removed from the channel
    reply = s.command(f"{TARGET} 30m --tenant {TENANT} nobody can see this")
    assert reply.status == 200
    started = time.monotonic()
    s.slack.wait_for(lambda: any("No approver can see your request" in dm for dm in s.dms()), timeout=5,
                     message="the requester told within seconds")
    (told,) = [dm for dm in s.dms() if "No approver can see" in dm]
    assert "not_in_channel" in told and "invite" in told
    time.sleep(max(0.0, 5 - (time.monotonic() - started)))
    assert approval_posts(s) <= 3  # backing off (not every second, not every sweep)
    with urllib.request.urlopen(s.bot.url + "/metrics", timeout=5) as r:
        metrics = r.read().decode()
    assert 'impersonation_bot_approval_posts_refused_total{error="not_in_channel"}' in metrics
    s.slack.add_channel(APPROVAL_CHANNEL, is_member=True)  # invited again: the request reaches the approvers
    s.slack.wait_for(lambda: any(m.get("blocks") and ch == APPROVAL_CHANNEL and not m.get("thread_ts")
                                 for (ch, _), m in list(s.slack.messages.items())), timeout=20, message="posted")


# -- 6. the requester's right is checked again when an approval counts --------------------------------------


def test_a_requester_removed_meanwhile_gets_no_session(stack: Stack) -> None:
    s = stack
    request_id, ts = s.submit()
    s.bot.stop()
    s.bot.env["REQUESTERS"] = GROUP_APPROVER  # REQUESTER is no longer among them
    s.bot.restart()
    s.click("approve", request_id, APPROVER, ts)
    answer = s.ephemeral_after_click()
    assert "can no longer be approved" in answer and "may no longer ask" in answer, answer
    s.slack.wait_for(lambda: "Closed before approval" in s.approval_text(ts), message="closed")
    assert s.descope.calls_to(IMPERSONATE) == []
    s.slack.wait_for(lambda: any("closed before it could be approved" in dm for dm in s.dms()), message="told")


# -- 7. hidden characters --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "rtl\u202etset.tneilc@oec 30m checking",  # shows as rtlceo@client.test
    "jane\x00@acme.com 30m checking",
    f"{TARGET} 30m --tenant acme\x00-eu checking",
])
def test_a_login_or_tenant_id_with_hidden_characters_is_refused(stack: Stack, text: str) -> None:
    reply = stack.command(text)
    assert reply.status == 200 and "characters that do not show" in reply.text, reply
    assert "\u202e" not in reply.text and "\x00" not in reply.text
    assert "You have no requests" in stack.command("list").text  # nothing stored
    assert stack.descope.calls_but_probes(USER_LOAD) == [] and approval_posts(stack) == 0
    assert "Traceback" not in stack.bot.log()


def test_hidden_characters_never_reach_slack(stack: Stack) -> None:
    s = stack
    for typed in ("stop \u202eK7M2QX9A\x00", "jane@acme.com 5\u202emins checking", "list \u202e"):
        reply = s.command(typed)  # usage problems quote what was typed
        assert reply.status == 200 and not any(c in reply.text for c in "\x00\u202e"), reply
    s.descope.add_user("mallory@acme.com", tenants=[TENANT], name="Mallory \u202eMD\u202c Admin")
    request_id, ts = s.submit(f"mallory@acme.com 30m --tenant {TENANT} ticket\x00 SUP-1 \u202eesrever")
    text = s.approval_text(ts)
    assert "ticket SUP-1 esrever" in text and "Mallory MD Admin" in text
    for _, _, sent in s.slack.all_text_sent():
        assert not any(c in sent for c in "\x00\u202e\u202c"), sent
    assert "Traceback" not in s.bot.log() and request_id
