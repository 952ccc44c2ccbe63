"""The bot's own clockwork: ``tick`` does whatever ``schedule`` says is due for one request; ``sweep`` ticks
every request whose ``next_due_at`` has passed; ``reschedule_all`` sets the alarm at start, ``due_and_next`` is what
it does when it rings; ``purge``
deletes what ``RETENTION`` no longer keeps.

The scheduler calls ``tick`` at the exact moment (its one alarm rings at the earliest ``next_due_at``) and runs
``sweep`` every ``SWEEP_INTERVAL``: a restart, a lost job or a crashed replica delays work by at most one
sweep interval and never loses it. ``tick`` is safe at any time, from any replica: every piece of work
is claimed with a conditional update first (or, for a new request's kick, the lease its insert took).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.domain import State
from bot.domain.schedule import Work, due_now, next_due
from bot.store import Lease, SlackWork
from bot.store.errors import log_failure
from bot.store.retention import purge
from bot.workflows.about import about
from bot.workflows.break_glass import BreakGlass
from bot.workflows.context import Context
from bot.workflows.escalations import Escalations
from bot.workflows.extensions import Extensions
from bot.workflows.projection import Projection
from bot.workflows.reminders import Reminders
from bot.workflows.revocation import Ended, Revocation
from bot.workflows.sessions import Sessions

log = logging.getLogger("bot.workflows")


class Ticker:
    def __init__(self, ctx: Context, sessions: Sessions, revocation: Revocation, projection: Projection,
                 reminders: Reminders, extensions: Extensions, escalations: Escalations,
                 break_glass: BreakGlass) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.revocation = revocation
        self.projection = projection
        self.reminders = reminders
        self.extensions = extensions
        self.escalations = escalations
        self.break_glass = break_glass

    def tick(self, request_id: str, slack_lease_until: datetime | None = None, work: SlackWork | None = None) -> None:
        """Do whatever is due for one request. Never raises: the sweep retries what fails.

        ``slack_lease_until``: only from the kick of the change that took the Slack lease, held until then (a new
        request, born with it: ``Store.insert(slack_lease_until=…)``), which armed the rest; the tick brings Slack up to
        date under that lease, without a write to claim it (from ``work``, the Slack work that change read, if given).
        A kick that waited in the pool until a third of the lease is gone renews it first (``Leases.extend``: the
        keeper renews it only from then on), and ticks as usual if it has run out and been taken."""
        with about(request_id):
            try:
                lease = slack_lease_until
                if lease is not None and self.ctx.clock() > lease - self.ctx.leases.lease * 2 / 3:
                    lease = self.ctx.leases.extend(request_id, Lease.SLACK, lease)
                if lease is not None:
                    self.projection.sync_slack(request_id, lease, work=work)
                else:
                    self._tick(request_id)
            except Exception:
                log_failure(log, "work on request %s failed; the sweep will retry", request_id)

    def _tick(self, request_id: str) -> None:
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        if row is None:
            return
        now = ctx.clock()
        changed = False
        for work in due_now(row, now):
            if work is Work.EXPIRE:
                self.sessions.expire_pending(request_id)
                changed = True
            elif work is Work.ACTIVATE:
                claimed = ctx.store.claim_work(request_id, State.APPROVED, now, ctx.leases.lease)
                if claimed is not None:
                    with ctx.leases.holding(request_id, Lease.WORK, now + ctx.leases.lease):
                        held = self.sessions.activate_or_retry_soon(request_id, claimed)
                    if held is not None:  # the Slack lease came with the activation: the DM goes now
                        self.projection.sync_held(request_id, held)
                    changed = True
            elif work is Work.REMIND:
                changed = self.reminders.remind(request_id) or changed
            elif work is Work.ESCALATE:
                changed = self.escalations.look(request_id) or changed
            elif work is Work.REMIND_REVIEW:
                changed = self.break_glass.remind_review(request_id) or changed
            elif work is Work.WARN:
                changed = self.extensions.warn(request_id) or changed
            elif work is Work.STOP:
                ended = self.revocation.stop(request_id, row, slack_lease=True)
                if ended is not None:
                    self._stopped(request_id, ended)
                    return
        if changed:  # what is due now that the state moved (Slack, at least)?
            row = ctx.store.get_row(request_id)
            if row is None:
                return
        if Work.SYNC_SLACK in due_now(row, ctx.clock()):
            self.projection.sync_slack(request_id)
        if row.next_due_at != next_due(row):  # a row from before next_due_at, or an older schedule
            ctx.store.reschedule(request_id)
        ctx.arm(request_id, row)

    def _stopped(self, request_id: str, ended: Ended) -> None:
        """After a stop this tick made: Slack, under the lease the end took with it (a lease someone else held is
        theirs, and they catch up with the end), and the alarm for what is left (a break-glass review). With work
        waiting on the pool, revocation first: every stop waiting there goes out before the Slack updates, which
        follow on the pool (sessions that ended together, or while the bot was down)."""
        held = ended.slack
        if held is not None and self.ctx.timers.backlog():
            self.ctx.timers.kick(request_id, slack_lease_until=held.until, work=held.work)
        elif held is not None:
            self.projection.sync_held(request_id, held)
        self.ctx.arm(request_id, ended.row)

    def sweep(self, run: Callable[[str], None] | None = None) -> int:
        """Act on everything overdue: hand each due request to ``run`` (the scheduler's pool, so that a
        backlog, e.g. sessions whose window passed while the bot was down, is worked on in parallel), or
        tick it here, one after another. Returns how many requests were due."""
        due = self.ctx.store.due(self.ctx.clock())
        for request_id in due:
            (run or self.tick)(request_id)
        return len(due)

    def purge(self) -> int:
        """The retention (``RETENTION``): delete one batch of requests that ended more than that long ago, with
        their audit rows (``store.retention.purge``). Nothing without ``RETENTION``. Returns how many went."""
        retention = self.ctx.settings.retention
        if retention is None:
            return 0
        now = self.ctx.clock()
        return purge(self.ctx.store, now - retention, now)

    def reschedule_all(self) -> None:
        """At start: the alarm at the earliest ``next_due_at`` of all (deadlines, and the ends of leases a process
        that is gone may hold: this one's last run, or a crashed replica): one indexed read."""
        earliest = self.ctx.store.earliest_due()
        if earliest is not None:
            self.ctx.timers.wake_at("", earliest)

    def next_moment(self) -> datetime | None:
        """The next moment after now that any request needs work (the index's)."""
        return self.ctx.store.next_due_after(self.ctx.clock())

    def due_and_next(self, since: datetime, after: str | None, now: datetime,
                     limit: int) -> tuple[list[tuple[datetime, str]], datetime | None]:
        """What the alarm does when it rings: the requests that came due after ``since`` (at ``since`` itself, those
        after request ``after``) up to ``now``, at most ``limit``, earliest first (those due before are the sweep's),
        and the next moment after now that any request needs work."""
        return self.ctx.store.due_and_next(since, after, now, limit)
