"""In-process stand-ins for the workflows' ports (``bot.workflows.ports``), for unit tests of ``bot.workflows``
on a controlled clock, without processes or sockets.

    Clock            the wall clock (``utcnow``): moves only when the test says so
    StubDescope      ``Descope`` (the ``DescopeClient``): mints fake JWTs (recording who impersonates whom), knows
                     the target user, revokes on logout only (stop revokes nothing, as at Descope), can be made to
                     fail the stop or logout call or to hold the first impersonate call until the test lets it
                     go; the step-up: mails a code (``send_email_code``), accepts ``good_code`` (``prove``), or
                     raises ``prove_error``; its audit (``search_audit``): answers ``audit_records`` of the actions
                     (and methods) asked within the moments asked, records each search, or raises ``audit_error``
    StubDirectory    ``Directory`` (``SlackDirectory``): an email per user ID (none for ``without_email``); can be
                     made to fail
    StubNotifier     ``Notifier`` (``SlackNotifier``): records tokens shown, session DMs, outcomes and App Homes;
                     ``on_post`` runs as Slack would show the approval message (before its ts is stored)
    RecordingTimers  ``Timers`` (the APScheduler ``Scheduler``): records every alarm and kick (and what it carried),
                     runs nothing
    World            all of the above around one ``Workflows`` on a migrated SQLite database; ``replica()``
                     is another process on the same database

Nothing ticks by itself here: a test calls ``ticker.sweep()`` or ``ticker.tick()`` where the scheduler would.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Secret, Settings
from bot.descope import DescopeRefused, User
from bot.descope.audit import AuditRecord
from bot.descope.stepup import CodeRejected
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, REQUESTER, TARGET
from bot.domain import Draft, RequestView
from bot.domain.durations import parse_duration
from bot.domain.home import Home
from bot.domain.outcomes import Outside
from bot.store import AuditEntry, RequestRow, SlackWork, Store, make_engine
from bot.store.migrate import migrate
from bot.store.sealing import Sealer
from bot.workflows import Workflows
from bot.workflows.ports import ChannelRefused, SlackUnavailable

__all__ = ["Clock", "RecordingTimers", "StubDescope", "StubDirectory", "StubNotifier", "World", "world_on"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class StubDescope:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.minted: list[str] = []
        self.stopped: list[str] = []
        self.stop_error: Exception | None = None
        self.logout_error: Exception | None = None
        self.revoked: list[str] = []
        self.calls = 0
        self.stop_calls = 0
        self.impersonations: list[tuple[str, str]] = []  # each impersonate call: (login ID, impersonator ID)
        self.bookings: list[str | None] = []  # each impersonate call's name at the gate (``booking``)
        self.gate: threading.Event | None = None  # the first impersonate call waits for it when set
        self.impersonate_errors: list[Exception] = []  # the next impersonate calls raise these, one each, first first
        # The step-up: ``prove`` accepts ``good_code`` and rejects any other as Descope does (``CodeRejected``);
        # ``prove_error`` (``SessionRejected``, ``DescopeUnavailable``, ``DescopeRefused`` …) is raised when set.
        self.good_code = "123456"
        self.prove_error: Exception | None = None
        self.proofs: list[tuple[str, str, str]] = []  # each prove call: (method, login ID, code)
        self.email_error: Exception | None = None  # send_email_code raises it when set
        self.codes_mailed: list[str] = []  # the login IDs a code was mailed to
        # Descope's audit: ``search_audit`` answers those of ``audit_records`` of the actions asked (by the methods
        # asked, when asked), from ``since`` to ``until`` (both included), as Descope would; ``audit_error`` is raised
        # when set. Each search is recorded: (actions, since, until, methods or None).
        self.audit_records: list[AuditRecord] = []
        self.audit_error: Exception | None = None
        self.audit_searches: list[tuple[tuple[str, ...], datetime, datetime, tuple[str, ...] | None]] = []

    def impersonate(self, *, login_id: str, impersonator_id: str, validate_consent: bool, refresh_duration: int,
                    selected_tenant: str | None = None, custom_claims: dict[str, Any] | None = None,
                    booking: str | None = None) -> str:
        self.calls += 1
        self.bookings.append(booking)
        self.impersonations.append((login_id, impersonator_id))
        if self.gate is not None and self.calls == 1:
            assert self.gate.wait(10)
        if self.impersonate_errors:
            raise self.impersonate_errors.pop(0)
        exp = int(self.clock().timestamp()) + refresh_duration
        claims = {"sub": self.user_id_of(login_id), "exp": exp, "n": len(self.minted)}  # sub: whom it acts as
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
        token = f"eyJhbGciOiJub25lIn0.{payload.rstrip('=')}.sig"
        self.minted.append(token)
        return token

    def stop_impersonation(self, jwt: str) -> None:
        self.stop_calls += 1
        if self.stop_error is not None:
            raise self.stop_error
        self.stopped.append(jwt)

    def logout(self, refresh_jwt: str) -> None:
        if self.logout_error is not None:
            raise self.logout_error
        self.revoked.append(refresh_jwt)

    def refresh(self, refresh_jwt: str) -> str | None:
        """As Descope answers: refused once the token is revoked (or expired), accepted before (no rotation)."""
        exp = json.loads(base64.urlsafe_b64decode(refresh_jwt.split(".")[1] + "==")).get("exp", 0)
        if refresh_jwt in self.revoked or exp <= self.clock().timestamp():
            raise DescopeRefused("Token expired by logout", status=401, code="E064001")
        return None

    @staticmethod
    def user_id_of(login_id: str) -> str:
        """The Descope user ID of ``login_id`` here (what ``load_user`` answers and a minted token's ``sub``)."""
        return "U" + login_id

    def load_user(self, login_id: str, *, timeout: float | None = None) -> User:
        return User(user_id=self.user_id_of(login_id), name=login_id.split("@")[0], status="enabled",
                    tenants=(("acme-eu", "Acme EU"),))

    def search_audit(self, actions: Sequence[str], since: datetime, until: datetime, *,
                     methods: Sequence[str] | None = None) -> list[AuditRecord]:
        self.audit_searches.append((tuple(actions), since, until, tuple(methods) if methods else None))
        if self.audit_error is not None:
            raise self.audit_error
        return [r for r in self.audit_records if r.action in actions and since <= r.occurred <= until
                and (not methods or r.method in methods)]

    def send_email_code(self, login_id: str) -> str:
        if self.email_error is not None:
            raise self.email_error
        self.codes_mailed.append(login_id)
        name, _, domain = login_id.partition("@")
        return f"{name[:1]}***@{domain}"

    def prove(self, method: str, login_id: str, code: str) -> None:
        self.proofs.append((method, login_id, code))
        if self.prove_error is not None:
            raise self.prove_error
        if code != self.good_code:
            raise CodeRejected("Invalid code", status=401, code="E061102", message="Wrong or expired code")


class StubDirectory:
    def __init__(self) -> None:
        self.error: Exception | None = None
        self.without_email: set[str] = set()  # users whose Slack profile shows no email
        self.deactivated: set[str] = set()  # users whose Slack account is deactivated

    def email_of(self, user_id: str) -> str | None:
        if self.error is not None:
            raise self.error
        return None if user_id in self.without_email else f"{user_id.lower()}@corp.example"

    def is_member(self, user_id: str, principals: Collection[str]) -> bool:
        return user_id in principals

    def is_active(self, user_id: str) -> bool:
        return user_id not in self.deactivated

    def enough_active(self, principals: Collection[str], besides: str, needed: int) -> bool:
        return len({p for p in principals if p != besides and self.is_active(p)}) >= needed


class StubNotifier:
    def __init__(self) -> None:
        self.outcomes: list[RequestView] = []
        self.tokens: list[str] = []
        self.ready: list[RequestView] = []
        self.on_post: Callable[[RequestView, str], None] | None = None  # runs as Slack shows the message
        self.homes: dict[str, Home] = {}  # each user's App Home as last published
        self.warnings: list[RequestView] = []  # expiry warnings DMed to requesters
        self.put_offs: list[tuple[RequestView, datetime]] = []  # activations put off, DMed to requesters: until when
        self.replies: list[list[str]] = []  # each thread reply: the audit actions it has a line for
        self.home_error: Exception | None = None  # publish_home raises it when set
        self.refusing: str | None = None  # post_request: the approvals channel refuses with this error when set
        self.not_posted: list[tuple[RequestView, str]] = []  # requesters told that no approver can see their request
        self.outside: list[Outside] = []  # impersonations outside the bot the approvals channel was told of
        self.unavailable = 0  # the session DM: Slack fails on its side (SlackUnavailable) this many times first
        self.thread_unavailable: dict[str, int] = {}  # a thread reply with a line for this action: Slack fails so often

    def post_request(self, request: RequestView) -> tuple[str, str]:
        if self.refusing is not None:
            raise ChannelRefused(APPROVAL_CHANNEL, self.refusing)
        ts = f"{time.monotonic_ns()}.000100"
        if self.on_post is not None:
            self.on_post(request, ts)
        return APPROVAL_CHANNEL, ts

    def send_not_posted(self, request: RequestView, refused: ChannelRefused) -> None:
        self.not_posted.append((request, refused.error))

    def update_request(self, request: RequestView) -> None:
        pass

    def post_outside(self, found: Outside) -> str:
        self.outside.append(found)
        return f"{time.monotonic_ns()}.000300"

    def post_copy(self, request: RequestView, channel: str) -> tuple[str, str]:
        return channel, f"{time.monotonic_ns()}.000200"

    def update_copy(self, request: RequestView, where: tuple[str, str]) -> None:
        pass

    def post_thread(self, request: RequestView, entries: Sequence[AuditEntry]) -> None:
        for action in {entry.action for entry in entries} & set(self.thread_unavailable):
            if self.thread_unavailable[action]:
                self.thread_unavailable[action] -= 1
                raise SlackUnavailable("Slack answered 503")
        self.replies.append([entry.action for entry in entries])

    def open_token_dm(self, request: RequestView) -> tuple[str, str]:
        self._maybe_unavailable()
        return "DUREQ1", "1.000100"

    def _maybe_unavailable(self) -> None:
        if self.unavailable:
            self.unavailable -= 1
            raise SlackUnavailable("Slack answered 500")

    def show_token(self, request: RequestView, where: tuple[str, str], token: str) -> None:
        self.tokens.append(token)

    def post_ready(self, request: RequestView) -> tuple[str, str]:
        self._maybe_unavailable()
        self.ready.append(request)
        return "DUREQ1", "1.000100"

    def send_outcome(self, request: RequestView, token_dm: tuple[str, str] | None,
                     warning_dm: tuple[str, str] | None = None) -> None:
        self.outcomes.append(request)

    def send_put_off(self, request: RequestView, until: datetime) -> None:
        self.put_offs.append((request, until))

    def send_warning(self, request: RequestView, token_dm: tuple[str, str] | None) -> tuple[str, str]:
        self.warnings.append(request)
        return "DUREQ1", f"{len(self.warnings)}.000200"

    def publish_home(self, home: Home) -> None:
        if self.home_error is not None:
            raise self.home_error
        self.homes[home.user_id] = home


@dataclass
class RecordingTimers:
    """The scheduler as the workflows see it: ``alarms`` holds each request's one alarm (a later ``wake_at``
    replaces the earlier, as in ``Scheduler``); ``wakes`` and ``kicks`` every call, in order; ``slack_leases`` the
    Slack lease a kick said its caller holds."""

    alarms: dict[str, datetime] = field(default_factory=dict)
    wakes: list[tuple[str, datetime]] = field(default_factory=list)
    kicks: list[str] = field(default_factory=list)
    slack_leases: dict[str, datetime] = field(default_factory=dict)
    works: dict[str, SlackWork] = field(default_factory=dict)  # the Slack work a kick carried (read with the change)
    backlogged: bool = False  # what ``backlog`` answers

    def wake_at(self, request_id: str, when: datetime) -> None:
        self.alarms[request_id] = when
        self.wakes.append((request_id, when))

    def kick(self, request_id: str, *, slack_lease_until: datetime | None = None,
             work: SlackWork | None = None) -> None:
        self.kicks.append(request_id)
        if slack_lease_until is not None:
            self.slack_leases[request_id] = slack_lease_until
        if work is not None:
            self.works[request_id] = work

    def backlog(self) -> bool:
        return self.backlogged


@dataclass
class World:
    clock: Clock
    store: Store
    descope: StubDescope
    directory: StubDirectory
    notifier: StubNotifier
    workflows: Workflows

    def replica(self) -> Workflows:
        """Another process on the same database (its own leases and notifier; no timers attached)."""
        ctx = self.workflows.ctx
        return Workflows.build(ctx.settings, self.store, self.descope, self.directory, StubNotifier(), ctx.sealer,
                               clock=self.clock)

    def submit(self, reason: str = "in-process", *, login_id: str = TARGET, window: str = "30m") -> RequestView:
        draft = Draft(login_id=login_id, duration=parse_duration(window), reason=reason, tenant=None)
        return self.workflows.requests.submit(REQUESTER, draft)

    def approved(self, window: str = "30m") -> str:
        """Submit, post and approve a request (activating it, unless a fault says otherwise)."""
        request = self.submit(window=window)
        self.workflows.approvals.decide(request.id, APPROVER, True, message_ts=self.posted(request.id))
        return request.id

    def posted(self, request_id: str) -> str:
        """Post the approval message (no scheduler here: what the submission's kick does, under the Slack lease the
        request was born with) and return its ts, which a click carries."""
        self.workflows.projection.sync_slack(request_id, self.row(request_id).slack_lease_until)
        posted = self.store.get(request_id)
        assert posted is not None and posted.channel_ts is not None
        return posted.channel_ts

    def row(self, request_id: str) -> RequestRow:
        found = self.store.get_row(request_id)
        assert found is not None
        return found

    def view(self, request_id: str) -> RequestView:
        found = self.store.get(request_id)
        assert found is not None
        return found


@contextmanager
def world_on(database_url: str) -> Iterator[World]:
    """A ``World`` on a freshly migrated database at ``database_url``; the engine is disposed afterwards."""
    engine = make_engine(database_url)
    migrate(engine)
    settings = Settings(slack_bot_token=Secret("xoxb-unit"), approval_channel=APPROVAL_CHANNEL,
                        approvers=(APPROVER,), requesters=(REQUESTER,), descope_project_id="P2unit",
                        descope_management_key=Secret("k"), sweep_interval=timedelta(seconds=1),
                        token_delivery="dm",  # StubNotifier.tokens then records each delivery
                        reminder_interval=timedelta(0),  # off unless a test turns them on
                        expiry_warning=timedelta(0))
    clock, store = Clock(), Store(engine)
    descope, directory, notifier = StubDescope(clock), StubDirectory(), StubNotifier()
    workflows = Workflows.build(settings, store, descope, directory, notifier, Sealer("unit-secret"), clock=clock)
    try:
        yield World(clock, store, descope, directory, notifier, workflows)
    finally:
        engine.dispose()
