"""The expiry warning and extensions, end to end against the real process (issue 11, parts 3 and 4).

``EXPIRY_WARNING`` before a session ends, its requester gets a DM with the end time, **Extend** and **Stop now**
(none for a window shorter than twice the warning, none with ``0``). Extend opens the extension form; the form, the
App Home's Extend and ``/impersonate extend <id> [<duration>] <reason…>`` ask for more time. An extension is a
request of its own, posted to the approvals channel linked to its session and decided like any request; approved, a
new token (the old end plus the extension) is delivered first, and only then is the old session stopped and its
token revoked. Denied or unanswered, the session ends at its time. An extension approved while its session is
being stopped fails, and no token minted for it stays alive. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from bot.devtools.descope_api import IMPERSONATE, LOGOUT, STOP_IMPERSONATION, DescopeCall, decode_claims
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    OTHER_TARGET,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    TARGET,
    TENANT,
    Stack,
    request_id_of,
)
from bot.devtools.signing import JSON, app_home_opened_body, home_action_body, sign, view_submission_body
from bot.devtools.slack_api import SlackCall
from bot.domain import RequestView, State
from bot.slack.views import ids
from bot.store import Store, make_engine

StackFactory = Callable[..., Stack]

DM = "D" + REQUESTER
ENDED_BEFORE = "session {id} had ended before its extension could start, so nothing was granted"


# -- what the requester and the approvers see --------------------------------------------------------------------


def _buttons(message: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(e.get("action_id")), str(e.get("value"))) for b in (message or {}).get("blocks") or []
            if b.get("type") == "actions" for e in b.get("elements") or []]


def warning_dms(s: Stack, request_id: str) -> list[str]:
    """The ts of every expiry warning DM'd to the requester for ``request_id`` (each post is a message of its own)."""
    return [ts for (ch, ts), m in list(s.slack.messages.items())
            if ch == DM and (ids.EXTEND, request_id) in _buttons(m)]


def warning_posts(s: Stack, request_id: str) -> list[SlackCall]:
    return [c for c in s.slack.calls_of("chat.postMessage")
            if ids.EXTEND in json.dumps(c.params.get("blocks")) and request_id in json.dumps(c.params.get("blocks"))]


def dm_saying(s: Stack, words: str) -> str | None:
    """The text of the requester's first DM containing ``words``."""
    return next((t for t in s.dms() if words in t), None)


def end_stamp(text: str) -> int:
    """The epoch seconds of the first ``<!date^…>`` in ``text`` (how each reader sees an end time)."""
    found = re.search(r"<!date\^(\d+)\^", text)
    assert found, text
    return int(found.group(1))


def approval_messages(s: Stack) -> list[str]:
    return [t for (ch, t), m in list(s.slack.messages.items()) if ch == APPROVAL_CHANNEL and not m.get("thread_ts")]


def approval_message_of(s: Stack, request_id: str) -> str:
    """The ts of ``request_id``'s approval message, once posted."""
    ts: str = s.slack.wait_for(lambda: next((t for t in approval_messages(s)
                                              if request_id_of(s.slack.messages[(APPROVAL_CHANNEL, t)]) == request_id),
                                             None), message=f"the approval message of {request_id}")
    return ts


def stored(database_url: str, request_id: str) -> RequestView:
    engine = make_engine(database_url)
    try:
        found = Store(engine).get(request_id)
    finally:
        engine.dispose()
    assert found is not None, request_id
    return found


