"""Use-cases: submit, decide (approve/deny), activate, stop, expire, and keeping Slack in step.

The service owns every transaction and every call out. It knows Slack only through two small ports:
``Directory`` (who is whose email, who is in which group) and ``Notifier`` (post and edit messages).

How a request moves (each step is a conditional update in ``Store``; see ``domain`` for the graph):

    submit ──▶ pending ──decide──▶ approved ──activate──▶ active ──stop──▶ stopped
                                                  (Descope)          (Descope)

Slack is a projection of the database: every change bumps the row's ``version``; ``sync_slack``
brings the approval message, the DMs and the audit thread up to that version, and records how far
it got. ``tick`` looks at one request and does whatever is due; the scheduler calls it at the
exact moment (``wake_at``) and the periodic ``sweep`` calls it for anything overdue, so a restart
or a lost job delays work by at most one sweep interval and never loses it.

Calls out (Descope, Slack) run under a lease on the row, renewed while the work lasts
(``renew_leases``); a process killed mid-call leaves a lease that runs out within ``lease`` (three
sweep intervals, at least five seconds), after which any replica's sweep redoes the work.

Faults: a Descope refusal (4xx) fails the request at once, with a plain-language reason and Descope's
error code; an outage (after the client's retries) fails it too, never leaving it ``approved``. A
failing stop call is retried with backoff (honouring ``Retry-After``) until it succeeds or the token
has expired on its own; the approvals channel hears of it after ``STOP_ALERT_AFTER`` failures, and the
sealed token is wiped only once the stop succeeded or the token expired. A token DM Slack will not take
stops the session at once.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.config import Settings
from bot.descope import DescopeError, DescopeRefused, DescopeUnavailable
from bot.domain import (
    AlreadyDecided,
    Draft,
    NotAllowed,
    NotFound,
    PolicyViolation,
    RequestView,
    State,
    check_approver,
    check_duration,
    check_may_stop,
)
from bot.sealing import Sealer, SealError
from bot.store import AuditEntry, RequestRow, Store, as_view, utcnow

log = logging.getLogger(__name__)

SYSTEM = "system"
# Leases on a row (work: Descope calls; Slack: the projection) last LEASE. A keeper thread renews the
# leases a live process holds every third of that (``renew_leases``), so slow work keeps its lease while a
# killed process's lease runs out within seconds; at start every live lease gets a wake-up at its end, and
# the sweep (here or on another replica) takes the work over.
LEASE = timedelta(seconds=4)
LEASE_SLACK = timedelta(milliseconds=20)  # wake just after a lease ends, not just before
SLACK_RETRY = timedelta(seconds=5)
CLICK_WAIT = timedelta(seconds=3)  # a click may beat the commit of its message's ts by a moment
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


class Descope(Protocol):
    def impersonate(self, *, login_id: str, impersonator_id: str, validate_consent: bool,
                    refresh_duration: int, selected_tenant: str | None = None,
                    custom_claims: dict[str, Any] | None = None) -> str: ...

    def stop_impersonation(self, jwt: str) -> None: ...


class Directory(Protocol):
    def email_of(self, user_id: str) -> str | None: ...

    def is_member(self, user_id: str, principals: Collection[str]) -> bool: ...


class Notifier(Protocol):
    """What the service asks of Slack. Every method raises on failure (after its own retries)."""

    def post_request(self, request: RequestView) -> tuple[str, str]: ...

    def update_request(self, request: RequestView) -> None: ...

    def post_thread(self, request: RequestView, entry: AuditEntry) -> None: ...

    def open_token_dm(self, request: RequestView) -> tuple[str, str]:
        """DM the requester that their token is coming (no secret in it); returns the message's channel and ts."""
        ...

    def show_token(self, request: RequestView, dm: tuple[str, str], token: str) -> None:
        """Put the token into that DM (an edit: doing it twice leaves one message holding the token)."""
        ...

    def send_outcome(self, request: RequestView, dm: tuple[str, str] | None) -> None: ...


