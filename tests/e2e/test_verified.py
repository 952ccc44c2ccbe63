"""Verified approvals end to end (issue 25): where a rule asks approvers for a second factor, the Approve click opens
a code modal and counts nothing; a code Descope accepts, whose session the bot checks itself and closes, makes the
approval count, and the channel says how it was verified. Wrong codes, a forged answer, Descope out of reach, the
lock-out after five wrong codes, an emailed code and a new one, Show token behind a code, and Deny without one.
The real bot against the stand-ins (which verify TOTP and mail codes as Descope does); SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools import FakeDescope
from bot.devtools.descope_api import OTP_SIGNIN_EMAIL, OTP_VERIFY_EMAIL, TOTP_VERIFY
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, GROUP_APPROVER, REQUESTER, TENANT, Reply, Stack
from bot.devtools.signing import app_home_opened_body, home_action_body, view_submission_body
from bot.slack.views import ids
from tests.conftest import started_once

POLICY = """
[[rule]]
name = "authenticator"
targets = ["totp-*"]
approval_mfa = "totp"

[[rule]]
name = "two with codes"
targets = ["two-*"]
approvals = 2
approval_mfa = "totp"

[[rule]]
name = "emailed"
targets = ["mail-*"]
approval_mfa = "email"

[[rule]]
name = "shown behind a code"
targets = ["reveal-*"]
reveal_mfa = "totp"
"""

EMAIL = {user: f"{user.lower()}@corp.example" for user in (REQUESTER, APPROVER, GROUP_APPROVER)}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def verified(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("verified")
    (folder / "policy.toml").write_text(POLICY)
    with started_once(request.param, folder, POLICY_FILE=str(folder / "policy.toml"), REMINDER_INTERVAL="0",
                      MAX_PENDING_PER_REQUESTER="100") as s:
        for user in EMAIL.values():
            s.descope.enroll_totp(user)
        AUTHENTICATORS[id(s.descope)] = Authenticator(s.descope)
        yield s


class Authenticator:
    """The stand-in's time, moved a minute on before each good code: Descope refuses a 30-second step used before, and
    the tests' approvers type many codes."""

    def __init__(self, descope: FakeDescope) -> None:
        self.start, self.minutes = descope.clock(), 0
        descope.clock = lambda: self.start + 60 * self.minutes


AUTHENTICATORS: dict[int, Authenticator] = {}


def fresh_code(s: Stack, user: str) -> str:
    AUTHENTICATORS[id(s.descope)].minutes += 1
    return s.descope.totp_code(EMAIL[user])


def wrong_code(s: Stack, user: str) -> str:
    good = s.descope.totp_code(EMAIL[user])
    return f"{(int(good) + 1) % 1_000_000:06d}"


def submit(s: Stack, target: str, **kw: Any) -> tuple[str, str]:
    s.descope.add_user(target, tenants=[TENANT], name="Jane Doe")
    return s.submit(f"{target} 30m checking invoice SUP-123", **kw)


def open_modal(s: Stack, request_id: str, ts: str, user: str = APPROVER) -> int:
    """Click Approve as ``user``; the index of the code modal it opened (in ``slack.views``)."""
    opened = len(s.slack.views)
    assert s.click(ids.APPROVE, request_id, user, ts).status == 200
    s.slack.wait_for(lambda: len(s.slack.views) > opened, message="the code modal")
    view = s.slack.views[opened]
    assert view["callback_id"] == ids.CODE_MODAL
    return opened


def modal_text(s: Stack, index: int) -> str:
    return json.dumps(s.slack.views[index])


def type_code(s: Stack, index: int, code: str, user: str = APPROVER, *, settled: str | None = None) -> Reply:
    """Submit ``code`` in the modal at ``index``; once the bot has updated it (to a text holding ``settled``)."""
    view = s.slack.views[index]
    reply = s.bot.post(view_submission_body(view, {ids.CODE_INPUT: code}, user_id=user, view_id=f"V{index + 1}"))
    assert reply.status == 200, reply
    if settled is not None:
        s.slack.wait_for(lambda: settled in modal_text(s, index), message=f"the modal saying {settled!r}")
    return reply


def thread_lines(s: Stack, request_id: str) -> str:
    return "\n".join(s.slack.message_text(ch, ts) for (ch, ts), m in list(s.slack.messages.items())
                     if ch == APPROVAL_CHANNEL and m.get("thread_ts"))