def stored_count(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        return len(Store(engine).list_requests(limit=100))
    finally:
        engine.dispose()


def stop_calls(s: Stack, token: str) -> list[DescopeCall]:
    return [c for c in s.descope.calls_to(STOP_IMPERSONATION) if c.body.get("jwt") == token and c.status == 200]


def logout_calls(s: Stack, token: str) -> list[DescopeCall]:
    return [c for c in s.descope.calls_to(LOGOUT) if token in c.headers.get("authorization", "") and c.status == 200]


def minted_for(s: Stack, request_id: str) -> list[str]:
    """The tokens the fake Descope minted for ``request_id`` (the bot names it in the custom claims)."""
    return [jwt for jwt in list(s.descope.minted)
            if (decode_claims(jwt).get("nsec") or {}).get("impersonationRequest") == request_id]


def wait_ended(s: Stack, ts: str) -> None:
    """Until the approval message at ``ts`` says its session's window ended."""
    s.slack.wait_for(lambda: "window ended" in s.approval_text(ts), timeout=8, message=f"the end of {ts}")


def wait_stopped_early_dm(s: Stack, request_id: str) -> None:
    """Until the requester is told that session ``request_id`` was stopped early."""
    s.slack.wait_for(lambda: any(f"Your impersonation `{request_id}` of " in t and "has ended: stopped early" in t
                                 for t in s.dms()), message="the outcome DM")


def wait_dead(s: Stack, token: str) -> None:
    """Until ``token`` is stopped at Descope and no longer refreshes (revoked, or expired at its window's end)."""
    s.slack.wait_for(lambda: s.descope.is_stopped(token) and s.descope.refresh(token) == 401, timeout=3,
                     message="the token stopped and dead")


def wait_revoked(s: Stack, token: str) -> None:
    s.slack.wait_for(lambda: s.descope.is_stopped(token) and s.descope.is_revoked(token), timeout=3,
                     message="the token stopped and revoked")


# -- driving the bot ---------------------------------------------------------------------------------------------


def running(s: Stack, window: str, login_id: str = TARGET) -> tuple[str, str, str, str]:
    """A session of ``window`` approved by APPROVER: (request ID, approval ts, its token, its ready DM's text)."""
    request_id, ts = s.submit(f"{login_id} {window} --tenant {TENANT} checking invoice SUP-123")
    s.click(ids.APPROVE, request_id, APPROVER, ts)
    dm_ts = s.slack.wait_for(lambda: s.session_dm(request_id), message=f"the session DM of {request_id}")
    token = s.show_token(request_id)
    assert token is not None and s.descope.refresh(token) == 200
    return request_id, ts, token, s.slack.message_text(DM, dm_ts)


def extend_by_command(s: Stack, text: str, user_id: str = REQUESTER) -> str:
    """``/impersonate extend …``: the ephemeral answer's text."""
    reply = s.command(f"extend {text}", user_id)
    assert reply.status == 200, reply
    assert reply.json.get("response_type") == "ephemeral", reply
    return reply.text


def extension_id(answer: str, session_id: str, more: str) -> str:
    found = re.match(rf":inbox_tray: Extension `(\w+)` asks for {more} more on session `{session_id}`", answer)
    assert found, answer
    return found.group(1)


def extend_modal(s: Stack, click: Callable[[], object]) -> dict[str, Any]:
    """Run ``click`` (an Extend somewhere): the modal it opened at once (while the session is checked), as it then
    became (``views.update``)."""
    opened, updated = len(s.slack.calls_of("views.open")), len(s.slack.calls_of("views.update"))
    click()
    first = s.slack.wait_for(lambda: next(iter(s.slack.calls_of("views.open")[opened:]), None), message="the modal")
    assert first.params["view"]["callback_id"] == ids.EXTEND_FORM  # opened before any look-up: the trigger lives 3 s
    call = s.slack.wait_for(lambda: next(iter(s.slack.calls_of("views.update")[updated:]), None),
                            message="the modal, once the session was checked")
    view: dict[str, Any] = call.params["view"]
    return view


def open_extension_form(s: Stack, click: Callable[[], object]) -> dict[str, Any]:
    """Run ``click`` (an Extend somewhere); the extension form it opened."""
    view = extend_modal(s, click)
    assert view["callback_id"] == ids.EXTEND_FORM, view
    return view


def submit_form(s: Stack, view: dict[str, Any], window: str | None, reason: str | None) -> dict[str, Any]:
    reply = s.bot.post(view_submission_body(view, {ids.EXTEND_WINDOW: window, ids.EXTEND_REASON: reason},
                                            user_id=REQUESTER))
    assert reply.status == 200, reply
    return reply.json


def open_home(s: Stack, user_id: str) -> dict[str, Any]:
    before = len([c for c in s.slack.calls_of("views.publish") if c.params.get("user_id") == user_id])
    body = app_home_opened_body(user_id)
    assert s.bot.post(body, sign(SIGNING_SECRET, body, content_type=JSON)).status == 200
    s.slack.wait_for(lambda: len([c for c in s.slack.calls_of("views.publish")
                                  if c.params.get("user_id") == user_id]) > before, message="the Home")
    home = s.slack.home(user_id)
    assert home is not None
    return home


# -- 1. the warning ----------------------------------------------------------------------------------------------


def test_the_warning_comes_once_before_the_end_with_extend_and_stop_now(make_stack: StackFactory,
                                                                          database_url: str) -> None:
    s = make_stack(EXPIRY_WARNING="2s")
    warned, warned_ts, _, ready = running(s, "6s")
    short, short_ts, _, _ = running(s, "3s", OTHER_TARGET)  # shorter than twice the warning: no warning

    dm_ts = s.slack.wait_for(lambda: next(iter(warning_dms(s, warned)), None), timeout=8, message="the warning")
    message = s.slack.messages[(DM, dm_ts)]
    text = s.slack.message_text(DM, dm_ts)
    assert _buttons(message) == [(ids.EXTEND, warned), (ids.STOP_NOW, warned)]
    assert f"`{warned}`" in text and TARGET in text and "Extend" in text and "Stop now" in text
    assert end_stamp(text) == end_stamp(ready)  # the session's end, in the reader's time zone
    ends_at = stored(database_url, warned).ends_at
    assert ends_at is not None
    [post] = warning_posts(s, warned)
    early = ends_at.timestamp() - post.at
    assert 2.0 - 1.1 <= early <= 2.0 + 0.1, early  # EXPIRY_WARNING before the end (a sweep's slack at most)

    for ts in (warned_ts, short_ts):
        wait_ended(s, ts)
    # Once the session has ended, its warning is edited: Extend and Stop now are gone.
    s.slack.wait_for(lambda: _buttons(s.slack.messages[(DM, dm_ts)]) == [], message="the warning's buttons gone")
    assert "has ended" in s.slack.message_text(DM, dm_ts)
    time.sleep(1.2)  # a sweep or so after the end: still one warning, and none for the short window
    assert len(warning_posts(s, warned)) == 1
    assert warning_dms(s, short) == [] and warning_posts(s, short) == []
    assert not [t for t in s.dms() if ":alarm_clock:" in t and short in t]


def test_no_warning_when_expiry_warning_is_off(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack(EXPIRY_WARNING="0")
    short, short_ts, _, _ = running(s, "4s")
    long, _, _, _ = running(s, "1h", OTHER_TARGET)  # would be warned 5 minutes (the default) before its end
    assert stored(database_url, long).state is State.ACTIVE
    wait_ended(s, short_ts)
    time.sleep(1.0)
    assert warning_dms(s, short) == [] and warning_dms(s, long) == []
    assert not [t for t in s.dms() if ":alarm_clock:" in t]
    engine = make_engine(database_url)
    try:
        row = Store(engine).get_row(long)
    finally:
        engine.dispose()
    assert row is not None and row.warn_at is None  # no warning due, ever


# -- 2. Stop now -------------------------------------------------------------------------------------------------


def test_stop_now_on_the_warning_ends_the_session(make_stack: StackFactory) -> None:
    s = make_stack(EXPIRY_WARNING="2s")
    request_id, ts, token, _ = running(s, "5s")
    dm_ts = s.slack.wait_for(lambda: next(iter(warning_dms(s, request_id)), None), timeout=6, message="the warning")
    assert not s.descope.is_stopped(token)

    clicked = time.time()
    assert s.click(ids.STOP_NOW, request_id, REQUESTER, dm_ts, channel_id=DM).status == 200
    answer = s.ephemeral_after_click()
    assert answer.startswith(f":stop_button: Stopping session `{request_id}`"), answer
    s.slack.wait_for(lambda: s.descope.is_stopped(token) and s.descope.is_revoked(token), timeout=3,
                     message="the token stopped and revoked")
    assert stop_calls(s, token)[0].at - clicked < 1.5  # at once, not at the window's end (3 s later)
    assert logout_calls(s, token)
    assert s.descope.refresh(token) == 401
    s.slack.wait_for(lambda: f"stopped early by <@{REQUESTER}>" in s.approval_text(ts), message="the channel")
    wait_stopped_early_dm(s, request_id)
    s.slack.wait_for(lambda: s.session_dm(request_id) is None, message="Show token gone")
    assert dm_saying(s, f":lock: Session `{request_id}`")  # the session DM, redacted

    # The warning's Extend, now that the session has ended: the modal says why, and offers no form.
    view = extend_modal(s, lambda: s.click(ids.EXTEND, request_id, REQUESTER, dm_ts, channel_id=DM))
    assert view["callback_id"] != ids.EXTEND_FORM and "submit" not in view
    assert f"Session `{request_id}` is not running" in json.dumps(view), view
    assert len(s.descope.minted) == 1


# -- 3. Extend on the warning: the form, the approval, the new token first ---------------------------------------


def test_extend_on_the_warning_asks_through_the_form_and_the_new_token_comes_before_the_old_one_ends(
        make_stack: StackFactory, database_url: str) -> None:
    s = make_stack(EXPIRY_WARNING="4s")
    old, old_ts, old_token, old_ready = running(s, "8s")
    dm_ts = s.slack.wait_for(lambda: next(iter(warning_dms(s, old)), None), timeout=8, message="the warning")

    view = open_extension_form(s, lambda: s.click(ids.EXTEND, old, REQUESTER, dm_ts, channel_id=DM))
    assert view["private_metadata"] == old
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == [ids.EXTEND_WINDOW_BLOCK, ids.EXTEND_REASON_BLOCK]
    window = inputs[ids.EXTEND_WINDOW_BLOCK]["element"]
    assert window["type"] == "static_select" and window["action_id"] == ids.EXTEND_WINDOW
    assert "5m" in [o["value"] for o in window["options"]]
    assert inputs[ids.EXTEND_REASON_BLOCK]["element"]["action_id"] == ids.EXTEND_REASON

    # No reason: an error on that field; nothing stored, nothing posted.
    answer = submit_form(s, view, "5m", None)
    assert answer["response_action"] == "errors", answer
    [(where, says)] = answer["errors"].items()
    assert where == ids.EXTEND_REASON_BLOCK and says.startswith("A reason is required"), answer
    assert stored_count(database_url) == 1

    # A valid one: the form turns into the command's answer; the extension goes to the channel, linked.
    answer = submit_form(s, view, "5m", "still checking SUP-123")
    assert answer["response_action"] == "update", answer
    assert answer["view"]["callback_id"] == ids.EXTEND_SENT
    new = extension_id(answer["view"]["blocks"][0]["text"]["text"], old, "5m")
    new_ts = approval_message_of(s, new)
    posted = s.approval_text(new_ts)
    assert f"*Extension request* `{new}`" in posted and f"Extension of `{old}`" in posted, posted
    assert s.has_buttons(new_ts) and _buttons(s.slack.message(APPROVAL_CHANNEL, new_ts))[0] == (ids.APPROVE, new)
    assert sorted(approval_messages(s)) == sorted([old_ts, new_ts])  # the refused submission posted nothing

    # Approved: a new token, delivered first; only then the old one is stopped and revoked.
    s.click(ids.APPROVE, new, APPROVER, new_ts)
    new_token = s.show_token(new)
    assert new_token is not None and new_token != old_token
    assert s.descope.refresh(new_token) == 200
    s.slack.wait_for(lambda: s.descope.is_stopped(old_token) and s.descope.is_revoked(old_token), timeout=3,
                     message="the old token revoked")
    delivered = next(c for c in s.slack.calls_of("chat.postMessage")
                     if (ids.SHOW_TOKEN, new) in _buttons({"blocks": c.params.get("blocks")}))
    [minted] = [c for c in s.descope.calls_to(IMPERSONATE) if c.body.get("customClaims", {})
                .get("impersonationRequest") == new]
    assert minted.at < delivered.at <= stop_calls(s, old_token)[0].at <= logout_calls(s, old_token)[0].at
    assert s.descope.refresh(old_token) == 401 and s.descope.refresh(new_token) == 200
    assert s.descope.active_tokens() == [new_token]

    # The new session ends at the old end plus the extension (as its DM says, and its token).
    new_ready = s.slack.message_text(DM, s.session_dm(new) or "")
    assert end_stamp(new_ready) - end_stamp(old_ready) == 300, (old_ready, new_ready)
    assert f"This replaces session `{old}`" in new_ready
    expiry = decode_claims(new_token)["exp"] - decode_claims(old_token)["exp"]
    assert 300 - 2 <= expiry <= 300 + 2, expiry
    old_view, new_view = stored(database_url, old), stored(database_url, new)
    assert new_view.ends_at is not None and new_view.state is State.ACTIVE and new_view.extends == old
    assert end_stamp(old_ready) + 300 <= new_view.ends_at.timestamp() < end_stamp(old_ready) + 301

    # The old session: "Extended by" in the channel; its DM redacted; the requester told it was replaced.
    s.slack.wait_for(lambda: f"Extended by `{new}`" in s.approval_text(old_ts), message="Extended by")
    s.slack.wait_for(lambda: f"replaced by its extension `{new}`" in s.approval_text(old_ts), message="ended")
    s.slack.wait_for(lambda: dm_saying(s, f":fast_forward: Session `{old}`"), message="the old session's outcome")
    assert f"replaced by its extension `{new}`" in (dm_saying(s, f":fast_forward: Session `{old}`") or "")
    assert s.session_dm(old) is None and old_view.extended_by == new
    assert dm_saying(s, f":lock: Session `{old}`")  # its session DM, redacted
    s.slack.wait_for(lambda: "active until" in s.approval_text(new_ts), message="the extension active")


# -- 4. /impersonate extend, the Home's Extend, and who may extend what ------------------------------------------


def test_extend_by_command_and_its_refusals(make_stack: StackFactory, database_url: str) -> None:
    s = make_stack()
    old, old_ts, old_token, old_ready = running(s, "10m")

    # The Home shows Extend on the requester's own running session; it opens the same form.
    home = open_home(s, REQUESTER)
    assert (ids.HOME_EXTEND, old) in [(e.get("action_id"), e.get("value")) for b in home["blocks"]
                                      if b.get("type") == "actions" for e in b.get("elements") or []]

    def click_home_extend() -> None:
        reply = s.bot.post(home_action_body(ids.HOME_EXTEND, old, user_id=REQUESTER, view=home))
        assert (reply.status, reply.body) == (200, ""), reply

    view = open_extension_form(s, click_home_extend)
    assert view["private_metadata"] == old

    # Only the session's requester may extend it (an approver who may request is refused too).
    for other in (OUTSIDER, APPROVER):
        refused = extend_by_command(s, f"{old} 1m still checking", other)
        assert f"Only the person who asked for session `{old}` can ask to extend it." in refused, refused
    assert stored_count(database_url) == 1

    answer = extend_by_command(s, f"{old} 1m still checking SUP-123")
    new = extension_id(answer, old, "1m")
    new_ts = approval_message_of(s, new)
    assert f"Extension of `{old}`" in s.approval_text(new_ts)

    # One pending extension at a time.
    again = extend_by_command(s, f"{old} 5m more again")
    assert f"You already have request `{new}`" in again, again
    assert stored_count(database_url) == 2 and sorted(approval_messages(s)) == sorted([old_ts, new_ts])

    s.click(ids.APPROVE, new, APPROVER, new_ts)
    new_token = s.show_token(new)
    assert new_token is not None and new_token != old_token and s.descope.refresh(new_token) == 200
    s.slack.wait_for(lambda: s.descope.is_revoked(old_token), timeout=3, message="the old token revoked")
    assert s.descope.is_stopped(old_token)
    assert end_stamp(s.slack.message_text(DM, s.session_dm(new) or "")) - end_stamp(old_ready) == 60
    s.slack.wait_for(lambda: f"Extended by `{new}`" in s.approval_text(old_ts), message="Extended by")

    # The replaced session cannot be extended; neither can a session once stopped.
    s.slack.wait_for(lambda: stored(database_url, old).state is State.STOPPED, message="the old session stopped")
    refused = extend_by_command(s, f"{old} 1m once more")
    assert f"Session `{old}` is not running (it is stopped)" in refused, refused
    assert "stopping" in s.command(f"stop {new}").text.lower()
    refused = extend_by_command(s, f"{new} 1m once more")
    assert f"Session `{new}` is not running" in refused, refused
    s.slack.wait_for(lambda: s.descope.active_tokens() == [], timeout=3, message="every token stopped")
    s.slack.wait_for(lambda: f"stopped early by <@{REQUESTER}>" in s.approval_text(new_ts), message="the end")
    wait_stopped_early_dm(s, new)
    assert stored_count(database_url) == 2 and len(s.descope.minted) == 2


def test_an_extension_is_capped_at_the_rules_longest_window_from_now(make_stack: StackFactory,
                                                                     database_url: str) -> None:
    s = make_stack(MAX_DURATION="20s", DEFAULT_DURATION="10s")
    old, old_ts, old_token, _ = running(s, "15s")
    new = extension_id(extend_by_command(s, f"{old} 15s still checking"), old, "15s")
    s.click(ids.APPROVE, new, APPROVER, approval_message_of(s, new))
    new_token = s.show_token(new)
    assert new_token is not None and s.descope.refresh(new_token) == 200

    # The old end plus 15 s would be almost 30 s from now: capped at 20 s (MAX_DURATION) from the activation.
    [minted] = [c for c in s.descope.calls_to(IMPERSONATE) if c.body.get("customClaims", {})
                .get("impersonationRequest") == new]
    assert minted.body["refreshDuration"] == 20, minted.body
    claims = decode_claims(new_token)
    assert claims["exp"] - claims["iat"] == 20
    old_view, new_view = stored(database_url, old), stored(database_url, new)
    assert new_view.ends_at is not None and new_view.started_at is not None and old_view.ends_at is not None
    assert 19 < (new_view.ends_at - new_view.started_at).total_seconds() <= 20  # started: when the token was recorded
    assert new_view.ends_at < old_view.ends_at + (new_view.duration)
    s.slack.wait_for(lambda: dm_saying(s, f":fast_forward: Session `{old}`"), message="the old session replaced")
    assert s.descope.is_revoked(old_token) and f"Extended by `{new}`" in s.approval_text(old_ts)


# -- 5. denied or unanswered: the session ends at its own time ---------------------------------------------------


def test_a_denied_or_unanswered_extension_leaves_the_session_to_end_at_its_time(make_stack: StackFactory,
                                                                               database_url: str) -> None:
    s = make_stack()
    denied_session, denied_ts, denied_token, _ = running(s, "5s")
    quiet_session, quiet_ts, quiet_token, _ = running(s, "5s", OTHER_TARGET)
    denied = extension_id(extend_by_command(s, f"{denied_session} 1m still checking"), denied_session, "1m")
    quiet = extension_id(extend_by_command(s, f"{quiet_session} 1m still checking"), quiet_session, "1m")
    denied_ext_ts, quiet_ext_ts = approval_message_of(s, denied), approval_message_of(s, quiet)

    s.click(ids.DENY, denied, APPROVER, denied_ext_ts)
    s.slack.wait_for(lambda: f"Denied by <@{APPROVER}>" in s.approval_text(denied_ext_ts), message="denied")
    told = s.slack.wait_for(lambda: dm_saying(s, f"denied your extension `{denied}`"), message="the denial DM")
    assert f"session `{denied_session}` ends at its time" in told, told
    assert not s.descope.is_stopped(denied_token) and s.descope.refresh(denied_token) == 200  # still running

    for ts in (denied_ts, quiet_ts):
        wait_ended(s, ts)
    for session, token in ((denied_session, denied_token), (quiet_session, quiet_token)):
        wait_dead(s, token)
        ends_at = stored(database_url, session).ends_at
        assert ends_at is not None and stop_calls(s, token)[0].at >= ends_at.timestamp() - 0.05  # at its time
        assert "Extended by" not in s.approval_text(denied_ts if session == denied_session else quiet_ts)

    s.slack.wait_for(lambda: "Expired" in s.approval_text(quiet_ext_ts), message="the unanswered one expired")
    told = s.slack.wait_for(lambda: dm_saying(s, f"Your extension `{quiet}` of session `{quiet_session}` was not "
                                                 "answered in time"), message="the expiry DM")
    assert "the session ends at its time" in told
    assert len(s.descope.minted) == 2 and s.descope.active_tokens() == []
    assert minted_for(s, denied) == [] and minted_for(s, quiet) == []


# -- 6. the race: the session stopped while its extension is approved, minted or delivered ------------------------


def test_an_extension_of_a_session_being_stopped_grants_nothing_and_leaves_no_token_alive(
        make_stack: StackFactory) -> None:
    s = make_stack()

    # Stopped first (by an approver): the pending extension goes with it; a late Approve grants nothing.
    first, first_ts, first_token, _ = running(s, "10m")
    ext = extension_id(extend_by_command(s, f"{first} 1m still checking"), first, "1m")
    ext_ts = approval_message_of(s, ext)
    assert "Stopping session" in s.command(f"stop {first}", APPROVER).text
    s.click(ids.APPROVE, ext, APPROVER, ext_ts)
    assert f"Request `{ext}` was withdrawn: the session it extends was stopped." in s.ephemeral_after_click()
    s.slack.wait_for(lambda: "Withdrawn: the session it extends was stopped" in s.approval_text(ext_ts),
                     message="the extension ended")
    s.slack.wait_for(lambda: dm_saying(s, f"Your extension `{ext}` was withdrawn"), message="the requester told")
    s.slack.wait_for(lambda: f"stopped early by <@{APPROVER}>" in s.approval_text(first_ts), message="stopped")
    wait_revoked(s, first_token)
    assert minted_for(s, ext) == [] and s.session_dm(ext) is None and "Extended by" not in s.approval_text(first_ts)

    # Stopped while the extension's token is being minted (Descope is slow): the extension fails, its token is
    # revoked at once.
    second, second_ts, second_token, _ = running(s, "10m", OTHER_TARGET)
    ext2 = extension_id(extend_by_command(s, f"{second} 1m still checking"), second, "1m")
    ext2_ts = approval_message_of(s, ext2)
    s.descope.set_latency(IMPERSONATE, 2.0)
    try:
        s.click(ids.APPROVE, ext2, APPROVER, ext2_ts)
        s.descope.wait_for_call(IMPERSONATE, where=lambda c: c.body.get("customClaims", {})
                                .get("impersonationRequest") == ext2)
        assert "Stopping session" in s.command(f"stop {second}").text
        failed = ENDED_BEFORE.format(id=second)
        s.slack.wait_for(lambda: failed in s.approval_text(ext2_ts), timeout=8, message="the extension failed")
    finally:
        s.descope.set_latency(IMPERSONATE, 0)
    s.slack.wait_for(lambda: failed in (dm_saying(s, f"Your request `{ext2}`") or ""), message="the requester told")
    s.slack.wait_for(lambda: f"stopped early by <@{REQUESTER}>" in s.approval_text(second_ts), message="stopped")
    [orphan] = minted_for(s, ext2)
    wait_revoked(s, orphan)
    wait_revoked(s, second_token)
    assert s.session_dm(ext2) is None and "Extended by" not in s.approval_text(second_ts)

    # Stopped while the extension's new token is being handed over (Slack is slow): it is stopped too.
    third, third_ts, third_token, _ = running(s, "10m")
    ext3 = extension_id(extend_by_command(s, f"{third} 1m still checking"), third, "1m")
    ext3_ts = approval_message_of(s, ext3)
    def dms_sent() -> int:
        return sum(c.params.get("channel") == f"D{REQUESTER}" for c in s.slack.calls_of("chat.postMessage"))

    dms_before = dms_sent()
    s.slack.set_latency("chat.postMessage", 2.0)
    try:
        s.click(ids.APPROVE, ext3, APPROVER, ext3_ts)
        s.slack.wait_for(lambda: minted_for(s, ext3) and dms_sent() > dms_before,
                         message="the new token on its way to the requester")
        assert "Stopping session" in s.command(f"stop {third}").text
    finally:
        s.slack.set_latency("chat.postMessage", 0)
    [late] = minted_for(s, ext3)
    wait_revoked(s, late)
    wait_revoked(s, third_token)
    s.slack.wait_for(lambda: f"stopped early by <@{REQUESTER}>" in s.approval_text(third_ts), message="stopped")
    s.slack.wait_for(lambda: "Session ended" in s.approval_text(ext3_ts), message="the extension's session ended")
    s.slack.wait_for(lambda: s.session_dm(ext3) is None, message="its Show token gone")
    assert "Extended by" not in s.approval_text(third_ts)

    # Nothing granted stays alive.
    assert s.descope.active_tokens() == []
    assert all(s.descope.is_revoked(t) and s.descope.refresh(t) == 401 for t in s.descope.minted)
    assert len(s.descope.minted) == 5  # three sessions, and the two extension tokens minted in the races
    for session in (second, third):
        wait_stopped_early_dm(s, session)
