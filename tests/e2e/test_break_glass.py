"""Break-glass end to end (issue 26, part 1): where a rule allows it, ``--break-glass`` starts a session at once with
no approver, through the same activation, delivery and revocation as any, and alerts the approvals channel loudly;
an approver reviews it (**Looks right**) or ends it (**Stop and flag**: stopped and revoked at Descope); never the
requester. Refused: rules without it, a short reason, a window over the cap, more than the day's allowance. Where the
rule asks approvers for a second factor, the requester proves themselves first. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, GROUP_APPROVER, REQUESTER, TENANT, Stack
from bot.devtools.signing import view_submission_body
from bot.slack.views import ids
from tests.conftest import started_once

POLICY = f"""
[[rule]]
name = "on call"
targets = ["bg-*"]
approvers = ["{APPROVER}", "{GROUP_APPROVER}"]
break_glass = true
break_glass_max_duration = "20m"
break_glass_per_day = 2

[[rule]]
name = "proved on call"
targets = ["mfa-*"]
break_glass = true
approval_mfa = "totp"

[[rule]]
name = "never in a hurry"
targets = ["calm-*"]
"""
REASON = "checkout down for all EU customers, INC-2231"
ON_CALL = "C0ONCALL"  # BREAK_GLASS_CHANNEL: a copy of each alert


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def glass(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("break_glass")
    (folder / "policy.toml").write_text(POLICY)
    with started_once(request.param, folder, POLICY_FILE=str(folder / "policy.toml"), REMINDER_INTERVAL="1s",
                      MAX_PENDING_PER_REQUESTER="100", BREAK_GLASS_CHANNEL=ON_CALL) as s:
        s.slack.add_channel(ON_CALL, "on-call")
        yield s


def alert_of(s: Stack, request_id: str) -> str:
    """The ts of the request's alert in the approvals channel, once posted."""
    return s.slack.wait_for(lambda: next((ts for (ch, ts), m in list(s.slack.messages.items())
                                          if ch == APPROVAL_CHANNEL and not m.get("thread_ts")
                                          and f"`{request_id}`" in json.dumps(m)), None), message="the alert")


def break_glass(s: Stack, target: str, window: str = "15m", reason: str = REASON, user: str = REQUESTER) -> str:
    s.descope.add_user(target, tenants=[TENANT], name="Jane Doe")
    return s.command(f"{target} {window} --break-glass {reason}", user).text


def test_a_break_glass_session_starts_at_once_and_the_channel_is_alerted(glass: Stack) -> None:
    s = glass
    answer = break_glass(s, "bg-ann@acme.com")
    assert "Break-glass" in answer and "starting now, with no approver" in answer, answer
    request_id = answer.split("`")[1]
    ts = alert_of(s, request_id)
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM: the token without an approver")
    text = s.approval_text(ts)
    assert "<!here>" in text and f"<@{REQUESTER}>" in text and "bg-ann@acme.com" in text and REASON in text
    assert "Window: 15m" in text
    s.slack.wait_for(lambda: "Break-glass by" in s.approval_text(ts) and "active until" in s.approval_text(ts),
                     message="the alert showing the running session")
    buttons = [e["action_id"] for b in (s.slack.message(APPROVAL_CHANNEL, ts) or {}).get("blocks", [])
               if b.get("type") == "actions" for e in b["elements"]]
    assert buttons == [ids.BREAK_GLASS_REVIEW, ids.BREAK_GLASS_FLAG]
    # Nobody approves a break-glass: Approve is not on it, and a crafted one decides nothing.
    assert s.click(ids.APPROVE, request_id, APPROVER, ts).status == 200
    assert "does not belong" in s.ephemeral_after_click()
    # The requester may not review their own.
    assert s.click(ids.BREAK_GLASS_REVIEW, request_id, REQUESTER, ts).status == 200
    assert "cannot review your own" in s.ephemeral_after_click()
    assert s.click(ids.BREAK_GLASS_REVIEW, request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: f"Reviewed by <@{APPROVER}>" in s.approval_text(ts), message="the review")
    assert s.click(ids.BREAK_GLASS_FLAG, request_id, GROUP_APPROVER, ts).status == 200
    assert "already reviewed" in s.ephemeral_after_click()


def test_stop_and_flag_ends_the_session_at_once(glass: Stack) -> None:
    s = glass
    request_id = break_glass(s, "bg-bea@acme.com").split("`")[1]
    ts = alert_of(s, request_id)
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    token = next(c.body for c in s.descope.calls_to(IMPERSONATE) if c.body.get("loginId") == "bg-bea@acme.com")
    assert token["impersonatorId"] == f"{REQUESTER.lower()}@corp.example"
    assert s.click(ids.BREAK_GLASS_FLAG, request_id, GROUP_APPROVER, ts).status == 200
    s.slack.wait_for(lambda: f"Stopped and flagged by <@{GROUP_APPROVER}>" in s.approval_text(ts), message="flag")
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), message="the session stopped")
    assert s.descope.calls_to(STOP_IMPERSONATION) and s.descope.calls_to(LOGOUT)