class Timers(Protocol):
    def wake_at(self, request_id: str, when: datetime) -> None:
        """Tick the request at ``when`` (its one deadline: a later call replaces the earlier)."""
        ...

    def kick(self, request_id: str, at: datetime | None = None) -> None:
        """Tick the request now (or at ``at``), on a worker, besides any deadline."""
        ...


class _NoTimers:
    def wake_at(self, request_id: str, when: datetime) -> None:
        pass

    def kick(self, request_id: str, at: datetime | None = None) -> None:
        pass


def explain_refusal(exc: DescopeRefused, *, login_id: str, tenant: str | None, impersonator: str) -> str:
    """Descope's 4xx answer to an impersonate call, in words a requester can act on, with its code."""
    said = " ".join(part for part in (exc.description, exc.message) if part).lower()
    if exc.status == 401:
        plain = "it did not accept the bot's management key (check DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY)"
    elif exc.status == 403 or "not allowed" in said or "permission" in said:
        where = f" in tenant {tenant}" if tenant else ""
        plain = (f"your Descope user ({impersonator}) is not allowed to impersonate{where}: "
                 "it needs the Impersonate permission")
    elif "consent" in said:
        plain = f"{login_id} has not consented to being impersonated"
    elif exc.code == "E112102" or "not found" in said or "no such user" in said:
        plain = f"there is no Descope user with login ID {login_id}"
    elif "tenant" in said:
        plain = f"{login_id} is not a member of tenant {tenant}" if tenant else "the tenant is not valid for this user"
    else:
        plain = exc.description.rstrip(".")
    code = " ".join(part for part in (exc.code, f"HTTP {exc.status}" if exc.status else None) if part)
    return f"Descope refused: {plain} (Descope said: {exc.description}; {code or 'no error code'})"


def explain_unavailable(exc: DescopeError) -> str:
    """Why an impersonate call got no usable answer (outage, rate limit, network), for the requester."""
    if isinstance(exc, DescopeUnavailable) and exc.maybe_done:
        return (f"Descope did not answer the impersonate call ({exc}), so no session was started. If Descope "
                "minted a token anyway, nobody received it, and it expires at the end of the approved window. "
                "Ask again in a few minutes.")
    return f"Descope could not be reached, so no session was started: {exc}. Ask again in a few minutes."


class _Leases:
    """The leases this process holds right now: ``(request ID, column) -> lease_until`` as written, and
    which holder (a ``hold`` of this process) it belongs to.

    The keeper renews each with a compare-and-set on that exact value, so a lease that ran out and was
    taken by another worker, or that its holder already gave back, is never extended by mistake. A holder
    forgets only its own entry: once it has given the lease back in the database, another thread of this
    process may already hold the next one, which must go on being renewed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[datetime, object]] = {}

    def hold(self, request_id: str, column: str, until: datetime) -> object:
        """Record a lease taken; returns the holder's key for ``release``."""
        holder = object()
        with self._lock:
            self._held[(request_id, column)] = (until, holder)
        return holder

    def release(self, request_id: str, column: str, *, holder: object | None = None,
                only_if: datetime | None = None) -> None:
        """Forget the lease if it is still ``holder``'s (or still at ``only_if``)."""
        with self._lock:
            held = self._held.get((request_id, column))
            if held is not None and (holder is None or held[1] is holder) and (only_if is None or held[0] == only_if):
                del self._held[(request_id, column)]

    def moved(self, request_id: str, column: str, old: datetime, new: datetime) -> bool:
        with self._lock:
            held = self._held.get((request_id, column))
            if held is None or held[0] != old:
                return False
            self._held[(request_id, column)] = (new, held[1])
            return True

    def snapshot(self) -> list[tuple[str, str, datetime]]:
        with self._lock:
            return [(request_id, column, until) for (request_id, column), (until, _) in self._held.items()]


def _dm_of(row: RequestRow) -> tuple[str, str] | None:
    """The requester's DM the bot recorded for this request (where the token goes), if any."""
    return (row.dm_channel, row.dm_ts) if row.dm_channel and row.dm_ts else None


@dataclass(frozen=True)
class Listing:
    mine: list[RequestView]
    active: list[RequestView] | None  # every active session, for approvers only


