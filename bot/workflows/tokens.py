"""Showing the token (``TOKEN_DELIVERY=reveal``): the requester's **Show token** click opens a modal with it.

Only the requester, only while the session is active (not once its window has passed or a stop was asked
for). Each showing is an audit event (``token_shown``: who, when) that also appears in the approval
message's thread. The token is handed to ``show`` (the Slack edge opens the modal) and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain import NotFound, RequestView, State, TokenUnavailable
from bot.domain.schedule import Work, due_now
from bot.store import RequestRow, as_view
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")


class Tokens:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

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
        if row.state != State.ACTIVE.value or row.token_sealed is None or Work.STOP in due_now(row, now):
            raise TokenUnavailable(request_id, ended=True)
        show(as_view(row), ctx.sealer.open(row.token_sealed))
        ctx.store.record(request_id, actor=user_id, action="token_shown", now=ctx.clock(),
                         where=[RequestRow.state == State.ACTIVE.value])
        ctx.timers.kick(request_id)
