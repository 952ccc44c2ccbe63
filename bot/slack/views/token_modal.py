"""The token modal (``TOKEN_DELIVERY=reveal``): opened with the Show token click's ``trigger_id``. A modal is
not a message: Slack does not keep it in channel history or exports."""

from __future__ import annotations

from typing import Any

from bot.domain import RequestView
from bot.slack.messages import dms
from bot.slack.views import ids
from bot.slack.views.blocks import context, plain, section


def build(request: RequestView, token: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.TOKEN_MODAL,
        "title": plain(dms.TOKEN_MODAL_TITLE),
        "close": plain(dms.CLOSE_LABEL),
        "blocks": [
            section(dms.modal_intro(request)),
            {"type": "rich_text", "elements": [
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": token}]}]},
            context(dms.modal_footer(request)),
        ],
    }
