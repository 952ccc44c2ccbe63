"""End to end: the real bot over HTTP, signed like Slack, against fake Slack and Descope servers.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import time

import pytest

from bot.devtools import decode_claims
from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION, USER_LOAD
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GROUP_APPROVER,
    OUTSIDER,
    REQUESTER,
    TARGET,
    TENANT,
    Stack,
)
from bot.devtools.signing import sign, slash_command_body


@pytest.mark.parametrize("delivery", ["reveal", "dm"])
def test_request_approve_dm_and_timed_stop(make_stack, delivery: str) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack(TOKEN_DELIVERY=delivery)
    reply = s.command(f"<mailto:{TARGET}|{TARGET}> 3s --tenant {TENANT} checking invoice SUP-123")
    assert reply.status == 200
    assert reply.json["response_type"] == "ephemeral"
    request_id, ts = s.submit(f"{TARGET} 3s --tenant {TENANT} checking invoice SUP-124", user_id=APPROVER)
    first_id = reply.text.split("`")[1]
    assert first_id != request_id

    # The approval message says who asks, for whom, which tenant, how long, why; with buttons.
    posted = s.approval_text(ts)
    for part in (f"<@{APPROVER}>", TARGET, TENANT, "3s", "checking invoice SUP-124", request_id):
        assert part in posted
    assert s.has_buttons(ts)

    # A second admin (through the approvers' user group) approves.
    assert s.click("approve", request_id, GROUP_APPROVER, ts).status == 200
    call = s.descope.wait_for_call(IMPERSONATE)
    assert call.body["loginId"] == TARGET
    assert call.body["impersonatorId"] == f"{APPROVER.lower()}@corp.example"  # Slack profile email
    assert call.body["selectedTenant"] == TENANT
    assert call.body["validateConsent"] is True
    assert call.body["refreshDuration"] == 3
    assert call.body["customClaims"]["impersonationRequest"] == request_id
    assert call.body["customClaims"]["approvedBy"] == GROUP_APPROVER
    token = s.descope.wait_for(lambda: s.descope.minted[0] if s.descope.minted else None)  # recorded, then minted
    assert decode_claims(token)["dct"] == TENANT

    if delivery == "dm":
        # The token reaches the requester by DM, and only there.
        s.slack.wait_for(lambda: any(token in t for t in s.dms(APPROVER)), message="token DM")
    else:
        # The DM says the session is ready; Show token opens a modal with the token, for the requester alone.
        s.slack.wait_for(lambda: s.session_dm(request_id, APPROVER), message="session DM with Show token")
        assert s.show_token(request_id, APPROVER, owner=APPROVER) == token
        assert s.show_token(request_id, GROUP_APPROVER, owner=APPROVER) is None
        assert "Only the requester" in s.ephemeral_after_click()
    s.slack.wait_for(lambda: "active until" in s.approval_text(ts), message="channel says active")
    assert not s.has_buttons(ts)
    assert f"<@{GROUP_APPROVER}>" in s.approval_text(ts)
    assert s.descope.refresh(token) == 200  # alive while the window lasts

    # When the window ends: the stop call with that token, the token revoked, the DM redacted, the channel updated.
    stop = s.descope.wait_for_call(STOP_IMPERSONATION, timeout=15)
    assert stop.body["jwt"] == token
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), message="channel says ended")
    s.slack.wait_for(lambda: any("has ended" in t for t in s.dms(APPROVER)), message="ended DM")
    s.slack.wait_for(lambda: not any(token in t for t in s.dms(APPROVER)), message="token redacted")
    assert len(s.descope.calls_to(LOGOUT)) == 1  # revoked, or (its refreshDuration = the window) already expired
    assert s.descope.refresh(token) == 401
    assert len(s.descope.calls_to(IMPERSONATE)) == 1
    carrying = [(method, channel) for method, channel, text in s.slack.all_text_sent() if token in text]
    if delivery == "dm":  # the token left the bot once in a message: the edit that put it into the DM
        assert carrying == [("chat.update", f"D{APPROVER}")]
    else:  # never in a message: only in the modal
        assert carrying == []
        assert s.session_dm(request_id, APPROVER) is None  # the Show token button is gone
    assert token not in s.bot.log()


def no_session_asked(s: Stack) -> bool:
    """Descope was asked nothing but the pre-flight's look-up of the target: no token, no stop."""
    return {c.path for c in s.descope.calls_but_probes()} <= {USER_LOAD}


