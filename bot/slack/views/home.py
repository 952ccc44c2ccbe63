"""The App Home: ``build`` lays out one person's Home (``bot.domain.home.Home``) as a ``home`` view; ``parse``
reads a click on it back into a ``HomeClick``, which says whether it came from this bot's own Home.

Layout: an optional notice (the answer to the person's last refused click), their requests (Withdraw on a
pending one, Stop and Extend on an active one), then for approvers the requests waiting for them (Approve, behind
the same confirmation as the channel message's, and Deny) and the live sessions (Stop). Each list shows at most the
domain's cap and says "+N more": the view stays well under Slack's 100 blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.domain import RequestView, State
from bot.domain.home import Home, Listed
from bot.slack.messages import home as words
from bot.slack.messages import status
from bot.slack.views import ids
from bot.slack.views.approval import approve_button, deny_button
from bot.slack.views.blocks import Block, context, md, plain, section
from bot.slack.views.dm import extend_button


def build(home: Home, notice: str | None = None) -> dict[str, Any]:
    """``home`` as a view for ``views.publish``. ``private_metadata`` names whose Home it is."""
    blocks: list[Block] = [section(notice)] if notice else []
    blocks += _list(words.MINE_HEADER, home.mine, _mine, words.NO_REQUESTS)
    if home.awaiting is not None:
        blocks += [{"type": "divider"}, *_list(words.AWAITING_HEADER, home.awaiting, _awaiting,
                                              words.NOTHING_AWAITING)]
    if home.sessions is not None:
        blocks += [{"type": "divider"}, *_list(words.SESSIONS_HEADER, home.sessions, _session, words.NO_SESSIONS)]
    blocks.append(context(words.footer(home.at)))
    return {"type": "home", "callback_id": ids.HOME_VIEW, "private_metadata": home.user_id, "blocks": blocks}


def _list(header: str, listed: Listed, item: Callable[[RequestView], list[Block]], empty: str) -> list[Block]:
    blocks: list[Block] = [{"type": "header", "text": plain(header)}]
    for request in listed.shown:
        blocks += item(request)
    if not listed.shown:
        blocks.append(context(empty))
    elif listed.more:
        blocks.append(context(words.more(listed.more)))
    return blocks


def _mine(request: RequestView) -> list[Block]:
    block = section(words.mine_line(request))
    if request.state is State.PENDING:
        block["accessory"] = {"type": "button", "action_id": ids.HOME_WITHDRAW, "value": request.id,
                              "text": plain(words.WITHDRAW_LABEL)}
    elif request.state is State.ACTIVE and not request.stopping:
        block["accessory"] = _stop_button(request)
        return [block, {"type": "actions", "block_id": ids.HOME_SESSION_BLOCK.format(request_id=request.id),
                        "elements": [extend_button(request, ids.HOME_EXTEND)]}]
    return [block]


def _awaiting(request: RequestView) -> list[Block]:
    found = status.target_line(request)
    return [
        {"type": "section", "text": md(words.awaiting_line(request)),
         "fields": [plain(status.reason_field(request))] + ([plain(found)] if found else [])},
        {"type": "actions", "block_id": ids.HOME_DECISION_BLOCK.format(request_id=request.id),
         "elements": [approve_button(request, ids.HOME_APPROVE), deny_button(request, ids.HOME_DENY)]},
    ]


def _session(request: RequestView) -> list[Block]:
    block = section(words.session_line(request))
    if request.state is State.ACTIVE and not request.stopping:
        block["accessory"] = _stop_button(request)
    return [block]


def _stop_button(request: RequestView) -> Block:
    return {"type": "button", "action_id": ids.HOME_STOP, "style": "danger", "value": request.id,
            "text": plain(words.STOP_LABEL),
            "confirm": {"title": plain(words.STOP_CONFIRM_TITLE), "text": plain(words.stop_confirm(request)),
                        "confirm": plain(words.STOP_LABEL), "deny": plain(words.CANCEL_LABEL)}}


@dataclass(frozen=True)
class HomeClick:
    """A click on a Home, as far as the payload says: who, on which request, on whose Home of which app."""

    user_id: str
    request_id: str
    on_home: bool  # the container is a view, and the view a Home
    view_bot_id: str | None  # the bot and app that published the view
    view_app_id: str | None
    app_id: str | None  # the app Slack sent the click to (``api_app_id``): this one
    owner: str | None  # whose Home the view is (its ``private_metadata``, as ``build`` set it)

    def from_home_of(self, bot_id: str | None) -> bool:
        """Whether the click came from the clicker's own Home as published by the bot ``bot_id``."""
        return (self.on_home and bool(bot_id) and self.view_bot_id == bot_id and bool(self.app_id)
                and self.view_app_id == self.app_id and self.owner == self.user_id)


def parse(body: dict[str, Any]) -> HomeClick:
    """Read a ``block_actions`` payload. Raises ``ValueError`` when it lacks the clicker or the action."""
    user = body.get("user") or {}
    actions = body.get("actions") or []
    if not isinstance(user, dict) or not user.get("id") or not actions or not isinstance(actions[0], dict):
        raise ValueError("a click without a user or an action")
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    assert isinstance(container, dict) and isinstance(view, dict)

    def text(value: Any) -> str | None:
        return str(value) if value else None

    return HomeClick(
        user_id=str(user["id"]), request_id=str(actions[0].get("value", "")),
        on_home=container.get("type") == "view" and view.get("type") == "home",
        view_bot_id=text(view.get("bot_id")), view_app_id=text(view.get("app_id")), app_id=text(body.get("api_app_id")),
        owner=text(view.get("private_metadata")))
