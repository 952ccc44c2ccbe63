"""What the workflows ask of the world outside the database, as Protocols.

``bot.descope.DescopeClient`` is the ``Descope``; ``bot.slack.directory.SlackDirectory`` the ``Directory``;
``bot.slack.notifier.SlackNotifier`` the ``Notifier``; ``bot.server.scheduler.Scheduler`` the ``Timers``. Tests
plug in their own (``tests/fakes/inprocess.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.descope import User
from bot.descope.audit import AuditRecord
from bot.domain import RequestView
from bot.domain.audit import AuditEntry
from bot.domain.home import Home
from bot.domain.outcomes import Outside
from bot.store import SlackWork


class Descope(Protocol):
    def impersonate(self, *, login_id: str, impersonator_id: str, validate_consent: bool,
                    refresh_duration: int, selected_tenant: str | None = None,
                    custom_claims: dict[str, Any] | None = None, booking: str | None = None) -> str: ...

    def stop_impersonation(self, jwt: str) -> None: ...

    def logout(self, refresh_jwt: str) -> None:
        """Revoke the refresh token itself (stop-impersonation does not)."""
        ...

    def refresh(self, refresh_jwt: str) -> str | None:
        """Return when Descope still accepts the refresh token (with the new refresh token it issued, if the project
        rotates them); raise ``DescopeRefused`` when it does not."""
        ...

    def load_user(self, login_id: str, *, timeout: float | None = None) -> User: ...

    def search_audit(self, actions: Sequence[str], since: datetime, until: datetime, *,
                     methods: Sequence[str] | None = None) -> list[AuditRecord]:
        """Descope's audit records of ``actions`` (by ``methods``, when given) between two moments."""
        ...

    def send_email_code(self, login_id: str) -> str:
        """Have Descope mail ``login_id`` a one-time code; the address as Descope masks it."""
        ...

    def prove(self, method: str, login_id: str, code: str) -> None:
        """Return once Descope accepted ``code`` for ``login_id`` by ``method`` ("totp", "email") and the session it
        answered passed the bot's checks (then closed). Raises ``descope.stepup.CodeRejected``,
        ``descope.session_jwt.SessionRejected``, ``DescopeRefused``, ``DescopeUnavailable``."""
        ...


class Directory(Protocol):
    def email_of(self, user_id: str) -> str | None: ...

    def is_member(self, user_id: str, principals: Collection[str]) -> bool: ...

    def is_active(self, user_id: str) -> bool:
        """Whether the person's Slack account is active (not deactivated)."""
        ...

    def enough_active(self, principals: Collection[str], besides: str, needed: int) -> bool:
        """Whether at least ``needed`` people other than ``besides`` among ``principals`` (users, and groups'
        members) are active."""
        ...


class IntakeFailed(Exception):
    """The audit intake did not take a batch: ``status`` its answer (``None``: no answer)."""

    def __init__(self, status: int | None, what: str) -> None:
        super().__init__(status, what)
        self.status = status
        self.what = what


class Intake(Protocol):
    """Where the audit stream goes (``AUDIT_WEBHOOK_URL``): ``bot.server.intake.HttpIntake``."""

    def send(self, events: Sequence[Mapping[str, Any]]) -> None:
        """POST ``{"events": [...]}``, signed; raises ``IntakeFailed`` unless the intake answered 2xx."""
        ...


class ChannelRefused(Exception):
    """The approvals channel refused the approval message (``error``: Slack's reason, e.g. ``not_in_channel``): no
    approver can see the request until someone fixes the channel (invites the bot, unarchives it)."""

    def __init__(self, channel: str, error: str) -> None:
        super().__init__(channel, error)
        self.channel = channel
        self.error = error