def test_an_approval_counts_only_with_a_good_authenticator_code(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-ann@acme.com")
    assert "Verified: each approval needs an authenticator code" in s.approval_text(ts)
    verify_calls = len(s.descope.calls_to(TOTP_VERIFY))
    index = open_modal(s, request_id, ts)
    assert "6-digit code from your authenticator app" in modal_text(s, index)
    assert "Approved" not in s.approval_text(ts) and s.has_buttons(ts)  # the click alone counts nothing

    type_code(s, index, wrong_code(s, APPROVER), settled="did not accept")
    assert "4 more tries" in modal_text(s, index)
    assert s.has_buttons(ts) and "Approved" not in s.approval_text(ts)

    type_code(s, index, fresh_code(s, APPROVER), settled="your approval of")
    s.slack.wait_for(lambda: "Approved by" in s.approval_text(ts), message="the approval shown")
    assert f"Approved by <@{APPROVER}> \u00b7 authenticator code" in s.approval_text(ts)
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    # Descope verified the approver's own login (their Slack email), with the project ID alone as the bearer.
    calls = s.descope.calls_to(TOTP_VERIFY)[verify_calls:]
    assert [c.body["loginId"] for c in calls] == [EMAIL[APPROVER]] * 2
    assert all(c.headers.get("authorization") == f"Bearer {s.descope.project_id}" for c in calls)
    # The step-up session was only a proof: closed at Descope.
    assert s.descope.open_stepup_sessions() == []
    s.slack.wait_for(lambda: "authenticator code" in thread_lines(s, request_id), message="the thread line")


def test_a_code_that_is_not_six_digits_is_refused_in_the_field_and_descope_is_not_asked(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-bea@acme.com")
    index = open_modal(s, request_id, ts)
    before = len(s.descope.calls_to(TOTP_VERIFY))
    reply = type_code(s, index, "12ab56")
    assert reply.json == {"response_action": "errors",
                            "errors": {ids.CODE_BLOCK: "Type the 6 digits of the code, like 123456"}}
    assert len(s.descope.calls_to(TOTP_VERIFY)) == before


def test_deny_needs_no_code(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-cai@acme.com")
    opened = len(s.slack.views)
    assert s.click(ids.DENY, request_id, APPROVER, ts).status == 200
    s.slack.wait_for(lambda: "Denied by" in s.approval_text(ts), message="the denial")
    assert len(s.slack.views) == opened


@pytest.mark.parametrize("forgery", ["other_key", "wrong_sub", "alg_none"])
def test_a_forged_answer_counts_nothing_is_audited_and_the_channel_is_told(verified: Stack, forgery: str) -> None:
    s = verified
    request_id, ts = submit(s, f"totp-forged-{forgery.replace('_', '')}@acme.com")
    index = open_modal(s, request_id, ts)
    s.descope.forge_next_session(forgery)
    type_code(s, index, fresh_code(s, APPROVER), settled="failed the bot's checks")
    s.slack.wait_for(lambda: "network path" in thread_lines(s, request_id), message="the alarm in the thread")
    alarm = next(c for c in s.slack.calls_of("chat.postMessage") if "network path" in json.dumps(c.params))
    assert alarm.params.get("reply_broadcast") in (True, "true")  # shown in the channel too
    assert s.has_buttons(ts) and "Approved" not in s.approval_text(ts)
    assert s.descope.open_stepup_sessions() == []  # whatever answered, its session was closed


def test_descope_out_of_reach_counts_nothing_and_the_modal_says_try_again(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-dee@acme.com")
    index = open_modal(s, request_id, ts)
    s.descope.fail_next(TOTP_VERIFY, status=500)
    type_code(s, index, fresh_code(s, APPROVER), settled="Try again in a moment")
    assert ids.CODE_BLOCK in modal_text(s, index)  # the form is back for another try
    type_code(s, index, fresh_code(s, APPROVER), settled="your approval of")
    s.slack.wait_for(lambda: "Approved by" in s.approval_text(ts), message="the approval shown")


def test_five_wrong_codes_refuse_that_approver_on_the_request(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-eve@acme.com")
    index = open_modal(s, request_id, ts)
    for left in (4, 3, 2, 1):
        type_code(s, index, wrong_code(s, APPROVER), settled=f"{left} more tr")
    type_code(s, index, wrong_code(s, APPROVER), settled="Too many wrong codes")
    s.slack.wait_for(lambda: "5 wrong codes" in thread_lines(s, request_id), message="the lock-out in the thread")
    # Even the right code now: the click is refused, no modal opens.
    opened = len(s.slack.views)
    assert s.click(ids.APPROVE, request_id, APPROVER, ts).status == 200
    assert "Too many wrong codes" in s.ephemeral_after_click()
    assert len(s.slack.views) == opened
    # Another approver still may.
    index = open_modal(s, request_id, ts, GROUP_APPROVER)
    type_code(s, index, fresh_code(s, GROUP_APPROVER), GROUP_APPROVER, settled="your approval of")
    s.slack.wait_for(lambda: f"Approved by <@{GROUP_APPROVER}>" in s.approval_text(ts), message="the approval")


def test_two_approvals_each_verified(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "two-fay@acme.com")
    index = open_modal(s, request_id, ts)
    type_code(s, index, fresh_code(s, APPROVER), settled="your approval of")
    s.slack.wait_for(lambda: "1 of 2 approvals" in s.approval_text(ts), message="the tally")
    index = open_modal(s, request_id, ts, GROUP_APPROVER)
    type_code(s, index, fresh_code(s, GROUP_APPROVER), GROUP_APPROVER, settled="your approval of")
    s.slack.wait_for(lambda: "Approved by" in s.approval_text(ts), message="the approval")
    assert (f"<@{APPROVER}> \u00b7 authenticator code and <@{GROUP_APPROVER}> \u00b7 authenticator code"
            in s.approval_text(ts))


def test_an_emailed_code_and_no_second_one_moments_later(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "mail-gus@acme.com")
    index = open_modal(s, request_id, ts)
    s.slack.wait_for(lambda: "emailed to" in modal_text(s, index), message="where the code went")
    assert "u***@corp.example" in modal_text(s, index)
    first = s.descope.mailed_code(EMAIL[APPROVER])
    assert first is not None and [c.body for c in s.descope.calls_to(OTP_SIGNIN_EMAIL)][-1] == {
        "loginId": EMAIL[APPROVER]}
    # "Send a new code" at once: the one just mailed still works, so Descope is not asked again (a 30 s gap).
    mailed = len(s.descope.mailed(EMAIL[APPROVER]))
    modal = {**s.slack.views[index], "id": f"V{index + 1}"}
    assert s.bot.post(home_action_body(ids.CODE_RESEND, request_id, user_id=APPROVER, view=modal)).status == 200
    s.slack.wait_for(lambda: "less than 30 seconds ago" in modal_text(s, index), message="no new code yet")
    assert len(s.descope.mailed(EMAIL[APPROVER])) == mailed and ids.CODE_BLOCK in modal_text(s, index)
    type_code(s, index, first, settled="your approval of")
    s.slack.wait_for(lambda: "emailed code" in s.approval_text(ts), message="the approval, verified by email")
    assert s.descope.calls_to(OTP_VERIFY_EMAIL)[-1].body["loginId"] == EMAIL[APPROVER]


def test_show_token_behind_a_code(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "reveal-hal@acme.com")
    assert "before the token is shown" in s.approval_text(ts)
    assert s.click(ids.APPROVE, request_id, APPROVER, ts).status == 200  # this rule asks approvers for nothing
    dm = s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
    opened = len(s.slack.views)
    assert s.click(ids.SHOW_TOKEN, request_id, REQUESTER, dm, channel_id="D" + REQUESTER).status == 200
    s.slack.wait_for(lambda: len(s.slack.views) > opened, message="the code modal")
    assert s.slack.views[opened]["callback_id"] == ids.CODE_MODAL
    token = s.descope.active_tokens()[-1]
    assert token not in modal_text(s, opened)  # never before a good code
    type_code(s, opened, wrong_code(s, REQUESTER), REQUESTER, settled="did not accept")
    assert token not in modal_text(s, opened)
    type_code(s, opened, fresh_code(s, REQUESTER), REQUESTER, settled=token)
    assert s.slack.views[opened]["callback_id"] == ids.TOKEN_MODAL
    s.slack.wait_for(lambda: "token shown to" in thread_lines(s, request_id), message="the showing in the thread")
    assert "authenticator code" in thread_lines(s, request_id).split("token shown to")[1]


def test_the_home_approve_takes_the_same_path(verified: Stack) -> None:
    s = verified
    request_id, ts = submit(s, "totp-ida@acme.com")
    s.bot.post(app_home_opened_body(APPROVER))
    home = s.slack.wait_for(lambda: request_id in json.dumps(s.slack.homes.get(APPROVER) or {}) and
                            s.slack.homes[APPROVER], message="the approver's Home")
    opened = len(s.slack.views)
    assert s.bot.post(home_action_body(ids.HOME_APPROVE, request_id, user_id=APPROVER, view=home)).status == 200
    s.slack.wait_for(lambda: len(s.slack.views) > opened, message="the code modal")
    assert "Approved" not in s.approval_text(ts)
    type_code(s, opened, fresh_code(s, APPROVER), settled="your approval of")
    s.slack.wait_for(lambda: "Approved by" in s.approval_text(ts), message="the approval")