def test_a_reason_that_says_payload_is_a_request_like_any_other(stack: Stack) -> None:
    """Bolt's own reading of a form took any body holding the word "payload" for a click's, and a command whose text
    held it for an empty request (refused 400: Slack tells the user the command failed)."""
    request_id, ts = stack.submit(f"{TARGET} 30m the payload of SUP-7 fails to parse")
    assert "the payload of SUP-7 fails to parse" in stack.approval_text(ts) and request_id in stack.approval_text(ts)


def test_deny_calls_nothing_and_tells_the_requester(stack: Stack) -> None:
    request_id, ts = stack.submit()
    assert stack.click("deny", request_id, APPROVER, ts).status == 200
    stack.slack.wait_for(lambda: f"Denied by <@{APPROVER}>" in stack.approval_text(ts), message="denied")
    assert not stack.has_buttons(ts)
    stack.slack.wait_for(lambda: any("denied your request" in t for t in stack.dms()), message="DM")
    assert no_session_asked(stack)

    # A late click on a decided request changes nothing and says why.
    stack.click("approve", request_id, GROUP_APPROVER, ts)
    assert f"already denied by <@{APPROVER}>" in stack.ephemeral_after_click()
    assert no_session_asked(stack)


def test_self_approval_and_outsiders_are_refused(stack: Stack) -> None:
    request_id, ts = stack.submit(user_id=APPROVER)
    stack.click("approve", request_id, APPROVER, ts)
    assert "cannot approve or deny your own request" in stack.ephemeral_after_click()
    stack.click("deny", request_id, APPROVER, ts)
    assert "own request" in stack.ephemeral_after_click()
    stack.click("approve", request_id, OUTSIDER, ts)
    assert "Only approvers" in stack.ephemeral_after_click()
    stack.click("approve", request_id, REQUESTER, ts)
    assert "Only approvers" in stack.ephemeral_after_click()
    time.sleep(0.5)
    assert stack.has_buttons(ts)
    assert "Waiting for a second admin" in stack.approval_text(ts)
    assert no_session_asked(stack)


def test_outsider_cannot_request(stack: Stack) -> None:
    reply = stack.command(f"{TARGET} 10m testing", user_id=OUTSIDER)
    assert reply.status == 200
    assert "not allowed to request" in reply.text
    time.sleep(0.5)
    assert not stack.slack.calls_of("chat.postMessage")
    assert "no requests" in stack.command("list", user_id=OUTSIDER).text


def test_malformed_commands_get_usage_and_store_nothing(stack: Stack) -> None:
    cases = {
        f"{TARGET} 30m": "reason is required",
        f"{TARGET} 5h too long": "longest window allowed is 4h",
        f"{TARGET} 30m --tenant": "needs a tenant ID",
        f"{TARGET} --color red why": "Unknown option `--color`",
        f"{TARGET} 30x5 why": None,  # not a duration: part of the reason, so valid
        "stop": "takes one request ID",
        f"<@{OUTSIDER}|bob> 30m why": "not a Slack mention",
    }
    for text, expected in cases.items():
        if expected is None:
            continue
        reply = stack.command(text)
        assert reply.status == 200
        assert expected in reply.text, (text, reply.text)
        assert "Usage" in reply.text
        assert reply.json["response_type"] == "ephemeral"
    time.sleep(0.5)
    assert not stack.slack.calls_of("chat.postMessage")
    assert no_session_asked(stack)
    assert "You have no requests." in stack.command("list").text
    assert "Usage" in stack.command("help").text


