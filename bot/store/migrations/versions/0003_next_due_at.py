"""One schedule: ``requests.next_due_at``, indexed.

The moment a request next needs work (``bot.domain.schedule.next_due``), kept by every write. The sweep
finds due rows with one range scan on it instead of four conditions over the table. Rows that exist at
upgrade are marked due at once if they may still need work (live, or Slack behind); the first tick on each
finds what is really due and writes the exact moment.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("next_due_at", sa.DateTime(), nullable=True))
    op.create_index("ix_requests_next_due_at", "requests", ["next_due_at"])
    op.execute(
        "UPDATE requests SET next_due_at = created_at "
        "WHERE state IN ('pending', 'approved', 'active') OR slack_version < version"
    )
    op.drop_index("ix_requests_ends_at", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_ends_at", "requests", ["ends_at"])
    op.drop_index("ix_requests_next_due_at", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("next_due_at")
