"""Extensions: more time on a running session without starting over, and the warning that offers it.

``request``: the session's requester asks (``/impersonate extend``, the expiry warning's Extend, the App Home). The
extension is a request of its own, linked to the session (``extends_id``; its ``requested`` audit row says which),
decided under the session's rule like any request. It waits at most until the session ends (``pending_until``):
denied or unanswered, the session simply ends at its time.

Approved, ``Sessions.activate`` mints a token for the extended window (the session's end plus the extension, at
most the rule's maximum from now), in a transition that requires the session to be still running (its row locked:
a stop and the activation happen one after the other). The projection delivers the new token first; ``retire``
then has the old session stopped and revoked (``extended``, linked to the extension), so the requester is never
without a live token.

``warn``: ``EXPIRY_WARNING`` before a session ends (``warn_at``, set at activation), one conditional write with its
audit row (``warned``), won by one replica; the projection DMs the requester the end time with Extend and Stop now.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain import (
    MayNotExtend,
    NotExtendable,
    RequestView,
    State,
    TenantsUnknown,
)
from bot.domain.outcomes import Linked, encode
from bot.domain.policy import Decision
from bot.domain.schedule import Work, due_now
from bot.store import RequestRow
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.intake import Asked, admit, file_request

log = logging.getLogger("bot.workflows")


class Extensions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @about_request
    def request(self, session_id: str, requester_id: str, duration: timedelta | None, reason: str) -> RequestView:
        """Ask for ``duration`` more (``None``: the rule's default window) on a running session. Raises
        ``DomainError``: only its requester may ask, only while it runs, one extension at a time."""
        ctx = self.ctx
        session, rules = self.offer(session_id, requester_id)
        assert session.ends_at is not None
        extension = admit(ctx, requester_id, session.login_id, rules, duration)
        asked = Asked(requester_id, session.login_id, session.tenant, extension, reason, session.target, rules)
        # It waits at most until the session ends: unanswered by then, there is nothing left to extend.
        return file_request(ctx, asked, pending_until=min(ctx.clock() + ctx.settings.pending_timeout, session.ends_at),
                            extends=session_id, detail=encode(Linked(extends=session_id)))

    def offer(self, session_id: str, requester_id: str) -> tuple[RequestView, Decision]:
        """The session ``requester_id`` may ask to extend now, and its rules (whose windows the form offers).
        Raises what ``request`` would: not theirs, not running, not allowed."""
        ctx = self.ctx
        session = ctx.get(session_id)
        if requester_id != session.requester_id:
            raise MayNotExtend(session_id, requester_id)
        if session.state is not State.ACTIVE or session.stopping or session.ends_at is None \
                or session.ends_at <= ctx.clock():
            raise NotExtendable(session)
        rules = ctx.decision_of(session)
        if rules.tenants_unknown:
            raise TenantsUnknown(session.login_id)
        admit(ctx, requester_id, session.login_id, rules, None)  # the rules' own refusals, as the request would meet
        return session, rules

    def retire(self, extension: RequestRow) -> None:
        """``extension``'s token has reached its requester: have the session it replaces stopped and revoked (once;
        nothing if that session has ended or is being stopped already, or if the extension itself is being stopped:
        the requester must never be left without a live token)."""
        ctx = self.ctx
        if extension.extends_id is None:
            return
        now = ctx.clock()
        if ctx.store.retire(extension.extends_id, extension.id, now):
            log.info("request %s replaced by its extension %s; stopping it", extension.extends_id, extension.id)
            ctx.timers.kick(extension.extends_id)

    def follow_stop(self, session_id: str, actor: str) -> None:
        """``actor`` asked to stop ``session_id`` early: its extensions go with it. A pending one is withdrawn by the
        bot (``decided_by`` system; the audit names ``actor``); one active but not yet handed to the requester is
        stopped too (an approved one still minting fails on its own: its activation requires the session not to be
        stopping). One already delivered has retired the session, so this stop did not happen."""
        ctx = self.ctx
        for extension in ctx.store.list_requests(extends=session_id, states=[State.PENDING, State.ACTIVE]):
            now = ctx.clock()
            if extension.state is State.PENDING:  # decided by the bot: nothing is left to extend
                ctx.store.withdraw_extension(extension.id, actor, now)
            else:
                ctx.store.ask_stop(extension.id, actor, now, undelivered_only=True)
            log.info("request %s: its session %s is stopping, so it is too", extension.id, session_id)
            ctx.timers.kick(extension.id)

    def warn(self, request_id: str) -> bool:
        """Record the expiry warning that is due, if this caller wins it (the projection sends it). True when it
        did."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        if row is None or row.warn_at is None or Work.WARN not in due_now(row, ctx.clock()):
            return False
        won = ctx.store.warn(request_id, row.warn_at, ctx.clock())
        if won:
            log.info("request %s: the requester is warned that the session ends soon", request_id)
            ctx.timers.kick(request_id)
        return won
