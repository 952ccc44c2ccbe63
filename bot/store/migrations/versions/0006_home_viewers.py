"""The App Home: ``home_viewers`` remembers who opened it (and when last), so that their Home is republished
when a request they see there changes.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_home_viewers_opened_at", "home_viewers", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_home_viewers_opened_at", table_name="home_viewers")
    op.drop_table("home_viewers")
