"""The expiry warning's DM: where it was posted (``warning_channel``, ``warning_ts``), so that once the session ends it
is edited (its Extend and Stop now buttons gone) like the session's own DM.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("warning_channel", sa.String(32), nullable=True))
        batch.add_column(sa.Column("warning_ts", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("warning_ts")
        batch.drop_column("warning_channel")
