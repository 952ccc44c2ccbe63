"""Break-glass: a session its requester started at once, with no approver (``break_glass``), reviewed after by one of
its rule's approvers (``reviewed_by``, ``reviewed_at``) or stopped and flagged by one (``flagged_by``, ``flagged_at``);
the approvers reminded until then (``review_remind_at``, ``review_reminders_sent``); and the alert's copy in
``BREAK_GLASS_CHANNEL`` (``alert_channel``, ``alert_ts``).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reviewed_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("flagged_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("flagged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("review_remind_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("review_reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("alert_channel", sa.String(32), nullable=True))
        batch.add_column(sa.Column("alert_ts", sa.String(32), nullable=True))
    op.create_index("ix_requests_requester_break_glass", "requests", ["requester_id", "break_glass"])


def downgrade() -> None:
    op.drop_index("ix_requests_requester_break_glass", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        for column in ("alert_ts", "alert_channel", "review_reminders_sent", "review_remind_at", "flagged_at",
                       "flagged_by", "reviewed_at", "reviewed_by", "break_glass"):
            batch.drop_column(column)
