"""Reminders: ``remind_at`` (when the approvers are next reminded of a pending request; part of the schedule)
and ``reminders_sent``. Requests pending at upgrade get no reminder (``remind_at`` stays empty).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("remind_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("reminders_sent")
        batch.drop_column("remind_at")
