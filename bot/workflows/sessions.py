"""Sessions: mint the token for an approval (``activate``), end a session (``stop``), fail or expire a
request. Every step runs under the row's work lease and ends in one conditional transition.

Faults: a Descope refusal (4xx) fails the request at once, with the reason as data (``failure_for``); an
outage (after the client's retries) fails it too, never leaving it ``approved``. A failing stop call is
retried with backoff (honouring ``Retry-After``) until it succeeds or the token has expired on its own; the
approvals channel hears of it after ``STOP_ALERT_AFTER`` failures, and the sealed token is wiped only once
the stop succeeded or the token expired.
"""

from __future__ import annotations

import base64
import json
import logging
import random
from datetime import UTC, datetime, timedelta

from bot.descope import DescopeError, DescopeRefused, DescopeUnavailable
from bot.domain import State
from bot.domain.outcomes import (
    Activated,
    Ending,
    EndReason,
    Failure,
    FailureKind,
    StopFailing,
    TokenFate,
    encode,
)
from bot.domain.schedule import Work, due_now
from bot.sealing import SealError
from bot.store import RequestRow
from bot.workflows.context import SYSTEM, Context

log = logging.getLogger("bot.workflows")

SLACK_RETRY = timedelta(seconds=5)  # an unexpected fault hands the work back this soon
STOP_ALERT_AFTER = 3  # failed stop attempts before the approvals channel hears about it
STOP_BACKOFF_CAP = 60.0  # seconds between stop attempts, at most
# A stop call Descope refuses with these statuses refused *us* (a rotated or under-privileged management
# key), not the token: the session may still be alive, so the stop is retried like an outage.
CREDENTIALS_REFUSED = frozenset({401, 403})
# A stop call that keeps failing is retried until the token's own expiry plus this margin (clock skew
# between us and Descope); after that the token is dead on Descope's side and the session is closed.
TOKEN_EXPIRY_GRACE = timedelta(seconds=5)
# An approval whose activation keeps failing for an unexpected reason (not a Descope answer: those fail
# the request at once) is retried every SLACK_RETRY, and failed once this much time has passed.
ACTIVATION_DEADLINE = timedelta(minutes=5)


def failure_for(exc: DescopeError, *, login_id: str, tenant: str | None, impersonator: str) -> Failure:
    """Descope's answer to an impersonate call, classified: what the requester can act on."""
    facts = dict(login_id=login_id, tenant=tenant, impersonator=impersonator, status=exc.status, code=exc.code,
                 description=exc.description, error=str(exc))
    if not isinstance(exc, DescopeRefused):
        maybe = isinstance(exc, DescopeUnavailable) and exc.maybe_done
        return Failure(FailureKind.MAYBE_MINTED if maybe else FailureKind.UNAVAILABLE, **facts)  # type: ignore[arg-type]
    said = " ".join(part for part in (exc.description, exc.message) if part).lower()
    if exc.status == 401:
        kind = FailureKind.MANAGEMENT_KEY
    elif exc.status == 403 or "not allowed" in said or "permission" in said:
        kind = FailureKind.NO_PERMISSION
    elif "consent" in said:
        kind = FailureKind.NO_CONSENT
    elif exc.code == "E112102" or "not found" in said or "no such user" in said:
        kind = FailureKind.UNKNOWN_USER
    elif "tenant" in said:
        kind = FailureKind.NOT_IN_TENANT if tenant else FailureKind.BAD_TENANT
    else:
        kind = FailureKind.REFUSED
    return Failure(kind, **facts)  # type: ignore[arg-type]


