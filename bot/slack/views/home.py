"""The App Home: ``build`` lays out one person's Home (``bot.domain.home.Home``) as a ``home`` view, whose
``private_metadata`` names its owner (a click on it is read by ``bot.slack.payloads.click``, which says whether it
came from this bot's own Home of the clicker).

Layout: an optional notice (the answer to the person's last refused click), their requests (Withdraw on a
pending one, Stop and Extend on an active one), then for approvers the requests waiting for them (Approve, behind
the same confirmation as the channel message's, and Deny) and the live sessions (Stop). Each list shows at most the
domain's cap and says "+N more": the view stays well under Slack's 100 blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.domain import RequestView, State
from bot.domain.home import Home, Listed
from bot.slack.messages import approval as approval_words
from bot.slack.messages import home as words
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
        def session(request: RequestView) -> list[Block]:
            return _session(request, stoppable=request.id in home.stoppable)

        blocks += [{"type": "divider"}, *_list(words.SESSIONS_HEADER, home.sessions, session, words.NO_SESSIONS)]
    if home.to_review is not None and home.to_review.total:
        blocks += [{"type": "divider"}, *_list(words.TO_REVIEW_HEADER, home.to_review,
                                              lambda r: [section(words.to_review_line(r))], words.NOTHING_TO_REVIEW)]
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
    found = approval_words.target_line(request)
    return [
        {"type": "section", "text": md(words.awaiting_line(request)),
         "fields": [plain(approval_words.reason_field(request))] + ([plain(found)] if found else [])},
        {"type": "actions", "block_id": ids.HOME_DECISION_BLOCK.format(request_id=request.id),
         "elements": [approve_button(request, ids.HOME_APPROVE), deny_button(request, ids.HOME_DENY)]},
    ]


def _session(request: RequestView, *, stoppable: bool) -> list[Block]:
    """A live session; Stop only for an approver of its rules (or of ``APPROVERS``): anyone else's click would be
    refused."""
    block = section(words.session_line(request))
    if stoppable and request.state is State.ACTIVE and not request.stopping:
        block["accessory"] = _stop_button(request)
    return [block]


def _stop_button(request: RequestView) -> Block:
    return {"type": "button", "action_id": ids.HOME_STOP, "style": "danger", "value": request.id,
            "text": plain(words.STOP_LABEL),
            "confirm": {"title": plain(words.STOP_CONFIRM_TITLE), "text": plain(words.stop_confirm(request)),
                        "confirm": plain(words.STOP_LABEL), "deny": plain(words.CANCEL_LABEL)}}