def test_forged_and_stale_signatures_are_refused(stack: Stack) -> None:
    body = slash_command_body(f"{TARGET} 30m forged")
    assert stack.bot.post(body, headers=sign("wrong-secret", body)).status == 401
    stale = sign("test-signing-secret", body, timestamp=int(time.time()) - 600)
    assert stack.bot.post(body, headers=stale).status == 401
    assert stack.bot.post(body, headers={"Content-Type": "application/x-www-form-urlencoded"}).status == 401
    time.sleep(0.3)
    assert not stack.slack.calls_of("chat.postMessage")
    assert "You have no requests." in stack.command("list").text


def test_unanswered_request_expires(make_stack) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack(PENDING_TIMEOUT="2s")
    request_id, ts = s.submit()
    s.slack.wait_for(lambda: "Expired" in s.approval_text(ts), timeout=10, message="expired")
    assert not s.has_buttons(ts)
    s.slack.wait_for(lambda: any("expired" in t for t in s.dms()), message="requester told")
    s.click("approve", request_id, APPROVER, ts)
    assert "already expired" in s.ephemeral_after_click()
    assert no_session_asked(s)


def test_list_and_early_stop(stack: Stack) -> None:
    request_id, ts = stack.submit()
    stack.click("approve", request_id, APPROVER, ts)
    stack.slack.wait_for(lambda: "active until" in stack.approval_text(ts), message="active")
    listing = stack.command("list").text
    assert request_id in listing and "active" in listing
    approver_view = stack.command("list", user_id=APPROVER).text
    assert "Active sessions" in approver_view and request_id in approver_view

    # Outsiders can't stop it; the requester can.
    assert "Only the requester or an approver" in stack.command(f"stop {request_id}", user_id=OUTSIDER).text
    assert "Stopping session" in stack.command(f"stop {request_id.lower()}").text
    stop = stack.descope.wait_for_call(STOP_IMPERSONATION)
    assert stop.body["jwt"] == stack.descope.minted[0]
    stack.slack.wait_for(lambda: "stopped early" in stack.approval_text(ts), message="stopped early")
    stack.slack.wait_for(lambda: not any(stack.descope.minted[0] in t for t in stack.dms()), message="redacted")
    assert stack.descope.refresh(stack.descope.minted[0]) == 401  # revoked at Descope, not just stopped
    assert "is not active" in stack.command(f"stop {request_id}").text
    assert len(stack.descope.calls_to(STOP_IMPERSONATION)) == 1


def test_withdraw_pending_request(stack: Stack) -> None:
    request_id, ts = stack.submit()
    assert "withdrawn" in stack.command(f"stop {request_id}").text
    stack.slack.wait_for(lambda: "Withdrawn" in stack.approval_text(ts), message="withdrawn")
    assert not stack.has_buttons(ts)
    assert no_session_asked(stack)


def test_descope_refusal_fails_the_request_with_the_reason(stack: Stack) -> None:
    stack.descope.find_user(TARGET).consented = False  # type: ignore[union-attr]
    request_id, ts = stack.submit()
    stack.click("approve", request_id, APPROVER, ts)
    stack.slack.wait_for(lambda: "failed" in stack.approval_text(ts), message="failed")
    assert "Descope refused" in stack.approval_text(ts)
    stack.slack.wait_for(lambda: any("failed" in t for t in stack.dms()), message="requester told")
    assert not any("Impersonation token" in t for t in stack.dms())


def test_health_and_unknown_paths(stack: Stack) -> None:
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(stack.bot.url + "/healthz") as r:
        assert r.status == 200
    try:
        urllib.request.urlopen(stack.bot.url + "/nope")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    else:
        raise AssertionError("expected 404")
    assert APPROVAL_CHANNEL
