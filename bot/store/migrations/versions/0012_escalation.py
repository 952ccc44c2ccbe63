"""Escalation: when a pending request is next looked at for escalation (``escalate_at``: first just after it is made,
to see whether any approver is still active in Slack, then when ``escalate_after`` has passed), when it escalated
(``escalated_at``) and to whom (``escalated_to``: JSON, the user and group IDs then allowed to decide it).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("escalate_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("escalated_to")
        batch.drop_column("escalated_at")
        batch.drop_column("escalate_at")