def token_expiry(jwt: str) -> datetime | None:
    """The ``exp`` claim of a JWT (unverified: Descope minted it; we only need the time)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Sessions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- activation -------------------------------------------------------------------------

    def activate(self, request_id: str) -> None:
        """Mint the token for an approved request. The caller holds the work lease."""
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        if row is None or row.state != State.APPROVED.value:
            return
        now = ctx.clock()
        email = ctx.directory.email_of(row.requester_id)
        if not email:
            self.fail(request_id, Failure(FailureKind.NO_EMAIL))
            return
        try:
            token = ctx.descope.impersonate(
                login_id=row.login_id, impersonator_id=email, validate_consent=ctx.settings.validate_consent,
                refresh_duration=row.duration_s, selected_tenant=row.tenant,
                custom_claims={"impersonationRequest": row.id, "approvedBy": row.decided_by,
                               "requestedBy": row.requester_id},
            )
        except DescopeError as exc:
            self.fail(request_id, failure_for(exc, login_id=row.login_id, tenant=row.tenant, impersonator=email))
            return
        ends_at = now + timedelta(seconds=row.duration_s)
        try:
            active = ctx.store.transition(
                request_id, [State.APPROVED], State.ACTIVE, actor=SYSTEM, action="activated", now=ctx.clock(),
                detail=encode(Activated(email)),
                impersonator=email, started_at=now, ends_at=ends_at,
                token_expires_at=token_expiry(token) or ends_at, token_sealed=ctx.sealer.seal(token),
                lease_until=None,
            )
        except Exception:  # the database failed us: the retry mints a new token, so end this one now
            self._try_stop_token(token)
            raise
        if active is None:  # cannot happen while we hold the lease; never leave a token alive
            log.error("request %s left approved under us; revoking the token just minted", request_id)
            self._try_stop_token(token)
            return
        log.info("request %s active until %s", request_id, ends_at.isoformat())
        ctx.arm(request_id)

    def activate_or_retry_soon(self, request_id: str) -> None:
        """Activate; on an unexpected fault (Slack or the database hiccuped) hand the work back to the
        sweep within seconds instead of leaving it leased for a full minute."""
        ctx = self.ctx
        try:
            self.activate(request_id)
        except Exception as exc:
            row = ctx.store.get_row(request_id)
            if row is not None and row.decided_at is not None and ctx.clock() - row.decided_at > ACTIVATION_DEADLINE:
                log.exception("activating request %s failed for too long; giving up", request_id)
                self.fail(request_id, Failure(FailureKind.GAVE_UP, error=type(exc).__name__))
                return
            log.exception("activating request %s failed; retrying shortly", request_id)
            retry = ctx.clock() + SLACK_RETRY
            ctx.store.set_fields(request_id, where=[RequestRow.state == State.APPROVED.value], lease_until=retry)
            ctx.arm(request_id)

    def fail(self, request_id: str, failure: Failure) -> None:
        log.warning("request %s failed: %s (%s)", request_id, failure.kind, failure.error or failure.code or "")
        encoded = encode(failure)
        self.ctx.store.transition(
            request_id, [State.APPROVED], State.FAILED, actor=SYSTEM, action="failed", now=self.ctx.clock(),
            detail=encoded, failure=encoded, lease_until=None,
        )

    def expire_pending(self, request_id: str) -> None:
        now = self.ctx.clock()
        expired = self.ctx.store.transition(
            request_id, [State.PENDING], State.EXPIRED, actor=SYSTEM, action="expired", now=now,
            where=[RequestRow.pending_until <= now],
        )
        if expired is not None:
            log.info("request %s expired unanswered", request_id)

    # -- the end of a session ---------------------------------------------------------------

    def stop(self, request_id: str) -> bool:
        """End an active session if its stop is due (``schedule``). Idempotent. True when this call ended it."""
        ctx = self.ctx
        now = ctx.clock()
        row = ctx.store.get_row(request_id)
        if row is None or Work.STOP not in due_now(row, now):
            return False
        if not ctx.store.claim_work(request_id, State.ACTIVE, now, ctx.leases.lease):
            return False
        with ctx.leases.holding(request_id, "lease_until", now + ctx.leases.lease):
            return self._stop_claimed(request_id)

    def _stop_claimed(self, request_id: str) -> bool:
        ctx = self.ctx
        row = ctx.store.get_row(request_id)
        assert row is not None
        early = row.stop_requested_at is not None and (row.ends_at is None or row.stop_requested_at < row.ends_at)
        reason = EndReason.STOPPED_EARLY if early else EndReason.WINDOW_ENDED
        actor = row.stop_requested_by or SYSTEM
        try:
            token = ctx.sealer.open(row.token_sealed) if row.token_sealed else None
        except SealError:
            token = None
            log.error("request %s: the stored token cannot be unsealed (was TOKEN_ENCRYPTION_KEY changed?)",
                      request_id)
        ending = Ending(reason, TokenFate.UNSEALABLE) if token is None and row.token_sealed else Ending(reason)
        if token is not None:
            try:
                ctx.descope.stop_impersonation(token)
            except DescopeError as exc:
                if isinstance(exc, DescopeRefused) and exc.status not in CREDENTIALS_REFUSED:
                    # Descope turned down the token itself (unknown, expired, already stopped): it is dead.
                    ending = Ending(reason, TokenFate.UNKNOWN_TO_DESCOPE, exc.code or str(exc.status))
                elif row.token_expires_at is None or row.token_expires_at + TOKEN_EXPIRY_GRACE > ctx.clock():
                    self._stop_failed(row, exc)
                    return False
                else:
                    log.warning("request %s: the stop call failed (%s) but the token has expired; closing it",
                                request_id, exc)
                    ending = Ending(reason, TokenFate.EXPIRED_AFTER_FAILING)
        stopped = ctx.store.transition(
            request_id, [State.ACTIVE], State.STOPPED, actor=actor, action="stopped", now=ctx.clock(),
            detail=encode(ending), stopped_at=ctx.clock(), stopped_by=actor, token_sealed=None, lease_until=None,
        )
        if stopped is not None:
            log.info("request %s stopped (%s, token: %s)", request_id, ending.reason, ending.token or "stopped")
        return stopped is not None

    def _stop_failed(self, row: RequestRow, exc: DescopeError) -> None:
        ctx = self.ctx
        attempts = row.stop_attempts + 1
        seconds = min(STOP_BACKOFF_CAP, 2.0 ** min(attempts - 1, 6)) * random.uniform(0.5, 1.0)
        if row.token_expires_at is not None:  # one last try as soon as the token is surely dead
            seconds = min(seconds, max(0.5, (row.token_expires_at + TOKEN_EXPIRY_GRACE - ctx.clock()).total_seconds()))
        if isinstance(exc, DescopeUnavailable) and exc.retry_after is not None:  # 429: as Descope asks
            seconds = max(seconds, min(exc.retry_after, STOP_BACKOFF_CAP))
        backoff = timedelta(seconds=seconds)
        log.warning("request %s: stop call failed (attempt %d, %s); retrying in %.0fs",
                    row.id, attempts, exc, backoff.total_seconds())
        ctx.store.set_fields(row.id, stop_attempts=attempts, lease_until=ctx.clock() + backoff)
        if attempts == STOP_ALERT_AFTER:
            ctx.store.record(row.id, actor=SYSTEM, action="stop_failing", now=ctx.clock(),
                             detail=encode(StopFailing(attempts, str(exc))))
            ctx.timers.kick(row.id)
        ctx.arm(row.id)

    def _try_stop_token(self, token: str) -> None:
        try:
            self.ctx.descope.stop_impersonation(token)
        except DescopeError as exc:
            log.error("could not revoke an orphaned token (%s); it dies at its own expiry", exc)
