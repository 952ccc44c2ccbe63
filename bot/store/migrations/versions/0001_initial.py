"""Initial schema: requests and their audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("requester_id", sa.String(32), nullable=False),
        sa.Column("login_id", sa.String(256), nullable=False),
        sa.Column("tenant", sa.String(128)),
        sa.Column("duration_s", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("pending_until", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("impersonator", sa.String(256)),
        sa.Column("started_at", sa.DateTime),
        sa.Column("ends_at", sa.DateTime),
        sa.Column("token_expires_at", sa.DateTime),
        sa.Column("token_sealed", sa.Text),
        sa.Column("stop_requested_at", sa.DateTime),
        sa.Column("stop_requested_by", sa.String(32)),
        sa.Column("stop_attempts", sa.Integer, nullable=False),
        sa.Column("stopped_at", sa.DateTime),
        sa.Column("stopped_by", sa.String(32)),
        sa.Column("failure", sa.Text),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("channel_ts", sa.String(32)),
        sa.Column("dm_channel", sa.String(32)),
        sa.Column("dm_ts", sa.String(32)),
        sa.Column("delivered_at", sa.DateTime),
        sa.Column("end_notified_at", sa.DateTime),
        sa.Column("slack_version", sa.Integer, nullable=False),
        sa.Column("slack_lease_until", sa.DateTime),
        sa.Column("thread_posted_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_requests_requester_id", "requests", ["requester_id"])
    op.create_index("ix_requests_state", "requests", ["state"])
    op.create_index("ix_requests_ends_at", "requests", ["ends_at"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(16), sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_request_id", "audit", ["request_id"])
    op.create_index("ix_audit_at", "audit", ["at"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("requests")
