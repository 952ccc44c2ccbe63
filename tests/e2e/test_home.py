"""End to end: the App Home on the real process, over signed HTTP, against the fake Slack (which keeps each user's
Home as published) and the fake Descope. Each test runs on SQLite and on PostgreSQL.

Opening the Home tab (the ``app_home_opened`` event) publishes it; its buttons do what the channel message and the
command do, with the same checks; every Home that shows a request is republished when the request changes; a
click that does not come from the clicker's own Home of this bot decides nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    OTHER_TARGET,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    Reply,
    Stack,
)
from bot.devtools.signing import JSON, app_home_opened_body, home_action_body, sign

HOME_APPROVE, HOME_DENY, HOME_STOP, HOME_WITHDRAW = "home.approve", "home.deny", "home.stop", "home.withdraw"
HOME_EXTEND = "home.extend"


def published(s: Stack, user_id: str) -> int:
    return sum(1 for c in s.slack.calls_of("views.publish") if c.params.get("user_id") == user_id)


def open_home(s: Stack, user_id: str) -> dict[str, Any]:
    """``user_id`` opens the bot's Home tab: Slack sends the event; answers the Home the bot then publishes."""
    before = published(s, user_id)
    body = app_home_opened_body(user_id)
    reply = s.bot.post(body, sign(SIGNING_SECRET, body, content_type=JSON))
    assert reply.status == 200, reply
    s.slack.wait_for(lambda: published(s, user_id) > before, message=f"the Home of {user_id}")
    home = s.slack.home(user_id)
    assert home is not None
    return home


def click_home(s: Stack, action_id: str, request_id: str, user_id: str, view: dict[str, Any] | None = None) -> Reply:
    reply = s.bot.post(home_action_body(action_id, request_id, user_id=user_id, view=view or s.slack.home(user_id)
                                        or {}))
    assert (reply.status, reply.body) == (200, ""), reply  # acked at once
    return reply


def buttons(s: Stack, user_id: str) -> list[tuple[str, str]]:
    home = s.slack.home(user_id) or {}
    return [(e["action_id"], e["value"]) for b in home.get("blocks") or []
            for e in ([b["accessory"]] if "accessory" in b else b.get("elements") or []) if e.get("type") == "button"]


def text(s: Stack, user_id: str) -> str:
    return json.dumps((s.slack.home(user_id) or {}).get("blocks") or [])


def wait_buttons(s: Stack, user_id: str, expected: list[tuple[str, str]]) -> None:
    s.slack.wait_for(lambda: buttons(s, user_id) == expected, message=f"{user_id}'s Home with {expected}")


def button(message: dict[str, Any] | None, action_id: str) -> dict[str, Any]:
    return next(e for b in (message or {}).get("blocks") or [] if b.get("type") == "actions"
                for e in b.get("elements") or [] if e.get("action_id") == action_id)


def test_a_requester_sees_their_request_and_withdraws_it_from_the_home(make_stack) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack()
    request_id, ts = s.submit()

    open_home(s, REQUESTER)
    assert buttons(s, REQUESTER) == [(HOME_WITHDRAW, request_id)]
    assert f"`{request_id}`" in text(s, REQUESTER) and "Waiting for a second admin" in text(s, REQUESTER)
    assert "Waiting for your approval" not in text(s, REQUESTER)  # not an approver: nothing of others

    click_home(s, HOME_WITHDRAW, request_id, REQUESTER)

    s.slack.wait_for(lambda: "Withdrawn by the requester" in s.approval_text(ts), message="channel: withdrawn")
    assert not s.has_buttons(ts)
    wait_buttons(s, REQUESTER, [])  # republished: nothing left to withdraw
    assert "Withdrawn by the requester" in text(s, REQUESTER)


