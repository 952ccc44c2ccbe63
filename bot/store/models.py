"""The tables (SQLAlchemy 2.x models mirroring the Alembic revisions in ``migrations/``) and the
read-only shapes the rest of the program sees of them (``RequestView``, ``AuditEntry``).

``requests`` holds one row per request: its state, deadlines, leases, where its Slack messages are, the
sealed token while a session lives, and ``next_due_at`` (``bot.domain.schedule``), kept by every write.
``audit`` is append-only: one row per event (deleted only by the retention, ``store.retention.purge``; on PostgreSQL a
trigger, migration 0007, refuses any other UPDATE or DELETE). ``home_viewers`` remembers who opened the App Home.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

from bot.domain import RequestView, State
from bot.domain.outcomes import decode_failure
from bot.domain.proof import Mfa
from bot.domain.target import Target, decode_target

_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: The rows of ``ix_requests_active_stop_asked`` (migration 0016): sessions someone asked to stop (a handful at a time)
ACTIVE_STOP_ASKED = text("state = 'active' AND stop_requested_at IS NOT NULL")


def new_request_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every backend alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class RequestRow(Base):
    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_requester_state", "requester_id", "state"),
                      Index("ix_requests_requester_break_glass", "requester_id", "break_glass"),
                      Index("ix_requests_state_ends_at", "state", "ends_at"),
                      Index("ix_requests_active_stop_asked", "state", "stop_requested_at",
                            sqlite_where=ACTIVE_STOP_ASKED, postgresql_where=ACTIVE_STOP_ASKED))

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    requester_id: Mapped[str] = mapped_column(String(32))
    login_id: Mapped[str] = mapped_column(String(256))
    tenant: Mapped[str | None] = mapped_column(String(128))
    duration_s: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pending_until: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    impersonator: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_sealed: Mapped[str | None] = mapped_column(Text)
    stop_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested_by: Mapped[str | None] = mapped_column(String(32))
    stop_attempts: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_by: Mapped[str | None] = mapped_column(String(32))
    failure: Mapped[str | None] = mapped_column(Text)  # a JSON-encoded bot.domain.outcomes.Failure
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    channel_ts: Mapped[str | None] = mapped_column(String(32))
    dm_channel: Mapped[str | None] = mapped_column(String(32))
    dm_ts: Mapped[str | None] = mapped_column(String(32))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slack_version: Mapped[int] = mapped_column(Integer, default=0)
    slack_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thread_posted_id: Mapped[int] = mapped_column(Integer, default=0)  # audit rows up to this id are in the thread
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # bot.domain.schedule
    stop_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # stop done; the logout may remain
    delivery: Mapped[str | None] = mapped_column(String(8))  # "reveal" or "dm", fixed at activation
    target_name: Mapped[str | None] = mapped_column(String(256))  # the pre-flight's look-up of the target
    target_tenants: Mapped[str | None] = mapped_column(Text)  # JSON: [[tenant ID, name], …]
    target_checked: Mapped[str | None] = mapped_column(String(16))  # "verified" | "unverified"
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the next reminder to approvers, if any
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    rule_name: Mapped[str | None] = mapped_column(String(128))  # the POLICY_FILE rule that decided it (None: env)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    approved_by: Mapped[str | None] = mapped_column(Text)  # JSON list of the approvers so far, in order
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the requester is warned of the end
    extends_id: Mapped[str | None] = mapped_column(String(16), index=True)  # the session this extension extends
    extended_by: Mapped[str | None] = mapped_column(String(16))  # the extension that replaced this session
    minting_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an impersonate call in flight: see 0009
    post_failures: Mapped[int] = mapped_column(Integer, default=0)  # the approvals channel refused the post, in a row
    warning_channel: Mapped[str | None] = mapped_column(String(32))  # the expiry warning's DM (edited at the end)
    warning_ts: Mapped[str | None] = mapped_column(String(32))
    approval_mfa: Mapped[str | None] = mapped_column(String(8))  # the second factor asked of approvers (None: none)
    reveal_mfa: Mapped[str | None] = mapped_column(String(8))  # the one asked of the requester before Show token
    approved_mfa: Mapped[str | None] = mapped_column(Text)  # JSON: approver → how they proved themselves
    proofs_checking: Mapped[str | None] = mapped_column(Text)  # JSON: person → until when their code is being checked
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when next to look at escalating it
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it escalated
    escalated_to: Mapped[str | None] = mapped_column(Text)  # JSON: the user and group IDs it escalated to
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)  # started at once, with no approver
    reviewed_by: Mapped[str | None] = mapped_column(String(32))  # a break-glass session looked at by an approver
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flagged_by: Mapped[str | None] = mapped_column(String(32))  # … or stopped and flagged by one
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the next reminder to review it
    review_reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    alert_channel: Mapped[str | None] = mapped_column(String(32))  # the alert's copy in BREAK_GLASS_CHANNEL
    alert_ts: Mapped[str | None] = mapped_column(String(32))
    target_user_id: Mapped[str | None] = mapped_column(String(128))  # the Descope user impersonated (the token's sub)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved so far, in order (``approved_by`` as stored, read)."""
        return decode_approvers(self.approved_by)

    @property
    def target(self) -> Target | None:
        """The pre-flight's look-up of the target (``None`` for rows from before it existed)."""
        return decode_target(self.target_checked, self.target_name, self.target_tenants)


