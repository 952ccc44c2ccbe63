"""``bot.slack.views.home``: a person's App Home as Block Kit (valid under slack_sdk's models, at most 100 blocks
however long the lists, each list capped with "+N more"), its buttons, and the clicks on it (``parse``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.domain import RequestView, State
from bot.domain.home import AWAITING_SHOWN, MINE_SHOWN, SESSIONS_SHOWN, Home, Listed
from bot.slack.messages import home as words
from bot.slack.views import approval, home, ids
from tests.unit.factories import FORBIDDEN, HOSTILE_LOGIN, HOSTILE_REASON, T0, hostile, view
from tests.unit.slack.views.walk import walk

ME = "UBO"


def listed(*requests: RequestView, total: int | None = None) -> Listed:
    return Listed(tuple(requests), len(requests) if total is None else total)


NONE = Listed()


def page(mine: Listed = NONE, awaiting: Listed | None = None, sessions: Listed | None = None,
         stoppable: frozenset[str] = frozenset()) -> Home:
    return Home(ME, T0, mine, awaiting, sessions, stoppable)


def many(state: State, count: int, **changes: Any) -> tuple[RequestView, ...]:
    return tuple(view(state, id=f"R{n:07d}", **changes) for n in range(count))


def valid(built: dict[str, Any]) -> dict[str, Any]:
    """Slack's own model of a view accepts it (lengths, counts, element kinds), as views.publish would:
    ``validate_json`` checks the view, ``to_dict`` every block and element in it (and turns a kind it does not
    know into ``None``), and what comes back is what went in."""
    model = View(**built)
    model.validate_json()
    assert model.to_dict() == built
    assert built["type"] == "home" and len(built["blocks"]) <= 100
    return built


def buttons(built: dict[str, Any]) -> list[dict[str, Any]]:
    return [el for el in walk(built["blocks"]) if el.get("type") == "button"]


def texts(built: dict[str, Any], kind: str) -> list[str]:
    return [el["text"] for el in walk(built["blocks"]) if el.get("type") == kind]


def test_a_requester_sees_their_requests_with_withdraw_or_stop_and_nothing_of_others() -> None:
    mine = listed(view(State.PENDING, id="PEND0001"), view(State.ACTIVE, id="ACTV0001"),
                  view(State.ACTIVE, id="STOP0001", stop_requested_at=T0), view(State.DENIED, id="DENY0001"))
    built = valid(home.build(page(mine)))
    assert built["private_metadata"] == ME and built["callback_id"] == ids.HOME_VIEW
    assert [(b["action_id"], b["value"]) for b in buttons(built)] == [
        (ids.HOME_WITHDRAW, "PEND0001"), (ids.HOME_STOP, "ACTV0001"),
        (ids.HOME_EXTEND, "ACTV0001")]  # nothing to click once stopping or ended
    text = "\n".join(texts(built, "mrkdwn") + texts(built, "plain_text"))
    assert words.MINE_HEADER in text
    assert words.AWAITING_HEADER not in text and words.SESSIONS_HEADER not in text
    for request_id in ("PEND0001", "ACTV0001", "STOP0001", "DENY0001"):
        assert f"`{request_id}`" in text
    assert "`jane@acme.com` (tenant `acme-eu`) for 30m" in text
    assert "Waiting for a second admin" in text and "active until" in text and "Denied by" in text


def test_an_approver_sees_what_waits_for_them_with_the_channels_confirmation_and_the_sessions() -> None:
    waiting = view(State.PENDING, id="WAIT0001", requester_id="UOTHER")
    session = view(State.ACTIVE, id="ACTV0002", requester_id="UOTHER")
    built = valid(home.build(page(awaiting=listed(waiting), sessions=listed(session),
                                  stoppable=frozenset({session.id}))))
    found = buttons(built)
    assert [(b["action_id"], b["value"]) for b in found] == [
        (ids.HOME_APPROVE, "WAIT0001"), (ids.HOME_DENY, "WAIT0001"), (ids.HOME_STOP, "ACTV0002")]
    channel_approve, channel_deny = (b for b in walk(approval.build(waiting).blocks) if b.get("type") == "button")
    assert found[0] == {**channel_approve, "action_id": ids.HOME_APPROVE}  # the same confirm dialog
    assert found[1] == {**channel_deny, "action_id": ids.HOME_DENY}
    assert found[2]["confirm"]["title"]["text"] == words.STOP_CONFIRM_TITLE
    text = "\n".join(texts(built, "mrkdwn") + texts(built, "plain_text"))
    assert words.AWAITING_HEADER in text and words.SESSIONS_HEADER in text
    assert "<@UOTHER> asks to act as `jane@acme.com`" in text and "Reason: checking invoice SUP-123" in text
    assert words.NO_REQUESTS in text
    assert {b["block_id"] for b in built["blocks"] if b["type"] == "actions"} == {"home.decision:WAIT0001"}


def test_stop_shows_only_on_the_sessions_this_approver_may_stop() -> None:
    theirs, others = view(State.ACTIVE, id="ACTV0001"), view(State.ACTIVE, id="ACTV0002")
    built = valid(home.build(page(awaiting=listed(), sessions=listed(theirs, others),
                                  stoppable=frozenset({theirs.id}))))
    assert [(b["action_id"], b["value"]) for b in buttons(built)] == [(ids.HOME_STOP, "ACTV0001")]


def test_empty_lists_say_so() -> None:
    built = valid(home.build(page(awaiting=listed(), sessions=listed())))
    text = "\n".join(texts(built, "mrkdwn"))
    for empty in (words.NO_REQUESTS, words.NOTHING_AWAITING, words.NO_SESSIONS):
        assert empty in text
    assert buttons(built) == []


def test_the_longest_lists_stay_within_100_blocks_and_say_how_many_more() -> None:
    full = page(mine=Listed(many(State.PENDING, MINE_SHOWN), 250),
                awaiting=Listed(many(State.PENDING, AWAITING_SHOWN, requester_id="UOTHER"), 400),
                sessions=Listed(many(State.ACTIVE, SESSIONS_SHOWN), 1000))
    built = valid(home.build(full, notice=":warning: " + "x" * 2900))
    more = [t for t in texts(built, "mrkdwn") if t.startswith("+")]
    assert more == [words.more(250 - MINE_SHOWN), words.more(400 - AWAITING_SHOWN), words.more(1000 - SESSIONS_SHOWN)]
    assert len(built["blocks"]) <= 100


def test_no_more_line_when_the_whole_list_is_shown() -> None:
    built = valid(home.build(page(mine=listed(*many(State.DENIED, 3)))))
    assert not [t for t in texts(built, "mrkdwn") if t.startswith("+")]


def test_a_notice_comes_first() -> None:
    built = valid(home.build(page(), notice=":warning: Only approvers can approve or deny impersonation requests."))
    assert built["blocks"][0]["text"]["text"].startswith(":warning: Only approvers")
    assert "Only approvers" not in str(home.build(page()))


@pytest.mark.parametrize("state", list(State))
def test_what_people_typed_never_reaches_mrkdwn_unescaped(state: State) -> None:
    request = hostile(state)
    built = valid(home.build(page(listed(request), listed(replace(request, requester_id="UOTHER")), listed(request))))
    for text in texts(built, "mrkdwn"):
        for bad in FORBIDDEN:
            assert bad not in text, (bad, text)
    if state is State.PENDING:
        plains = texts(built, "plain_text")
        assert any(HOSTILE_REASON in t for t in plains) and any(HOSTILE_LOGIN in t for t in plains)


def test_confirm_texts_fit_for_the_longest_login_id() -> None:
    request = view(State.ACTIVE, login_id="a" * 256)
    built = valid(home.build(page(listed(request), listed(replace(request, state=State.PENDING)), listed(request))))
    for button in buttons(built):
        if "confirm" in button:
            assert len(button["confirm"]["text"]["text"]) <= 300