def test_an_approver_approves_from_the_home_and_stops_the_session(make_stack) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack()
    request_id, ts = s.submit()
    own_id, own_ts = s.submit(f"{OTHER_TARGET} 10m my own ticket", user_id=APPROVER)
    open_home(s, REQUESTER)

    open_home(s, APPROVER)
    # Waiting for them: the requester's request, never their own (which they may only withdraw).
    assert buttons(s, APPROVER) == [(HOME_WITHDRAW, own_id), (HOME_APPROVE, request_id), (HOME_DENY, request_id)]
    home_approve = next(e for b in (s.slack.home(APPROVER) or {})["blocks"] if b.get("type") == "actions"
                        for e in b["elements"] if e["action_id"] == HOME_APPROVE)
    channel_approve = button(s.slack.message(APPROVAL_CHANNEL, ts), "approval.approve")
    assert home_approve["confirm"] == channel_approve["confirm"]  # the same "are you sure"

    click_home(s, HOME_APPROVE, request_id, APPROVER)

    call = s.descope.wait_for_call(IMPERSONATE)
    assert call.body["customClaims"] == {"impersonationRequest": request_id, "approvedBy": APPROVER,
                                         "requestedBy": REQUESTER}
    s.slack.wait_for(lambda: f"Approved by <@{APPROVER}>: active until" in s.approval_text(ts),
                     message="the channel message follows")
    assert not s.has_buttons(ts)
    s.slack.wait_for(lambda: s.session_dm(request_id), message="the requester's session DM")
    # Both Homes republished: the session with Stop (the approver's own request still waits for someone else).
    wait_buttons(s, REQUESTER, [(HOME_STOP, request_id), (HOME_EXTEND, request_id)])  # theirs: Extend too
    wait_buttons(s, APPROVER, [(HOME_WITHDRAW, own_id), (HOME_STOP, request_id)])
    assert "Nothing is waiting for you" in text(s, APPROVER)
    assert s.has_buttons(own_ts)

    click_home(s, HOME_STOP, request_id, APPROVER)

    stop = s.descope.wait_for_call(STOP_IMPERSONATION)
    assert stop.body["jwt"] == s.descope.minted[0]
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ts), message="channel: session ended")
    assert f"stopped early by <@{APPROVER}>" in s.approval_text(ts)
    wait_buttons(s, REQUESTER, [])
    wait_buttons(s, APPROVER, [(HOME_WITHDRAW, own_id)])
    assert len(s.descope.calls_to(IMPERSONATE)) == 1


def test_a_click_claiming_a_home_that_is_not_the_bots_decides_nothing(make_stack) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack()
    request_id, ts = s.submit()
    home = open_home(s, APPROVER)
    foreign = [{**home, "bot_id": "BOTHER"}, {**home, "app_id": "AOTHER"}, {**home, "private_metadata": OUTSIDER}]
    calls = len(s.slack.calls)

    for view in foreign:
        click_home(s, HOME_APPROVE, request_id, APPROVER, view=view)

    s.slack.wait_for(lambda: s.bot.log().count("outside their own Home") == len(foreign),
                     message="each click logged and dropped")
    time.sleep(0.3)
    assert s.descope.calls_to(IMPERSONATE) == []
    assert s.has_buttons(ts) and "Waiting for a second admin" in s.approval_text(ts)
    # Nothing decided, posted or said. (The sync that posted the approval message may still republish the Home it
    # now knows was opened, unchanged: that is no answer to these clicks.)
    later = s.slack.calls[calls:]
    assert [c.method for c in later if c.method not in ("views.publish", "usergroups.users.list")] == []
    assert all(c.params["view"]["blocks"][0]["type"] == "header" for c in later if c.method == "views.publish")
    assert buttons(s, APPROVER) == [(HOME_APPROVE, request_id), (HOME_DENY, request_id)]

    click_home(s, HOME_APPROVE, request_id, APPROVER)  # the genuine Home still works
    s.slack.wait_for(lambda: f"Approved by <@{APPROVER}>: active until" in s.approval_text(ts),
                     message="approved from the genuine Home")


def test_a_non_approvers_approve_from_a_home_is_refused(make_stack) -> None:  # type: ignore[no-untyped-def]
    s: Stack = make_stack()
    request_id, ts = s.submit()
    open_home(s, OUTSIDER)
    assert buttons(s, OUTSIDER) == [] and "Waiting for your approval" not in text(s, OUTSIDER)
    before = published(s, OUTSIDER)

    click_home(s, HOME_APPROVE, request_id, OUTSIDER)  # a button their Home never showed them

    s.slack.wait_for(lambda: published(s, OUTSIDER) > before, message="the outsider's Home, with the refusal")
    assert "Only approvers can approve or deny impersonation requests." in text(s, OUTSIDER)
    assert s.descope.calls_to(IMPERSONATE) == []
    assert s.has_buttons(ts) and "Waiting for a second admin" in s.approval_text(ts)
    assert s.dms(REQUESTER) == []
