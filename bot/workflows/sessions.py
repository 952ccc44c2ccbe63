"""Sessions: mint the token for an approval (``activate``), fail or expire a request. Every step runs under
the row's work lease and ends in one conditional transition; ending a session is ``revocation``'s.

Faults: a Descope refusal (4xx) fails the request at once, with the reason as data (``failure_for``); an
outage (after the client's retries) fails it too, never leaving it ``approved``. Descope's rate limit asking the bot
to wait longer than the impersonate call waits in its thread (``IMPERSONATE_PATIENCE``) puts the activation off
until its turn, booked at the gate (``transport.gate``: activations put off together come back one at a time, at the
pace Descope allows, none holding a worker meanwhile), while the approval is fresh (``ACTIVATION_DEADLINE``); a longer
wait fails it. A put-off of ``TOLD_AFTER`` or more is told: the thread and the requester (once a request).
A token minted for an activation that then cannot be recorded is revoked at once (``Revocation.revoke_orphan``). A
stop recorded while an approved request is being activated wins (``activate``); so does a crash during the
impersonate call, recorded before it is made: the request fails rather than mint a second token beside one nobody
holds.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import random
from datetime import UTC, datetime, timedelta

from bot.descope import LONGEST_CALL, DescopeError, DescopeRefused, DescopeUnavailable
from bot.domain import State
from bot.domain.audit import SYSTEM
from bot.domain.outcomes import (
    Ending,
    EndReason,
    Failure,
    FailureKind,
    PutOff,
    TokenFate,
)
from bot.domain.schedule import warning_time
from bot.store import RequestRow, Session, SlackHeld
from bot.store.errors import log_failure
from bot.workflows.about import about_request
from bot.workflows.context import Context
from bot.workflows.home import VIEWER_TTL
from bot.workflows.ports import SlackUnavailable
from bot.workflows.revocation import Revocation

log = logging.getLogger("bot.workflows")

SLACK_RETRY = timedelta(seconds=5)  # an unexpected fault hands the work back this soon
# An approval whose activation keeps failing for an unexpected reason (not a Descope answer: those fail
# the request at once) is retried every SLACK_RETRY, and failed once this much time has passed.
ACTIVATION_DEADLINE = timedelta(minutes=5)
# A shorter put-off is not told (nor audited): the session starts about as soon as its requester would look for it.
TOLD_AFTER = timedelta(seconds=10)
# A token an impersonate call mints lives its window from when Descope mints it: at most the client's longest call
# after the call is sent (its timeouts and retries), read on Descope's clock, which may run a little ahead of ours.
# The bound said of a token minted unseen is the window's end plus this.
MINT_GRACE = timedelta(seconds=LONGEST_CALL) + timedelta(minutes=1)


def failure_for(exc: DescopeError, *, login_id: str, tenant: str | None, impersonator: str,
                expires: datetime | None = None) -> Failure:
    """Descope's answer to an impersonate call (classified by ``bot.descope``: ``DescopeRefused.meaning``) as the
    failure the requester can act on (``expires``: until when a token minted unseen may live)."""
    if isinstance(exc, DescopeRefused):
        kind = FailureKind(exc.meaning(tenant_named=tenant is not None).value)  # the same names, as data of our own
    elif isinstance(exc, DescopeUnavailable) and exc.maybe_done:
        kind = FailureKind.MAYBE_MINTED
    else:
        kind = FailureKind.UNAVAILABLE
    return Failure(kind, login_id=login_id, tenant=tenant, impersonator=impersonator, status=exc.status, code=exc.code,
                   description=exc.description, error=str(exc),
                   expires=expires.isoformat() if expires and kind is FailureKind.MAYBE_MINTED else None)


def _claims(jwt: str) -> dict[str, object]:
    """A JWT's claims, unverified (Descope minted it and answered it to us: we only read what it says)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims if isinstance(claims, dict) else {}
    except (IndexError, ValueError, TypeError):
        return {}


def token_expiry(jwt: str) -> datetime | None:
    """The ``exp`` claim of a JWT."""
    try:
        return datetime.fromtimestamp(float(_claims(jwt)["exp"]), UTC)  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError):
        return None


def token_subject(jwt: str) -> str | None:
    """The ``sub`` claim of an impersonation JWT: the Descope user ID it acts as (``dsub`` where present)."""
    claims = _claims(jwt)
    subject = claims.get("dsub", claims.get("sub"))
    return subject if isinstance(subject, str) and subject else None


def _approvers_claim(row: RequestRow) -> dict[str, object]:
    """Under a rule needing several approvals, every approver (``approvedBy`` names the last); an extension names
    the session it extends."""
    claims: dict[str, object] = {}
    approvers = row.approvers
    if len(approvers) > 1:
        claims["approvers"] = list(approvers)
    if row.extends_id:
        claims["extends"] = row.extends_id
    return claims