class AuditRow(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str | None] = mapped_column(ForeignKey("requests.id"), index=True)  # None: of no request
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON-encoded bot.domain.outcomes detail, or None


class AuditOutboxRow(Base):
    """An audit row still to deliver to ``AUDIT_WEBHOOK_URL`` (``seq``: given when first sent)."""

    __tablename__ = "audit_outbox"

    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id"), primary_key=True, autoincrement=False)
    seq: Mapped[int | None] = mapped_column(BigInteger)


class BotStateRow(Base):
    """A duty shared across replicas (the audit stream, the watch on Descope): its lease and its progress."""

    __tablename__ = "bot_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner: Mapped[str | None] = mapped_column(String(32))  # who holds the lease (a token each claim makes)
    next_seq: Mapped[int] = mapped_column(BigInteger, default=1)
    checkpoint: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutsideImpersonationRow(Base):
    """An impersonation Descope's audit shows that no session of the bot accounts for (told once)."""

    __tablename__ = "outside_impersonations"
    __table_args__ = (UniqueConstraint("descope_user_id", "occurred_at", name="uq_outside_impersonation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    descope_user_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    login_id: Mapped[str | None] = mapped_column(String(256))
    name: Mapped[str | None] = mapped_column(String(256))
    actor: Mapped[str | None] = mapped_column(String(256))
    channel_ts: Mapped[str | None] = mapped_column(String(32))


class HomeViewerRow(Base):
    """Who has opened the bot's App Home, and when last: their Home is republished when a request they see there
    changes."""

    __tablename__ = "home_viewers"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# The tables themselves (their column names: the query layer's ``bot.store.sql``); the classes above name them.
REQUESTS = cast(Table, RequestRow.__table__)
AUDIT = cast(Table, AuditRow.__table__)

configure_mappers()
_REQUEST_ROWS = inspect(RequestRow).class_manager


def row_of(values: Mapping[Any, Any]) -> RequestRow:
    """A ``RequestRow`` holding ``values`` (a whole row as read, or as written): the ORM's own way of loading an
    instance (a new instance, its attributes put in place), without a ``Session``, its identity map or
    ``__init__``'s per-attribute events, a twentieth of the cost. Detached: changing it writes nothing."""
    row: RequestRow = _REQUEST_ROWS.new_instance()
    row.__dict__.update(values)
    return row


def as_view(row: RequestRow) -> RequestView:
    """What the rest of the program may see of a row (never the sealed token)."""
    return RequestView(
        id=row.id,
        requester_id=row.requester_id,
        login_id=row.login_id,
        tenant=row.tenant,
        duration=timedelta(seconds=row.duration_s),
        reason=row.reason,
        state=State(row.state),
        created_at=row.created_at,
        pending_until=row.pending_until,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        started_at=row.started_at,
        ends_at=row.ends_at,
        stopped_at=row.stopped_at,
        stopped_by=row.stopped_by,
        stop_requested_at=row.stop_requested_at,
        failure=decode_failure(row.failure),
        channel_id=row.channel_id,
        channel_ts=row.channel_ts,
        next_due_at=row.next_due_at,
        delivery=row.delivery,
        target=decode_target(row.target_checked, row.target_name, row.target_tenants),
        rule_name=row.rule_name,
        approvals_needed=row.approvals_needed,
        approved_by=decode_approvers(row.approved_by),
        extends=row.extends_id,
        extended_by=row.extended_by,
        approval_mfa=Mfa(row.approval_mfa or Mfa.NONE),
        reveal_mfa=Mfa(row.reveal_mfa or Mfa.NONE),
        proved=tuple(decode_proved(row.approved_mfa).items()),
        escalated_at=row.escalated_at,
        escalated_to=tuple(json.loads(row.escalated_to)) if row.escalated_to else (),
        break_glass=bool(row.break_glass),
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        flagged_by=row.flagged_by,
        flagged_at=row.flagged_at,
    )


def decode_approvers(stored: str | None) -> tuple[str, ...]:
    """``approved_by`` as stored (a JSON list) → the approvers so far, in order."""
    return tuple(json.loads(stored)) if stored else ()


def encode_approvers(approvers: tuple[str, ...]) -> str:
    return json.dumps(list(approvers))


def decode_proved(stored: str | None) -> dict[str, Mfa]:
    """``approved_mfa`` as stored (a JSON object) → each approver who proved themselves, and how."""
    return {user: Mfa(method) for user, method in json.loads(stored).items()} if stored else {}


def encode_proved(proved: Mapping[str, Mfa]) -> str | None:
    return json.dumps({user: method.value for user, method in proved.items()}) if proved else None
