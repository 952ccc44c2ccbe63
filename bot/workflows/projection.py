"""Slack as a projection of the database: the approval message, the token DM, the outcome DM and the
audit thread (a line per audit event, one reply for those of a pass: split at an expiry warning, which goes
to the requester, at an activation Descope's rate limit put off, which the requester is told of too, and every
``THREAD_LINES_PER_REPLY``), brought up to the row's ``version``.

Every change bumps the row's ``version``; ``sync_slack`` runs under the row's Slack lease and records how
far Slack got (``slack_version``, message timestamps, ``thread_posted_id``). A change that lands meanwhile
finds the lease taken and leaves the work to the holder, whose catch-up write (conditional on the version it
saw) then fails, so it makes another pass. Giving the lease back is part of that write: no change is ever
left unsynced. What to say lives in ``bot.slack``; this module decides only what is owed.

When the approvals channel refuses the approval message (the bot is not in it, the channel is archived or gone:
``ChannelRefused``), no approver can see the request: the requester is told at once, the audit records it,
``/metrics`` counts it, and the post is tried again less and less often (``_refused``). A request that ends before
the channel ever takes it is not posted there at all; its requester still hears how it ended.

After each sync the App Homes that show the request are published afresh (``Homes.republish``: the requester's
and the approvers', of those who opened the Home); that never raises, so a failing Home blocks nothing here.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain import RequestView, State
from bot.domain.audit import Action
from bot.domain.outcomes import NotPosted, PutOff, decode_detail
from bot.store import AuditEntry, Lease, Progress, RequestRow, SlackHeld, SlackWork, as_view
from bot.store.errors import log_failure
from bot.store.errors import unreachable as database_unreachable
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.extensions import Extensions
from bot.workflows.home import VIEWER_TTL, Homes
from bot.workflows.ports import ChannelRefused, SlackUnavailable
from bot.workflows.revocation import Revocation
from bot.workflows.sessions import SLACK_RETRY

#: Events the thread leaves out: the approval message itself says a request was made; a code mailed is noise.
_NOT_IN_THREAD = frozenset({Action.REQUESTED, Action.PROOF_SENT})

log = logging.getLogger("bot.workflows")

#: The most lines one thread reply carries (a backlog after an outage is posted in several).
THREAD_LINES_PER_REPLY = 20
#: After the approvals channel refuses the approval message, the next try waits this long, doubling each time up to
#: the cap (the channel is fixed by a person: the bot must not hammer it meanwhile).
POST_RETRY, POST_RETRY_CAP = timedelta(seconds=2), timedelta(minutes=1)


def _dm_of(row: RequestRow) -> tuple[str, str] | None:
    """The requester's DM the bot recorded for this request (where the token goes), if any."""
    return (row.dm_channel, row.dm_ts) if row.dm_channel and row.dm_ts else None


def _warning_of(row: RequestRow, progress: Progress) -> tuple[str, str] | None:
    """The expiry warning's DM, if one was sent (in this pass, or recorded before)."""
    channel, ts = progress.warning_channel or row.warning_channel, progress.warning_ts or row.warning_ts
    return (channel, ts) if channel and ts else None


