"""The App Home: what a person sees there (``page``), who has opened it (``opened``), and the Homes a change
shows up on, published again (``republish``).

Everyone sees their own requests (open ones first, then the latest ended). Approvers (``ctx.is_approver``: of any
rule, asked at every build, so a change to ``APPROVERS`` or a user group shows at the next one) also see the
requests waiting for them (whose rule names them, not yet approved by them, never their own), and every live
session.

After every change of a request the projection calls ``republish``: the Homes of those who opened the bot's
Home within ``VIEWER_TTL`` and see that request there (its requester; the approvers) are built afresh and
published through the ``Notifier``. Someone who never opened the Home gets nothing: opening it publishes it.
A failing publish is logged and forgotten: Slack keeps the old Home until the next change, or until the
person opens it again; the rest of the projection goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.domain import FINAL_STATES, LIVE_STATES, State
from bot.domain.home import AWAITING_SCAN, AWAITING_SHOWN, MINE_SHOWN, SESSIONS_SHOWN, TO_REVIEW_SHOWN, Home, Listed
from bot.store import HomeStore
from bot.store.errors import log_failure
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")

#: A Home opened longer ago than this is no longer republished on changes (opening it again publishes it).
VIEWER_TTL = timedelta(days=7)
#: The states of a break-glass session that started (those awaiting review are listed for its approvers).
STARTED = [State.APPROVED, State.ACTIVE, State.STOPPED, State.FAILED]


class Homes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = HomeStore(ctx.store)

    def page(self, user_id: str) -> Home:
        """What ``user_id``'s Home shows now."""
        ctx = self.ctx
        now = ctx.clock()
        live = self.store.requests(states=LIVE_STATES, requester_id=user_id, limit=MINE_SHOWN)
        ended = self.store.requests(states=sorted(FINAL_STATES), requester_id=user_id,
                                    limit=MINE_SHOWN - len(live.shown))
        mine = Listed(live.shown + ended.shown, live.total + ended.total)
        approver = ctx.is_approver(user_id)
        if not approver and not ctx.is_escalation_approver(user_id):
            return Home(user_id, now, mine)
        # Only what waits for them: requests whose rules name them, that they have not approved yet. Read well past
        # the cap, then capped: those for other approvers must not crowd theirs out of the list.
        pending = self.store.requests(states=[State.PENDING], not_requester=user_id, limit=AWAITING_SCAN,
                                      oldest_first=True)
        theirs = [r for r in pending.shown
                  if not r.break_glass and user_id not in r.counted and ctx.may_approve(user_id, r)]
        awaiting = Listed(tuple(theirs[:AWAITING_SHOWN]), len(theirs) + pending.more)  # beyond the scan: counted
        if not approver:  # an escalation approver: only what escalated to them
            return Home(user_id, now, mine, awaiting)
        sessions = self.store.requests(states=[State.ACTIVE, State.APPROVED], limit=SESSIONS_SHOWN)
        stoppable = frozenset(r.id for r in sessions.shown if ctx.may_end(user_id, r))
        glass = self.store.requests(states=STARTED, not_requester=user_id, limit=AWAITING_SCAN, to_review=True)
        reviewable = [r for r in glass.shown if ctx.may_approve(user_id, r)]
        to_review = Listed(tuple(reviewable[:TO_REVIEW_SHOWN]), len(reviewable) + glass.more)
        return Home(user_id, now, mine, awaiting, sessions, stoppable, to_review)

    def opened(self, user_id: str) -> Home:
        """``user_id`` opened the Home: remember them (their Home follows changes from now on) and answer it."""
        self.store.opened(user_id, self.ctx.clock())
        return self.page(user_id)

    def republish(self, requester_id: str, viewers: Sequence[str] | None = None) -> int:
        """A request of ``requester_id`` changed: publish afresh the Homes it shows on (of those who opened
        the Home: ``viewers``, read after the change, or read here). Never raises; answers how many were published."""
        ctx = self.ctx
        try:  # read at every change, never cached: an opening recorded by another process must be seen at once
            if viewers is None:
                viewers = self.store.viewers(ctx.clock() - VIEWER_TTL)
        except Exception:
            log_failure(log, "could not read who opened the Home; not republishing it")
            return 0
        published = 0
        for user_id in viewers:
            try:
                if user_id == requester_id or ctx.is_approver(user_id) or ctx.is_escalation_approver(user_id):
                    ctx.notifier.publish_home(self.page(user_id))
                    published += 1
            except Exception as exc:
                log.warning("could not republish the Home of %s (%s); Slack keeps the previous one",
                            user_id, type(exc).__name__)
        return published
