"""Showing the token (``TOKEN_DELIVERY=reveal``): the requester's **Show token** click opens a modal with it.

Only the requester, only while the session is live: active, no stop asked for, its window not over. The check
and the audit event (``token_shown``: who, when; also a line in the approval message's thread) are one
conditional write, made before the token is handed to ``show`` (the Slack edge opens the modal) and nowhere
else. Under ``reveal_mfa`` the requester first proves themselves (``workflows.verification`` makes the ``Proof``;
the click alone raises ``ProofNeeded``), and the audit row says how.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain import NotFound, RequestView, State, TokenUnavailable
from bot.domain.errors import ProofNeeded
from bot.domain.proof import Mfa, Proof, Purpose
from bot.store import RequestRow, as_view
from bot.workflows.about import about_request
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")


class Tokens:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @about_request
    def reveal(self, request_id: str, user_id: str, show: Callable[[RequestView, str], None], *,
               proof: Proof | None = None) -> None:
        """Hand the live token to ``show`` for the requester. Raises ``TokenUnavailable`` for anyone else, or
        when the session is over (or ending); ``ProofNeeded`` when the rules ask the requester for a second factor
        (``reveal_mfa``) and ``proof`` is not theirs for this request."""
        ctx = self.ctx
        row = self.live_row(request_id, user_id)
        asked = self.asked_of(row)
        proved = proof.method if proof is not None and proof.covers(request_id, user_id, Purpose.REVEAL, asked) \
            else None
        if asked.needed and proved is None:
            ctx.check_not_locked(request_id, user_id, Purpose.REVEAL, asked)
            raise ProofNeeded(request_id, user_id, Purpose.REVEAL, asked)
        now = ctx.clock()
        # Live means: active, no stop asked for, window not over (whatever the stop's own progress: a stop being
        # retried holds the row's lease, so the schedule would not call it due yet).
        if row.token_sealed is None or not ctx.store.show_token(request_id, user_id, now, proved=proved):
            raise TokenUnavailable(request_id, ended=True)
        # Audited first, then shown: a showing Slack then fails to open is on record, never the other way round.
        ctx.timers.kick(request_id)
        show(as_view(row), ctx.sealer.open(row.token_sealed))

    def live_row(self, request_id: str, user_id: str) -> RequestRow:
        """The request, if ``user_id`` is its requester and its session is live (else ``TokenUnavailable``)."""
        row = self.ctx.store.get_row(request_id)
        if row is None:
            raise NotFound(request_id)
        if user_id != row.requester_id:
            log.warning("request %s: %s asked for someone else's token; refused", request_id, user_id)
            raise TokenUnavailable(request_id, ended=False)
        now = self.ctx.clock()
        live = row.state == State.ACTIVE.value and row.stop_requested_at is None and row.ends_at is not None \
            and row.ends_at > now and row.token_sealed is not None
        if not live:
            raise TokenUnavailable(request_id, ended=True)
        return row

    def asked_of(self, row: RequestRow) -> Mfa:
        """The second factor the requester proves themselves with before the token is shown: the stricter of what
        the rules asked when the request was made and what they ask now."""
        return Mfa.strictest((Mfa(row.reveal_mfa or Mfa.NONE), self.ctx.decision_of(row).reveal_mfa))