class Sessions:
    def __init__(self, ctx: Context, revocation: Revocation) -> None:
        self.ctx = ctx
        self.revocation = revocation

    # -- activation -------------------------------------------------------------------------

    def activate(self, request_id: str, row: RequestRow | None = None) -> SlackHeld | None:
        """Mint the token for an approved request. The caller holds the work lease (``row``: the row as read with it,
        else read here). The move to ``active`` takes the Slack lease with it when free, answered (with the Slack work
        as the move left it), and the caller brings Slack up to date at once (``Projection.sync_held``), the requester's
        DM first.

        A stop recorded meanwhile (``Requests.request_stop`` on an approved request) wins: before the impersonate
        call nothing is minted (``stopped``); after it, the token is recorded, then stopped and revoked at once, and
        never delivered. The call in flight is recorded before it is made (``minting_until``): found set here, the
        bot stopped during a call, so Descope may have minted a token nobody holds, and the request fails saying
        until when that token can live, rather than mint a second one."""
        ctx = self.ctx
        row = row or ctx.store.get_row(request_id)
        if row is None or row.state != State.APPROVED.value:
            return None
        if row.minting_until is not None:  # first: called off since or not, a token may exist
            self.fail(request_id, Failure(FailureKind.MAYBE_MINTED, login_id=row.login_id, tenant=row.tenant,
                                          error="the impersonate call was cut off before its answer was recorded",
                                          expires=row.minting_until.isoformat()))
            return None
        if row.stop_requested_at is not None:
            self._called_off(row)
            return None
        barred = ctx.no_longer_allowed(row, timedelta(seconds=row.duration_s))
        if barred is not None:
            self.fail(request_id, barred)
            return None
        email = ctx.directory.email_of(row.requester_id)
        if not email:
            self.fail(request_id, Failure(FailureKind.NO_EMAIL))
            return None
        now = ctx.clock()  # after the look-up, however long it took: the window is counted from the call
        ends_at = now + timedelta(seconds=row.duration_s)
        if row.extends_id is not None:  # an extension: the session it extends must still be running
            session = ctx.store.get_row(row.extends_id)
            if session is None or session.state != State.ACTIVE.value or session.stop_requested_at is not None \
                    or session.ends_at is None:
                self.fail(request_id, Failure(FailureKind.ORIGINAL_ENDED, original=row.extends_id))
                return None
            ends_at = min(session.ends_at + timedelta(seconds=row.duration_s),
                          now + ctx.decision_of(row).max_duration)
        if not ctx.store.mark_minting(request_id, ends_at + MINT_GRACE):  # the call in flight, first: called off?
            return self.activate(request_id)
        try:
            token = ctx.descope.impersonate(
                login_id=row.login_id, impersonator_id=email, validate_consent=ctx.settings.validate_consent,
                refresh_duration=max(1, math.ceil((ends_at - now).total_seconds())), selected_tenant=row.tenant,
                custom_claims={"impersonationRequest": row.id, "approvedBy": row.decided_by,
                               "requestedBy": row.requester_id, **_approvers_claim(row)},
                booking=row.id,
            )
        except DescopeError as exc:
            if (put_off := self._put_off_for(row, exc)) is not None:
                self._put_off(row, put_off)
                return None
            self.fail(request_id, failure_for(exc, login_id=row.login_id, tenant=row.tenant, impersonator=email,
                                              expires=ends_at + MINT_GRACE))
            return None
        moved_at = ctx.clock()
        try:
            session_started = Session(
                impersonator=email, started_at=moved_at, ends_at=ends_at, token_sealed=ctx.sealer.seal(token),
                token_expires_at=token_expiry(token) or ends_at, delivery=ctx.settings.token_delivery,
                warn_at=warning_time(now, ends_at, ctx.settings.expiry_warning), target_user_id=token_subject(token))
            moved = ctx.store.start_session(request_id, session_started, now=moved_at, extends=row.extends_id,
                                            slack_lease_until=moved_at + ctx.leases.lease,
                                            viewers_since=moved_at - VIEWER_TTL)
        except Exception:  # the database failed us: end this token now (the retry would mint another)
            if self.revocation.revoke_orphan(token):
                self._minted_nothing(request_id)
            raise
        if moved is None:  # under our lease, only an extension's session ending meanwhile gets here
            if not self.revocation.revoke_orphan(token):
                log.error("request %s: the token minted for it could not be revoked; it dies at %s", request_id,
                          ends_at.isoformat())
            if row.extends_id is not None:
                log.info("request %s: the session it extends ended while the token was minted", request_id)
                self.fail(request_id, Failure(FailureKind.ORIGINAL_ENDED, original=row.extends_id))
            else:
                log.error("request %s left approved under us; revoked the token just minted", request_id)
            return None
        active, slack_held = moved
        if active.stop_requested_at is not None:  # called off during the call: the token goes at once, unseen
            log.info("request %s was called off while Descope minted its token; ending it now", request_id)
            if self.revocation.stop(request_id, active) is not None and slack_held is not None:
                slack_held = slack_held._replace(work=None)  # Slack is told of the end, not of a start first
        else:
            log.info("request %s active until %s", request_id, ends_at.isoformat())
        try:
            ctx.arm(request_id, active)
        except Exception:  # the Slack lease just taken must reach the caller; the sweep backs up a lost alarm
            log_failure(log, "request %s: its alarm could not be set; the sweep will stop it on time", request_id)
        return slack_held

    def _put_off_for(self, row: RequestRow, exc: DescopeError) -> PutOff | None:
        """Until when to put the activation off, if Descope's rate limit refused the impersonate call (nothing minted)
        and asked the bot to wait no longer than an approval may wait for its session (``ACTIVATION_DEADLINE``): its
        turn booked (``DescopeUnavailable.booked``), or else not before Descope's time, spread so that activations
        held together do not all come back at one instant."""
        if not isinstance(exc, DescopeUnavailable) or exc.status != 429 or exc.retry_after is None or exc.maybe_done:
            return None
        spread = 1.0 if exc.booked else random.uniform(1.0, 1.2)
        until = self.ctx.clock() + timedelta(seconds=exc.retry_after * spread)
        if until > (row.decided_at or row.created_at) + ACTIVATION_DEADLINE:
            return None
        return PutOff(until.isoformat(), exc.retry_after)

    def _put_off(self, row: RequestRow, put_off: PutOff) -> None:
        """Hand the activation back until then, telling the requester and the thread if it is long
        (``TOLD_AFTER``); called off meanwhile, it ends at once instead (``Store.put_off_activation``)."""
        ctx = self.ctx
        until, now = datetime.fromisoformat(put_off.until), ctx.clock()
        if not ctx.store.put_off_activation(row.id, put_off, until, now, tell=until - now >= TOLD_AFTER):
            return
        log.info("request %s: Descope's rate limit put its activation off until %s", row.id, put_off.until)
        found = ctx.store.get_row(row.id)
        if found is not None and found.state == State.APPROVED.value and found.stop_requested_at is not None:
            self._called_off(found)
        elif found is not None:
            ctx.arm(row.id, found)

    def _called_off(self, row: RequestRow) -> None:
        """An approved request stopped before its impersonate call: ``stopped``, no token minted."""
        ctx = self.ctx
        now = ctx.clock()
        actor = row.stop_requested_by or SYSTEM
        if ctx.store.end_unstarted(row.id, actor, Ending(EndReason.STOPPED_EARLY, TokenFate.NEVER_MINTED),
                                   now) is not None:
            log.info("request %s called off by %s before its token was minted", row.id, actor)

    def _minted_nothing(self, request_id: str) -> None:
        """The token of the call in flight is revoked (confirmed): no unseen token remains, so the retry may mint."""
        try:
            self.ctx.store.clear_minting(request_id)
        except Exception:  # the database is failing us still: the retry then fails the request as maybe minted
            log.warning("request %s: could not record that its orphaned token is revoked", request_id)

    @about_request
    def activate_or_retry_soon(self, request_id: str, row: RequestRow | None = None) -> SlackHeld | None:
        """Activate (answering the Slack lease it took, as ``activate``); on an unexpected fault (Slack or the
        database hiccuped) hand the work back to the sweep within seconds (Slack's rate limit: when it asked) instead
        of leaving it leased for a full minute."""
        ctx = self.ctx
        try:
            return self.activate(request_id, row)
        except Exception as exc:
            row = ctx.store.get_row(request_id)
            if row is not None and row.decided_at is not None and ctx.clock() - row.decided_at > ACTIVATION_DEADLINE:
                log_failure(log, "activating request %s failed for too long; giving up", request_id)
                self.fail(request_id, Failure(FailureKind.GAVE_UP, error=type(exc).__name__))
                return None
            wait = SLACK_RETRY
            if isinstance(exc, SlackUnavailable):  # users.info: Slack rate-limiting or failing; not a bug of ours
                wait = max(wait, timedelta(seconds=exc.retry_after or 0))
                log.warning("activating request %s: Slack did not answer (%s); retrying in %.0f s", request_id, exc,
                            wait.total_seconds())
            else:
                log_failure(log, "activating request %s failed; retrying shortly", request_id)
            retry = ctx.clock() + wait
            ctx.store.retry_activation_at(request_id, retry)
            ctx.arm(request_id)
            return None

    def fail(self, request_id: str, failure: Failure) -> None:
        log.warning("request %s failed: %s (%s)", request_id, failure.kind, failure.error or failure.code or "")
        self.ctx.store.fail(request_id, failure, self.ctx.clock())

    def expire_pending(self, request_id: str) -> None:
        if self.ctx.store.expire(request_id, self.ctx.clock()):
            log.info("request %s expired unanswered", request_id)