@pytest.mark.parametrize(("command", "says"), [
    ("calm-cai@acme.com 15m --break-glass " + REASON, "Break-glass is not allowed"),
    ("bg-dee@acme.com 15m --break-glass too short", "at least 15 characters"),
    ("bg-eve@acme.com 45m --break-glass " + REASON, "at most 20m"),
    ("bg-fay@acme.com 15m --break-glass=yes " + REASON, "Unknown option"),
])
def test_refusals_start_nothing(glass: Stack, command: str, says: str) -> None:
    s = glass
    s.descope.add_user(command.split()[0], tenants=[TENANT])
    target = command.split()[0]
    answer = s.command(command).text
    assert says in answer, answer
    assert not any(c.body.get("loginId") == target for c in s.descope.calls_to(IMPERSONATE))
    assert not any(target in json.dumps(c.params) for c in s.slack.calls_of("chat.postMessage"))


def test_the_days_allowance_is_counted_per_requester(glass: Stack) -> None:
    s = glass
    requester = GROUP_APPROVER  # a requester of its own for this test: two a day under the rule
    first = break_glass(s, "bg-gus@acme.com", user=requester)
    second = break_glass(s, "bg-hal@acme.com", user=requester)
    assert "starting now" in first and "starting now" in second
    third = break_glass(s, "bg-ida@acme.com", user=requester)
    assert "2 break-glass sessions in the past 24 hours" in third and "next is allowed at" in third, third


def test_a_rule_asking_a_second_factor_makes_the_requester_prove_themselves_first(glass: Stack) -> None:
    s = glass
    s.descope.enroll_totp(f"{REQUESTER.lower()}@corp.example")
    opened = len(s.slack.views)
    answer = break_glass(s, "mfa-jan@acme.com")
    assert "prove it is you first" in answer, answer
    request_id = answer.split("`")[1]
    s.slack.wait_for(lambda: len(s.slack.views) > opened, message="the code modal")
    assert s.slack.views[opened]["callback_id"] == ids.CODE_MODAL
    assert not any(c.body.get("loginId") == "mfa-jan@acme.com" for c in s.descope.calls_to(IMPERSONATE))
    code = s.descope.totp_code(f"{REQUESTER.lower()}@corp.example")
    view = s.slack.views[opened]
    reply = s.bot.post(view_submission_body(view, {ids.CODE_INPUT: code}, user_id=REQUESTER,
                                            view_id=f"V{opened + 1}"))
    assert reply.status == 200
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session, once proved")


def thread(s: Stack, parent: str) -> str:
    return "\n".join(s.slack.message_text(ch, ts) for (ch, ts), m in list(s.slack.messages.items())
                     if ch == APPROVAL_CHANNEL and m.get("thread_ts") == parent)


def test_the_alert_is_copied_to_the_on_call_channel_reminded_until_reviewed_and_reviewable_from_the_copy(
        glass: Stack) -> None:
    s = glass
    request_id = break_glass(s, "bg-kim@acme.com", window="2s", user=APPROVER).split("`")[1]
    ts = alert_of(s, request_id)
    copy = s.slack.wait_for(lambda: next((t for (ch, t), m in list(s.slack.messages.items())
                                          if ch == ON_CALL and f"`{request_id}`" in json.dumps(m)), None),
                            message="the alert's copy in BREAK_GLASS_CHANNEL")
    assert "<!here>" in s.slack.message_text(ON_CALL, copy)
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), message="the 2s session ended")
    # Reminded in the thread after it ended, until someone reviews it.
    s.slack.wait_for(lambda: "has not been reviewed yet" in thread(s, ts), timeout=10, message="a review reminder")
    last = thread(s, ts).split("reminder:")[-1]  # its requester (an approver too) is never asked to review
    assert f"<@{GROUP_APPROVER}>" in last and f"<@{APPROVER}>" not in last
    assert s.click(ids.BREAK_GLASS_REVIEW, request_id, GROUP_APPROVER, copy, channel_id=ON_CALL).status == 200
    s.slack.wait_for(lambda: f"Reviewed by <@{GROUP_APPROVER}>" in s.approval_text(ts),
                     message="the review, on the alert")
    s.slack.wait_for(lambda: f"Reviewed by <@{GROUP_APPROVER}>" in s.slack.message_text(ON_CALL, copy),
                     message="the review, on the copy")
    reminders = thread(s, ts).count("has not been reviewed yet")
    s.slack.wait_for(lambda: "reviewed by" in thread(s, ts), message="the review in the thread")
    assert thread(s, ts).count("has not been reviewed yet") == reminders  # no more once reviewed



def test_the_request_form_offers_an_emergency_that_starts_at_once(glass: Stack) -> None:
    s = glass
    s.descope.add_user("bg-lea@acme.com", tenants=[TENANT])
    opened = len(s.slack.views)
    assert s.command("", user_id=APPROVER).status == 200  # the empty command opens the form
    s.slack.wait_for(lambda: len(s.slack.views) > opened, message="the form")
    form = s.slack.views[opened]
    assert ids.FORM_EMERGENCY_BLOCK in json.dumps(form)
    answers = {ids.FORM_LOGIN_ID: "bg-lea@acme.com", ids.FORM_WINDOW: "15m", ids.FORM_REASON: "too short",
               ids.FORM_EMERGENCY: "yes"}
    reply = s.bot.post(view_submission_body(form, answers, user_id=APPROVER))
    assert reply.json["response_action"] == "errors"
    assert "at least 15 characters" in reply.json["errors"][ids.FORM_REASON_BLOCK]
    reply = s.bot.post(view_submission_body(form, {**answers, ids.FORM_REASON: REASON}, user_id=APPROVER))
    assert reply.json["response_action"] == "update" and "starting now" in json.dumps(reply.json["view"]), reply.json