def token_expiry(jwt: str) -> datetime | None:
    """The ``exp`` claim of a JWT (unverified: Descope minted it; we only need the time)."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Service:
    def __init__(self, settings: Settings, store: Store, descope: Descope, directory: Directory,
                 notifier: Notifier, sealer: Sealer, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.store = store
        self.descope = descope
        self.directory = directory
        self.notifier = notifier
        self.sealer = sealer
        self.clock = clock
        self.timers: Timers = _NoTimers()
        self.lease = LEASE
        self._leases = _Leases()

    # -- who may ----------------------------------------------------------------------------

    def is_approver(self, user_id: str) -> bool:
        return self.directory.is_member(user_id, self.settings.approvers)

    def is_requester(self, user_id: str) -> bool:
        return self.directory.is_member(user_id, self.settings.effective_requesters)

    # -- use-cases started by people --------------------------------------------------------

    def submit(self, requester_id: str, draft: Draft) -> RequestView:
        """Store a new request and have the approval message posted. Raises ``DomainError``."""
        s = self.settings
        if not self.is_requester(requester_id):
            raise NotAllowed("You are not allowed to request impersonation. Ask an admin to add you to REQUESTERS.")
        problem = check_duration(draft.duration, s.min_duration, s.max_duration)
        if problem:
            raise PolicyViolation(f"That window is out of policy: {problem}.")
        def within_caps(live: RequestView | None, pending: int) -> None:
            if live is not None:
                raise PolicyViolation(
                    f"You already have request `{live.id}` ({live.state}) for `{live.login_id}`: "
                    f"stop it with `/impersonate stop {live.id}` before asking again."
                )
            if pending >= s.max_pending_per_requester:
                raise PolicyViolation(
                    f"You already have {s.max_pending_per_requester} requests waiting for approval: "
                    "wait for an answer or withdraw one with `/impersonate stop <id>`."
                )

        now = self.clock()
        request = self.store.insert(
            requester_id=requester_id, login_id=draft.login_id, tenant=draft.tenant,
            duration=draft.duration, reason=draft.reason, pending_until=now + s.pending_timeout, now=now,
            guard=within_caps,
        )
        log.info("request %s submitted by %s", request.id, requester_id)
        self.timers.wake_at(request.id, request.pending_until)
        self.timers.kick(request.id)
        return request

    def decide(self, request_id: str, clicker: str, approve: bool, *, message_ts: str) -> RequestView:
        """An Approve or Deny click. On approval, activates at once (Descope) and syncs Slack.

        ``message_ts`` is the message the click came from: it must be the one the bot posted for
        this request, so a button on any other message decides nothing."""
        request = self._get(request_id)
        deadline = time.monotonic() + CLICK_WAIT.total_seconds()
        while request.channel_ts is None and time.monotonic() < deadline:
            # Slack shows the message once it has answered chat.postMessage, a moment before the
            # worker that posted it has stored its ts: a quick click (or another replica) can land
            # in between. Give that worker a moment rather than refuse a genuine click.
            time.sleep(0.05)
            request = self._get(request_id)
        if request.channel_ts is None:
            raise NotAllowed("This request's approval message is still being posted: try again in a moment.")
        if message_ts != request.channel_ts:
            raise NotAllowed("That button does not belong to this request's approval message.")
        check_approver(clicker, request.requester_id, self.is_approver(clicker))
        now = self.clock()
        if request.state is State.PENDING and request.pending_until <= now:
            self.expire_pending(request_id)
            raise AlreadyDecided(self._get(request_id))
        lease_until = now + self.lease
        if approve:
            decided = self.store.transition(
                request_id, [State.PENDING], State.APPROVED, actor=clicker, action="approved", now=now,
                where=[RequestRow.pending_until > now],
                decided_by=clicker, decided_at=now, lease_until=lease_until,
            )
        else:
            decided = self.store.transition(
                request_id, [State.PENDING], State.DENIED, actor=clicker, action="denied", now=now,
                where=[RequestRow.pending_until > now], decided_by=clicker, decided_at=now,
            )
        if decided is None:
            raise AlreadyDecided(self._get(request_id))
        log.info("request %s %s by %s", request_id, decided.state, clicker)
        if approve:
            with self._holding(request_id, "lease_until", lease_until):
                self._activate_or_retry_soon(request_id)
        self.sync_slack(request_id)
        return self._get(request_id)

    def request_stop(self, request_id: str, actor: str) -> RequestView:
        """``/impersonate stop``: end an active session early, or withdraw a pending request."""
        request = self._get(request_id)
        check_may_stop(actor, request, self.is_approver(actor))
        now = self.clock()
        if request.state is State.PENDING:
            own = actor == request.requester_id
            withdrawn = self.store.transition(
                request_id, [State.PENDING], State.DENIED, actor=actor, action="withdrawn" if own else "denied",
                now=now, detail="withdrawn before approval" if own else "denied with /impersonate stop",
                decided_by=actor, decided_at=now,
            )
            if withdrawn is None:
                return self.request_stop(request_id, actor)
            self.timers.kick(request_id)
            return withdrawn
        if request.state is State.APPROVED:
            raise PolicyViolation(f"Request `{request_id}` is being activated right now: try again in a moment.")
        if request.state is not State.ACTIVE:
            raise PolicyViolation(f"Request `{request_id}` is not active (it is {request.state}).")
        self.store.record(
            request_id, actor=actor, action="stop_requested", now=now,
            where=[RequestRow.state == State.ACTIVE.value, RequestRow.stop_requested_at.is_(None)],
            stop_requested_at=now, stop_requested_by=actor,
        )
        self.timers.kick(request_id)
        return self._get(request_id)

    def listing(self, user_id: str) -> Listing:
        mine = self.store.list_requests(requester_id=user_id, limit=10)
        active = self.store.list_requests(states=[State.ACTIVE, State.APPROVED], limit=50) \
            if self.is_approver(user_id) else None
        return Listing(mine=mine, active=active)

    # -- work done by the bot ---------------------------------------------------------------

    def activate(self, request_id: str) -> None:
        """Mint the token for an approved request. The caller holds the work lease."""
        row = self.store.get_row(request_id)
        if row is None or row.state != State.APPROVED.value:
            return
        now = self.clock()
        duration = timedelta(seconds=row.duration_s)
        email = self.directory.email_of(row.requester_id)
        if not email:
            self._fail(request_id, "the requester's Slack profile has no email address to impersonate as")
            return
        try:
            token = self.descope.impersonate(
                login_id=row.login_id, impersonator_id=email, validate_consent=self.settings.validate_consent,
                refresh_duration=row.duration_s, selected_tenant=row.tenant,
                custom_claims={"impersonationRequest": row.id, "approvedBy": row.decided_by,
                               "requestedBy": row.requester_id},
            )
        except DescopeRefused as exc:
            self._fail(request_id, explain_refusal(exc, login_id=row.login_id, tenant=row.tenant,
                                                   impersonator=email))
            return
        except DescopeError as exc:
            self._fail(request_id, explain_unavailable(exc))
            return
        ends_at = now + duration
        try:
            active = self.store.transition(
                request_id, [State.APPROVED], State.ACTIVE, actor=SYSTEM, action="activated", now=self.clock(),
                detail=f"impersonating as {email}",
                impersonator=email, started_at=now, ends_at=ends_at,
                token_expires_at=token_expiry(token) or ends_at, token_sealed=self.sealer.seal(token),
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
        self.timers.wake_at(request_id, ends_at)

    def _activate_or_retry_soon(self, request_id: str) -> None:
        """Activate; on an unexpected fault (Slack or the database hiccuped) hand the work back to the
        sweep within seconds instead of leaving it leased for a full minute."""
        try:
            self.activate(request_id)
        except Exception as exc:
            row = self.store.get_row(request_id)
            if row is not None and row.decided_at is not None and self.clock() - row.decided_at > ACTIVATION_DEADLINE:
                log.exception("activating request %s failed for too long; giving up", request_id)
                self._fail(request_id, f"the session could not be started ({type(exc).__name__}); "
                                       "nothing was granted: ask again")
                return
            log.exception("activating request %s failed; retrying shortly", request_id)
            retry = self.clock() + SLACK_RETRY
            self.store.set_fields(request_id, where=[RequestRow.state == State.APPROVED.value], lease_until=retry)
            self.timers.wake_at(request_id, retry)

    def stop(self, request_id: str) -> bool:
        """End an active session if it is due (window over or stop requested). Idempotent. True when
        this call ended it."""
        now = self.clock()
        row = self.store.get_row(request_id)
        if row is None or row.state != State.ACTIVE.value:
            return False
        due = row.stop_requested_at is not None or (row.ends_at is not None and row.ends_at <= now)
        if not due or not self.store.claim_work(request_id, State.ACTIVE, now, self.lease):
            return False
        with self._holding(request_id, "lease_until", now + self.lease):
            return self._stop_claimed(request_id, now)

    def _stop_claimed(self, request_id: str, now: datetime) -> bool:
        row = self.store.get_row(request_id)
        assert row is not None
        reason = "stopped early" if row.stop_requested_at is not None and (
            row.ends_at is None or row.stop_requested_at < row.ends_at) else "window ended"
        actor = row.stop_requested_by or SYSTEM
        try:
            token = self.sealer.open(row.token_sealed) if row.token_sealed else None
        except SealError:
            token = None
            log.error("request %s: the stored token cannot be unsealed (was TOKEN_ENCRYPTION_KEY changed?)",
                      request_id)
        detail = reason
        if token is None and row.token_sealed:
            detail = f"{reason}; the stored token could not be unsealed, so it expires on its own"
        if token is not None:
            try:
                self.descope.stop_impersonation(token)
            except DescopeError as exc:
                if isinstance(exc, DescopeRefused) and exc.status not in CREDENTIALS_REFUSED:
                    # Descope turned down the token itself (unknown, expired, already stopped): it is dead.
                    detail = f"{reason}; Descope no longer knew the session ({exc.code or exc.status})"
                elif row.token_expires_at is None or row.token_expires_at + TOKEN_EXPIRY_GRACE > self.clock():
                    self._stop_failed(row, exc)
                    return False
                else:
                    log.warning("request %s: the stop call failed (%s) but the token has expired; closing it",
                                request_id, exc)
                    detail = f"{reason}; the stop call failed but the token has expired on its own"
        stopped = self.store.transition(
            request_id, [State.ACTIVE], State.STOPPED, actor=actor, action="stopped", now=self.clock(),
            detail=detail, stopped_at=self.clock(), stopped_by=actor, token_sealed=None, lease_until=None,
        )
        if stopped is not None:
            log.info("request %s stopped (%s)", request_id, detail)
        return stopped is not None

    def expire_pending(self, request_id: str) -> None:
        now = self.clock()
        expired = self.store.transition(
            request_id, [State.PENDING], State.EXPIRED, actor=SYSTEM, action="expired", now=now,
            detail="nobody answered in time", where=[RequestRow.pending_until <= now],
        )
        if expired is not None:
            log.info("request %s expired unanswered", request_id)

    def tick(self, request_id: str) -> None:
        """Do whatever is due for one request. Safe to call at any time, from any replica."""
        try:
            self._tick(request_id)
        except Exception:
            log.exception("work on request %s failed; the sweep will retry", request_id)

    def _tick(self, request_id: str) -> None:
        row = self.store.get_row(request_id)
        if row is None:
            return
        now = self.clock()
        state = State(row.state)
        if state is State.PENDING and row.pending_until <= now:
            self.expire_pending(request_id)
        elif state is State.APPROVED and self.store.claim_work(request_id, State.APPROVED, now, self.lease):
            with self._holding(request_id, "lease_until", now + self.lease):
                self._activate_or_retry_soon(request_id)
        elif state is State.ACTIVE and self.stop(request_id):
            # Revocation first: with a backlog (sessions that ended while the bot was down) every stop call
            # goes out before the Slack updates, which follow on the pool right after.
            self.timers.kick(request_id)
            return
        self.sync_slack(request_id)

    def sweep(self, run: Callable[[str], None] | None = None) -> int:
        """Act on everything overdue: hand each due request to ``run`` (the scheduler's pool, so that a
        backlog, e.g. sessions whose window passed while the bot was down, is worked on in parallel), or
        tick it here, one after another. Returns how many requests were due."""
        due = self.store.due_work(self.clock())
        for request_id in due:
            (run or self.tick)(request_id)
        return len(due)

    def reschedule_all(self) -> None:
        """At start: put every future deadline back on the scheduler, and wake each request whose lease a
        process that is gone may hold (this one's last run, or a crashed replica) as that lease ends."""
        for request_id, when in self.store.timers():
            self.timers.wake_at(request_id, when)
        for request_id, until in self.store.live_leases(self.clock()):
            self.timers.kick(request_id, at=until + LEASE_SLACK)

    def renew_leases(self) -> None:
        """Extend every lease this process holds; the scheduler's keeper calls this every ``lease / 3``.

        A lease that is no longer what we wrote (given back, or lost after a stall and taken by another
        worker) is left alone: conditional transitions keep the outcome single even then."""
        for request_id, column, until in self._leases.snapshot():
            new = self.clock() + self.lease
            try:
                kept = self.store.set_fields(request_id, where=[getattr(RequestRow, column) == until],
                                             **{column: new})
            except Exception:
                log.warning("could not renew the %s lease on request %s; retrying", column, request_id,
                            exc_info=True)
                continue
            if kept:
                self._leases.moved(request_id, column, until, new)
            else:  # given back meanwhile (usual), or ran out during a stall and was taken over (rare)
                log.debug("request %s: the %s lease is no longer ours to renew", request_id, column)
                self._leases.release(request_id, column, only_if=until)

    @contextmanager
    def _holding(self, request_id: str, column: str, until: datetime) -> Iterator[None]:
        holder = self._leases.hold(request_id, column, until)
        try:
            yield
        finally:
            self._leases.release(request_id, column, holder=holder)

    # -- Slack as a projection of the database ----------------------------------------------

    def sync_slack(self, request_id: str) -> None:
        """Bring Slack up to date with the request: approval message, token DM, outcome, thread.

        Under the row's Slack lease; a change that lands meanwhile finds the lease taken and leaves the
        work to the holder, whose catch-up write (conditional on the version it saw) then fails, so it
        makes another pass. Giving the lease back is part of that write: no change is ever left unsynced."""
        now = self.clock()
        until = now + self.lease
        work = self.store.claim_slack(request_id, now, until)
        if work is None:
            return
        holder = self._leases.hold(request_id, "slack_lease_until", until)
        caught_up = False
        try:
            while work is not None and not self._sync_once(*work):
                work = self.store.slack_work(request_id)
            caught_up = True  # the catch-up write gave the lease back
        except Exception:
            log.exception("Slack update for request %s failed; retrying shortly", request_id)
        finally:
            self._leases.release(request_id, "slack_lease_until", holder=holder)
            if not caught_up:  # hand the work back soon, not after a whole lease
                self.store.set_fields(request_id, slack_lease_until=self.clock() + SLACK_RETRY)

    def _sync_once(self, row: RequestRow, unposted: list[AuditEntry]) -> bool:
        """One pass. Each message sent is recorded before the next is sent (a crash repeats at most one),
        and the last record rides on the catch-up write. True when caught up (the lease given back);
        false when the row changed meanwhile and another pass is needed."""
        view = as_view(row)
        state = State(row.state)
        progress: dict[str, Any] = {}
        if state is State.ACTIVE and row.delivered_at is None and not self._deliver(row, view):
            return False  # the DM failed and the session is being stopped: look again
        if row.channel_ts is None:
            channel, ts = self.notifier.post_request(view)
            progress.update(channel_id=channel, channel_ts=ts)
            view = replace(view, channel_id=channel, channel_ts=ts)
        elif row.slack_version < row.version:
            self.notifier.update_request(view)
        for entry in unposted:
            if entry.action != "requested":  # the approval message itself says that
                self._record(row.id, progress)
                self.notifier.post_thread(view, entry)
            progress["thread_posted_id"] = entry.id
        if state.is_final and row.end_notified_at is None:
            self._record(row.id, progress)
            self.notifier.send_outcome(view, _dm_of(row))
            progress["end_notified_at"] = self.clock()
        return self.store.slack_caught_up(row.id, row.version, **progress)

    def _record(self, request_id: str, progress: dict[str, Any]) -> None:
        """Write down what Slack has received so far (before the next call to Slack)."""
        if progress:
            self.store.set_fields(request_id, **progress)
            progress.clear()

    def _deliver(self, row: RequestRow, view: RequestView) -> bool:
        """DM the token to the requester. If Slack will not take it, the session must not live on:
        stop it at once and answer false.

        Two steps, each recorded before the next: a DM without the token, then an edit that puts the token
        in. Whatever the crash, a retry edits the message it recorded rather than posting the token again,
        so the one message the session's end redacts is the only one that ever held the token."""
        assert row.token_sealed is not None
        try:
            dm = _dm_of(row)
            if dm is None:
                dm = self.notifier.open_token_dm(view)
                self.store.set_fields(row.id, dm_channel=dm[0], dm_ts=dm[1])
            self.notifier.show_token(view, dm, self.sealer.open(row.token_sealed))
        except Exception as exc:
            log.error("request %s: the token could not be delivered by DM (%s); stopping the session",
                      row.id, type(exc).__name__)
            now = self.clock()
            if not self.store.record(
                row.id, actor=SYSTEM, action="delivery_failed", now=now,
                detail="the token DM could not be delivered; session stopped",
                where=[RequestRow.state == State.ACTIVE.value, RequestRow.stop_requested_at.is_(None)],
                stop_requested_at=now, stop_requested_by=SYSTEM, delivered_at=now,
            ):  # a stop was already asked for: just never try to deliver again
                self.store.set_fields(row.id, delivered_at=now)
            self.stop(row.id)
            return False
        self.store.set_fields(row.id, delivered_at=self.clock())
        return True

    # -- helpers ----------------------------------------------------------------------------

    def _get(self, request_id: str) -> RequestView:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound(f"There is no request `{request_id}`.")
        return request

    def _fail(self, request_id: str, why: str) -> None:
        log.warning("request %s failed: %s", request_id, why)
        self.store.transition(
            request_id, [State.APPROVED], State.FAILED, actor=SYSTEM, action="failed", now=self.clock(),
            detail=why, failure=why, lease_until=None,
        )

    def _stop_failed(self, row: RequestRow, exc: DescopeError) -> None:
        attempts = row.stop_attempts + 1
        seconds = min(STOP_BACKOFF_CAP, 2.0 ** min(attempts - 1, 6)) * random.uniform(0.5, 1.0)
        if row.token_expires_at is not None:  # one last try as soon as the token is surely dead
            seconds = min(seconds, max(0.5, (row.token_expires_at + TOKEN_EXPIRY_GRACE - self.clock()).total_seconds()))
        if isinstance(exc, DescopeUnavailable) and exc.retry_after is not None:  # 429: as Descope asks
            seconds = max(seconds, min(exc.retry_after, STOP_BACKOFF_CAP))
        backoff = timedelta(seconds=seconds)
        log.warning("request %s: stop call failed (attempt %d, %s); retrying in %.0fs",
                    row.id, attempts, exc, backoff.total_seconds())
        self.store.set_fields(row.id, stop_attempts=attempts, lease_until=self.clock() + backoff)
        if attempts == STOP_ALERT_AFTER:
            self.store.record(row.id, actor=SYSTEM, action="stop_failing", now=self.clock(),
                              detail=f"Descope stop call failed {attempts} times ({exc}); still retrying")
            self.timers.kick(row.id)
        self.timers.wake_at(row.id, self.clock() + backoff)

    def _try_stop_token(self, token: str) -> None:
        try:
            self.descope.stop_impersonation(token)
        except DescopeError as exc:
            log.error("could not revoke an orphaned token (%s); it dies at its own expiry", exc)
