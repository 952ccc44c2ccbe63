"""Showing the token (``TOKEN_DELIVERY=reveal``): the requester's **Show token** click opens a modal with it.

Only the requester, only while the session is live: active, no stop asked for, its window not over. The check
and the audit event (``token_shown``: who, when; also a line in the approval message's thread) are one
conditional write, made before the token is handed to ``show`` (the Slack edge opens the modal) and nowhere
else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain import NotFound, RequestView, TokenUnavailable
from bot.store import as_view
from bot.workflows.about import about_request
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")


class Tokens:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @about_request
    def reveal(self, request_id: str, user_id: str, show: Callable[[RequestView, str], None]) -> None:
        """Hand the live token to ``show`` for the requester. Raises ``TokenUnavailable`` for anyone else, or
        when the session is over (or ending)."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        if row is None:
            raise NotFound(request_id)
        if user_id != row.requester_id:
            log.warning("request %s: %s asked for someone else's token; refused", request_id, user_id)
            raise TokenUnavailable(request_id, ended=False)
        now = ctx.clock()
        # Live means: active, no stop asked for, window not over (whatever the stop's own progress: a stop being
        # retried holds the row's lease, so the schedule would not call it due yet).
        if row.token_sealed is None or not ctx.store.show_token(request_id, user_id, now):
            raise TokenUnavailable(request_id, ended=True)
        # Audited first, then shown: a showing Slack then fails to open is on record, never the other way round.
        ctx.timers.kick(request_id)
        show(as_view(row), ctx.sealer.open(row.token_sealed))
