"""Ending a session at Descope: the stop-impersonation call, then the revocation of the token itself.

Descope's stop-impersonation returns the actor's own JWT; nothing says it revokes the impersonation's
refresh token. So a session ends with two calls: ``stop_impersonation`` and then ``logout`` authenticated by
the token (``POST /v1/auth/logout``), which invalidates it. Both done, one write records it (the transition to
``stopped``); when the logout fails, the stop is recorded as done (``stop_called_at``) with the retry's backoff, so
the retry repeats only the logout. A crash between the calls and that write repeats both (a second stop is
refused by Descope as unknown, which counts as done).

A revocation is never taken on faith. A logout refused with one of Descope's codes for a dead token
(``DescopeRefused.token_dead``: revoked by a logout, expired) counts as done. Any other refusal (a 401 for another
reason, say from a gateway in front of Descope) is checked with a refresh of the token: refused with one of those codes,
the token is dead and the revocation done; accepted, or refused otherwise, the token may still work, so the logout is
retried like an outage, and after ``STOP_ALERT_AFTER`` attempts the channel hears that it is not revoked yet.

A call that fails (5xx, 429, network, or Descope refusing our credentials) is retried with backoff (honouring
``Retry-After``) until it succeeds or the token has expired on its own (``TOKEN_EXPIRY_GRACE`` after its
``exp``); the approvals channel hears of it after ``STOP_ALERT_AFTER`` failures. The sealed token is wiped only
once both calls are done or the token has expired. Every path that ends a session comes here: the window's end,
an early stop, a token DM Slack refused; ``revoke_orphan`` covers a token minted but never recorded.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.descope import DescopeError, DescopeRefused, DescopeUnavailable
from bot.domain import State
from bot.domain.audit import SYSTEM
from bot.domain.outcomes import Call, Ending, EndReason, StopFailing, TokenFate
from bot.domain.schedule import Work, due_now
from bot.store import Lease, RequestRow, SlackHeld
from bot.store.sealing import SealError
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.home import VIEWER_TTL

log = logging.getLogger("bot.workflows")

STOP_ALERT_AFTER = 3  # failed attempts before the approvals channel hears about it
STOP_BACKOFF_CAP = 60.0  # seconds between attempts, at most
# A call that keeps failing is retried until the token's own expiry plus this margin (clock skew between us
# and Descope); after that the token is dead on Descope's side and the session is closed.
TOKEN_EXPIRY_GRACE = timedelta(seconds=5)


class _RetryLater(Exception):
    """The session cannot be closed yet: a call failed and is scheduled again."""


@dataclass(frozen=True)
class Ended:
    """A session this call ended: its row as written, and the Slack lease taken with the end (``None``: not asked
    for, or another worker holds it and catches up with the end)."""

    row: RequestRow
    slack: SlackHeld | None


class Revocation:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @about_request
    def stop(self, request_id: str, row: RequestRow | None = None, *, slack_lease: bool = False) -> Ended | None:
        """End an active session if its stop is due (``schedule``; ``row``: as the caller just read it, else read
        here). Idempotent. ``Ended`` when this call ended it; with ``slack_lease``, the end takes the Slack lease too
        when free, and the caller brings Slack up to date under it (``Projection.sync_held``)."""
        ctx = self.ctx
        now = ctx.clock()
        row = row or ctx.store.get_row(request_id)
        if row is None or Work.STOP not in due_now(row, now):
            return None
        claimed = ctx.store.claim_work(request_id, State.ACTIVE, now, ctx.leases.lease)
        if claimed is None:
            return None
        with ctx.leases.holding(request_id, Lease.WORK, now + ctx.leases.lease):
            return self._end(claimed, slack_lease)

    def revoke_orphan(self, token: str) -> bool:
        """Best effort for a token nobody holds (minted, then the database failed us): stop and revoke it. True when
        the revocation is confirmed (as for a session: never taken on faith)."""
        descope = self.ctx.descope
        try:
            descope.stop_impersonation(token)
        except DescopeError as exc:
            log.warning("could not stop an orphaned token (%s); revoking it all the same", exc)
        try:
            descope.logout(token)
            return True
        except DescopeError as exc:
            if isinstance(exc, DescopeRefused) and self._dead(token, exc):
                return True
            log.error("could not revoke an orphaned token (%s); it dies at its own expiry", exc)
            return False

    def _end(self, row: RequestRow, slack_lease: bool) -> Ended | None:
        """End the session of ``row`` (read with the work lease, which the caller holds)."""
        ctx = self.ctx
        request_id = row.id
        early = row.stop_requested_at is not None and (row.ends_at is None or row.stop_requested_at < row.ends_at)
        reason = EndReason.EXTENDED if row.extended_by else EndReason.STOPPED_EARLY if early else EndReason.WINDOW_ENDED
        actor = row.stop_requested_by or SYSTEM
        try:
            token = ctx.sealer.open(row.token_sealed) if row.token_sealed else None
        except SealError:
            token = None
            log.error("request %s: the stored token cannot be unsealed (was TOKEN_ENCRYPTION_KEY changed?)",
                      request_id)
        ending = Ending(reason, TokenFate.UNSEALABLE) if token is None and row.token_sealed else Ending(reason)
        called = row.stop_called_at
        if token is not None:
            try:
                ending, called = self._revoke(row, token, reason)
            except _RetryLater:
                return None
        now = ctx.clock()
        moved = ctx.store.end_session(request_id, actor, ending, now, stop_called_at=called,
                                      slack_lease_until=now + ctx.leases.lease if slack_lease else None,
                                      viewers_since=now - VIEWER_TTL)
        if moved is None:
            return None
        stopped, slack_held = moved
        if reason is EndReason.WINDOW_ENDED and row.ends_at and stopped.stopped_at:
            ctx.observer.stopped_late((stopped.stopped_at - row.ends_at).total_seconds())
        log.info("request %s stopped (%s, token: %s)", request_id, ending.reason, ending.token or "revoked")
        return Ended(stopped, slack_held)

    def _revoke(self, row: RequestRow, token: str, reason: EndReason) -> tuple[Ending, datetime | None]:
        """Both calls, the stop skipped once done: how it ended, and when the stop was done. Raises ``_RetryLater``
        when one failed and is scheduled again."""
        ending = Ending(reason)
        called = row.stop_called_at
        if called is None:
            try:
                self.ctx.descope.stop_impersonation(token)
            except DescopeError as exc:
                if isinstance(exc, DescopeRefused) and not exc.refused_us:
                    # Descope turned down the token itself (unknown, expired, already stopped); revoke it anyway. A
                    # refusal of our credentials leaves the session maybe alive: retried like an outage.
                    ending = Ending(reason, TokenFate.UNKNOWN_TO_DESCOPE, exc.code or str(exc.status))
                else:
                    return self._failed(row, exc, Call.STOP, reason), None
            called = self.ctx.clock()
        try:
            self.ctx.descope.logout(token)
        except DescopeError as exc:
            if isinstance(exc, DescopeRefused) and self._dead(token, exc):  # already expired or revoked: done
                expired = row.token_expires_at is not None and row.token_expires_at <= self.ctx.clock()
                return (ending if ending.token or expired else Ending(reason, TokenFate.ALREADY_REVOKED)), called
            return self._failed(row, exc, Call.LOGOUT, reason, stop_called_at=called), called
        return ending, called

    def _dead(self, token: str, refused: DescopeRefused) -> bool:
        """Whether a logout Descope refused leaves the token dead: it said so (``token_dead``), or a refresh with the
        token is refused with such a code. Anything else (the refresh works, or fails for another reason) is no
        proof: the logout is retried."""
        if refused.token_dead:
            return True
        try:
            rotated = self.ctx.descope.refresh(token)
        except DescopeRefused as probe:
            if probe.token_dead:
                return True
            log.warning("the logout was refused (%s) and so was a refresh (%s): the token is not known to be revoked",
                        refused, probe)
            return False
        except DescopeError as probe:
            log.warning("the logout was refused (%s) and a refresh failed (%s): the token is not known to be revoked",
                        refused, probe)
            return False
        log.warning("the logout was refused (%s) but the token still refreshes: not revoked; retrying", refused)
        if rotated is not None:  # a project that rotates refresh tokens just issued a new one: it must not live on
            try:
                self.ctx.descope.logout(rotated)
            except DescopeError as exc:
                log.error("the refresh token the check was given could not be revoked (%s); it dies at the session's "
                          "end", exc)
        return False

    def _failed(self, row: RequestRow, exc: DescopeError, call: Call, reason: EndReason,
                stop_called_at: datetime | None = None) -> Ending:
        """Schedule another attempt (raising ``_RetryLater``), unless the token has expired by now; the stop, if
        ``stop_called_at``, is recorded as done with the backoff (the retry only logs out)."""
        ctx = self.ctx
        if row.token_expires_at is not None and row.token_expires_at + TOKEN_EXPIRY_GRACE <= ctx.clock():
            log.warning("request %s: the %s call failed (%s) but the token has expired; closing it", row.id, call, exc)
            return Ending(reason, TokenFate.EXPIRED_AFTER_FAILING)
        # Descope's rate limit (429) is a wait, not a failure: not counted toward the alert, and spread over a fifth
        # more than it asks, so that the sessions it held back together do not all come back in the same instant.
        limited = isinstance(exc, DescopeUnavailable) and exc.status == 429
        attempts = row.stop_attempts + (0 if limited else 1)
        seconds = min(STOP_BACKOFF_CAP, 2.0 ** min(max(attempts, 1) - 1, 6)) * random.uniform(0.5, 1.0)
        if row.token_expires_at is not None:  # one last try as soon as the token is surely dead
            seconds = min(seconds, max(0.5, (row.token_expires_at + TOKEN_EXPIRY_GRACE - ctx.clock()).total_seconds()))
        if isinstance(exc, DescopeUnavailable) and exc.retry_after is not None:  # as Descope asks
            seconds = max(seconds, min(exc.retry_after, STOP_BACKOFF_CAP) * random.uniform(1.0, 1.2))
        backoff = timedelta(seconds=seconds)
        log.warning("request %s: %s call failed (attempt %d, %s); retrying in %.0fs",
                    row.id, call, attempts, exc, backoff.total_seconds())
        ctx.store.retry_stop_at(row.id, ctx.clock() + backoff, attempts=attempts, stop_called_at=stop_called_at)
        if attempts == STOP_ALERT_AFTER and not limited:
            ctx.store.stop_failing(row.id, StopFailing(attempts, str(exc), call), ctx.clock())
            ctx.timers.kick(row.id)
        ctx.arm(row.id)
        raise _RetryLater