class Projection:
    def __init__(self, ctx: Context, revocation: Revocation, homes: Homes, extensions: Extensions) -> None:
        self.ctx = ctx
        self.revocation = revocation
        self.homes = homes
        self.extensions = extensions

    def sync_held(self, request_id: str, held: SlackHeld | None) -> None:
        """``sync_slack`` after a change that took the Slack lease with it (``held``: the lease and the work as that
        change's transaction left it), or claiming it (``None``)."""
        if held is None:
            self.sync_slack(request_id)
        else:
            self.sync_slack(request_id, held.until, work=held.work)

    @about_request
    def sync_slack(self, request_id: str, slack_lease_until: datetime | None = None, *,
                   work: SlackWork | None = None) -> None:
        """Bring Slack up to date with the request (a no-op when another worker holds the Slack lease).
        ``slack_lease_until``: the caller took the Slack lease with its own change
        (``Store.start_session(slack_lease_until=…)``, ``Store.insert(slack_lease_until=…)``), held until then, so no
        write claims it; ``work``: the Slack work that change's transaction read (``SlackHeld``), else the row is read
        afresh. A change that came meanwhile bumped the version: the catch-up write then fails, and another pass
        reads it."""
        ctx = self.ctx
        now = ctx.clock()
        viewers_since = now - VIEWER_TTL  # whose Homes to publish again: read with the work
        if slack_lease_until is None:
            until = now + ctx.leases.lease
            work = ctx.store.claim_slack(request_id, now, until, viewers_since=viewers_since)
        else:
            until = slack_lease_until
            if work is None:
                work = ctx.store.slack_work(request_id, viewers_since=viewers_since)
        if work is None:
            return
        requester_id, viewers = work.row.requester_id, work.viewers
        holder = ctx.leases.hold(request_id, Lease.SLACK, until)
        caught_up = False
        retry = SLACK_RETRY
        try:
            while work is not None and not self._sync_once(work.row, work.unposted):
                work = ctx.store.slack_work(request_id)
                viewers = None  # a change came meanwhile: the Homes opened since are read again, after it
            caught_up = True  # the catch-up write gave the lease back
        except ChannelRefused as refused:
            retry = self._refused(request_id, refused)
        except SlackUnavailable as exc:
            log.warning("Slack update for request %s failed (%s); retrying shortly", request_id, exc)
            if exc.retry_after:  # not before Slack's time, spread so that updates held together do not meet again
                retry = max(retry, timedelta(seconds=exc.retry_after * random.uniform(1.0, 1.2)))
        except Exception:
            log_failure(log, "Slack update for request %s failed; retrying shortly", request_id)
        finally:
            ctx.leases.release(request_id, Lease.SLACK, holder=holder)
            if not caught_up:  # hand the work back soon, not after a whole lease
                ctx.store.retry_slack_at(request_id, ctx.clock() + retry)
        # Whatever Slack said above: the Homes read the database. Those who open their Home after the work was read
        # see this request as it is (the change came before), so the viewers read with it are all it needs.
        self.homes.republish(requester_id, viewers)

    def _refused(self, request_id: str, refused: ChannelRefused) -> timedelta:
        """The approvals channel refused the approval message: no approver sees the request. The first time, the
        audit records it and the requester is told at once (a DM: why, and who can fix it); every time it is counted
        (``Observer.approval_post_refused``), and the next try waits twice as long as the last (``POST_RETRY`` up to
        ``POST_RETRY_CAP``). Answers that wait."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        failures = (row.post_failures if row is not None else 0) + 1
        ctx.observer.approval_post_refused(refused.error)
        log.warning("request %s: the approvals channel %s refused its message (%s, %d in a row); no approver can see "
                    "it", request_id, refused.channel, refused.error, failures)
        if row is not None and failures == 1 and ctx.store.not_posted(
                request_id, NotPosted(refused.error, refused.channel), ctx.clock()):
            try:
                ctx.notifier.send_not_posted(as_view(row), refused)
            except Exception as exc:
                log.warning("request %s: could not tell the requester that no approver can see it (%s)", request_id,
                            type(exc).__name__)
        elif row is not None:
            ctx.store.count_post_failure(request_id, failures)
        wait: timedelta = min(POST_RETRY_CAP, POST_RETRY * 2 ** min(failures - 1, 10))
        return wait

    def _sync_once(self, row: RequestRow, unposted: list[AuditEntry]) -> bool:
        """One pass. Each message sent is recorded before the next is sent (a crash repeats at most one),
        and the last record rides on the catch-up write. True when caught up (the lease given back);
        false when the row changed meanwhile and another pass is needed."""
        notifier = self.ctx.notifier
        view = as_view(row)
        state = State(row.state)
        progress = Progress()
        if state is State.ACTIVE and row.delivered_at is None and not self._deliver(row, view):
            return False  # the DM failed and the session is being stopped: look again
        if row.channel_ts is None and state.is_final and row.post_failures:
            pass  # ended without the channel ever taking its message: the requester alone is told (below)
        elif row.channel_ts is None:
            try:
                channel, ts = notifier.post_request(view)
            except ChannelRefused:  # a break-glass alert's copy goes all the same: it may be the only one seen
                self._copy(row, view, progress)
                self._record(row.id, progress)
                raise
            progress.channel_id, progress.channel_ts, progress.post_failures = channel, ts, 0
            view = replace(view, channel_id=channel, channel_ts=ts)
        elif row.slack_version < row.version:
            notifier.update_request(view)
        self._copy(row, view, progress)
        batch: list[AuditEntry] = []  # the thread's next reply: what happened since the last
        for entry in unposted:
            if entry.action == Action.WARNED:  # the requester's, not the channel's
                self._post_thread(row.id, view, batch, progress)
                self._record(row.id, progress)
                if state is State.ACTIVE and not row.stop_requested_at:
                    progress.warning_channel, progress.warning_ts = notifier.send_warning(view, _dm_of(row))
                progress.thread_posted_id = entry.id
            elif entry.action == Action.PUT_OFF:  # the channel's (its line, recorded), then the requester's, once
                batch.append(entry)
                self._post_thread(row.id, view, batch, progress)
                self._record(row.id, progress)
                put_off = decode_detail(entry.detail)
                if state is State.APPROVED and not row.stop_requested_at and isinstance(put_off, PutOff) \
                        and self.ctx.clock() < (until := datetime.fromisoformat(put_off.until)):
                    notifier.send_put_off(view, until)  # at most once: a failure here is not tried again
            else:
                batch.append(entry)
                if len(batch) == THREAD_LINES_PER_REPLY:
                    self._post_thread(row.id, view, batch, progress)
        self._post_thread(row.id, view, batch, progress)
        if state.is_final and row.end_notified_at is None:
            self._record(row.id, progress)
            notifier.send_outcome(view, _dm_of(row), _warning_of(row, progress))
            progress.end_notified_at = self.ctx.clock()
        return self.ctx.store.slack_caught_up(row.id, row.version, progress)

    def _post_thread(self, request_id: str, view: RequestView, batch: list[AuditEntry], progress: Progress) -> None:
        """One reply in the approval message's thread for ``batch`` (a line per event), recorded like any message;
        ``batch`` is emptied. Some events get no line (``_NOT_IN_THREAD``)."""
        lines = [entry for entry in batch if entry.action not in _NOT_IN_THREAD]
        if lines:
            self._record(request_id, progress)
            self.ctx.notifier.post_thread(view, lines)
        if batch:
            progress.thread_posted_id = batch[-1].id
        batch.clear()

    def _copy(self, row: RequestRow, view: RequestView, progress: Progress) -> None:
        """A break-glass alert's copy in ``BREAK_GLASS_CHANNEL``: posted once (recorded before; a channel that
        refuses it is logged and not asked again: the approvals channel has the alert), then kept in step."""
        channel = self.ctx.settings.break_glass_channel
        if not row.break_glass or not channel or channel == self.ctx.settings.approval_channel:
            return
        if row.alert_channel is None:
            self._record(row.id, progress)
            try:
                progress.alert_channel, progress.alert_ts = self.ctx.notifier.post_copy(view, channel)
            except ChannelRefused as refused:
                log.warning("request %s: BREAK_GLASS_CHANNEL %s refused the alert's copy (%s)", row.id, channel,
                            refused.error)
                progress.alert_channel = channel
        elif row.alert_ts and row.slack_version < row.version:
            self.ctx.notifier.update_copy(view, (row.alert_channel, row.alert_ts))

    def _record(self, request_id: str, progress: Progress) -> None:
        """Write down what Slack has received so far (before the next call to Slack)."""
        if progress:
            self.ctx.store.record_progress(request_id, progress)
            progress.clear()

    def _deliver(self, row: RequestRow, view: RequestView) -> bool:
        """Give the requester their session. If Slack will not take the DM, the session must not live on:
        stop it at once and answer false. If Slack failed on its side (``SlackUnavailable``: a 5xx, no answer), the
        sync tries again shortly: the DM may then come twice (it holds no secret), the session is not lost. A
        session asked to stop before it was delivered is never delivered.

        ``reveal`` (the default): one DM saying the session is ready, with a Show token button; the token is
        never the text of a message (``Tokens.reveal`` shows it in a modal). The DM is recorded with the delivery
        (a crash in between repeats that DM, which holds no secret). ``dm``: two steps, each recorded
        before the next: a DM without the token, then an edit that puts the token in. Whatever the crash, a
        retry edits the message it recorded rather than posting the token again, so the one message the
        session's end redacts is the only one that ever held the token.

        An extension's session, once its token is the requester's, retires the session it replaces
        (``Extensions.retire``) before ``delivered_at`` is written: a crash in between repeats the delivery (no new
        message: the DM is recorded) and the retirement (conditional: at most once)."""
        ctx = self.ctx
        assert row.token_sealed is not None
        if row.stop_requested_at is not None:  # stopped before it reached the requester: nothing to hand over
            ctx.store.mark_delivered(row.id, ctx.clock())
            return True
        fresh = None  # a ready DM posted now: recorded with the delivery, in one write
        try:
            dm = _dm_of(row)
            if row.delivery == "reveal":
                if dm is None:
                    dm = fresh = ctx.notifier.post_ready(view)
            else:
                if dm is None:  # recorded before the token goes in: a retry edits this message, never posts anew
                    dm = ctx.notifier.open_token_dm(view)
                    ctx.store.record_token_dm(row.id, *dm)
                ctx.notifier.show_token(view, dm, ctx.sealer.open(row.token_sealed))
        except SlackUnavailable:  # Slack failed on its side: the sync delivers it later (the window runs on)
            raise
        except Exception as exc:
            if database_unreachable(exc):  # the database, not Slack: the sync delivers it later too
                raise
            log.error("request %s: the token could not be delivered by DM (%s); stopping the session",
                      row.id, type(exc).__name__)
            ctx.store.delivery_failed(row.id, ctx.clock())  # a stop asked for already: just never deliver
            self.revocation.stop(row.id)
            return False
        self.extensions.retire(row)  # an extension's token is the requester's: the session it replaces may end
        ctx.store.mark_delivered(row.id, ctx.clock(), dm=fresh)
        return True