class SlackUnavailable(Exception):
    """Slack did not answer, failed on its side (a 5xx, a broken connection), or asked the bot to wait longer than the
    client waits in a thread (a 429: ``retry_after`` seconds), after the client's own retries: nothing about the
    request is wrong, and the call may be made again later (the sync comes back to it, not before ``retry_after``)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Notifier(Protocol):
    """What the workflows ask of Slack. Every method raises on failure (after its own retries)."""

    def post_request(self, request: RequestView) -> tuple[str, str]:
        """Post the approval message; raises ``ChannelRefused`` when the channel will not take it."""
        ...

    def send_not_posted(self, request: RequestView, refused: ChannelRefused) -> None:
        """DM the requester that no approver can see their request, and why (the channel refused it)."""
        ...

    def update_request(self, request: RequestView) -> None: ...

    def post_outside(self, found: Outside) -> str:
        """Tell the approvals channel of an impersonation outside the bot (Descope's audit shows it); the post's ts."""
        ...

    def post_copy(self, request: RequestView, channel: str) -> tuple[str, str]:
        """Post a copy of the request's message in ``channel`` (a break-glass alert's, in ``BREAK_GLASS_CHANNEL``)."""
        ...

    def update_copy(self, request: RequestView, where: tuple[str, str]) -> None:
        """Edit that copy to show the request as it is now."""
        ...

    def post_thread(self, request: RequestView, entries: Sequence[AuditEntry]) -> None:
        """One reply in the approval message's thread: a line per audit event (at least one)."""
        ...

    def open_token_dm(self, request: RequestView) -> tuple[str, str]:
        """DM the requester that their token is coming (no secret in it); returns the message's channel and ts."""
        ...

    def show_token(self, request: RequestView, where: tuple[str, str], token: str) -> None:
        """Put the token into that DM (an edit: doing it twice leaves one message holding the token)."""
        ...

    def send_outcome(self, request: RequestView, token_dm: tuple[str, str] | None,
                     warning_dm: tuple[str, str] | None = None) -> None:
        """Redact the session's DM (``token_dm``, if any), take the buttons off its expiry warning (``warning_dm``, if
        one was sent), and DM the requester how the request ended (in the same conversation)."""
        ...

    def post_ready(self, request: RequestView) -> tuple[str, str]:
        """``reveal`` delivery: DM the requester that the session is ready, with a Show token button (the
        token itself is never in a message); returns the message's channel and ts."""
        ...

    def send_put_off(self, request: RequestView, until: datetime) -> None:
        """DM the requester that their approved session starts at about ``until``: Descope's rate limit put its
        impersonate call off."""
        ...

    def send_warning(self, request: RequestView, token_dm: tuple[str, str] | None) -> tuple[str, str]:
        """DM the requester that the session ends soon (its end time), with Extend and Stop now buttons (in the
        conversation of the session's DM, ``token_dm``, if any); returns the message's channel and ts."""
        ...

    def publish_home(self, home: Home) -> None:
        """Publish ``home`` as its person's App Home (replacing what they saw)."""
        ...


class Timers(Protocol):
    def wake_at(self, request_id: str, when: datetime) -> None:
        """Tick the request at ``when``, or about then (work found due by ``next_due_at``, which the caller wrote)."""
        ...

    def kick(self, request_id: str, *, slack_lease_until: datetime | None = None,
             work: SlackWork | None = None) -> None:
        """Tick the request now, on a worker, besides any alarm. ``slack_lease_until``: the caller's
        change took the Slack lease, held until then (a new request): the tick brings Slack up to date under it, from
        ``work`` (the Slack work that change's transaction read) if given."""
        ...

    def backlog(self) -> bool:
        """Whether kicked work waits for a free worker (many requests came due at once)."""
        ...


class Observer(Protocol):
    """Told what the metrics count (``bot.server.metrics.Metrics``)."""

    def stopped_late(self, seconds: float) -> None:
        """A session ended by its window was stopped this long after its end."""
        ...

    def approval_post_refused(self, error: str) -> None:
        """The approvals channel refused an approval message (Slack's reason)."""
        ...

    def audit_delivery(self, outcome: str, events: int = 0) -> None:
        """A POST to the audit intake ended so (delivered, refused, failed, unreachable), with ``events`` taken."""
        ...

    def outside_impersonation(self) -> None:
        """An impersonation outside the bot was found in Descope's audit (told once)."""
        ...


class Unobserved:
    """No metrics (tests, the command line)."""

    def stopped_late(self, seconds: float) -> None:
        pass

    def approval_post_refused(self, error: str) -> None:
        pass

    def audit_delivery(self, outcome: str, events: int = 0) -> None:
        pass

    def outside_impersonation(self) -> None:
        pass


class NoTimers:
    """Until a scheduler is attached (and in tests that tick by hand)."""

    def wake_at(self, request_id: str, when: datetime) -> None:
        pass

    def kick(self, request_id: str, *, slack_lease_until: datetime | None = None,
             work: SlackWork | None = None) -> None:
        pass

    def backlog(self) -> bool:
        return False
