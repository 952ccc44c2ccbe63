"""Verified approvals: the second factor a request asks of its approvers (``approval_mfa``) and of its requester before
the token is shown (``reveal_mfa``), as the rules said when it was asked, and how each approver proved themselves
(``approved_mfa``: JSON, approver → method); whose code is being checked at Descope right now, each person one at a
time (``proofs_checking``: JSON, person → until when). Rows from before ask none.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("approval_mfa", sa.String(8), nullable=True))
        batch.add_column(sa.Column("reveal_mfa", sa.String(8), nullable=True))
        batch.add_column(sa.Column("approved_mfa", sa.Text(), nullable=True))
        batch.add_column(sa.Column("proofs_checking", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("proofs_checking")
        batch.drop_column("approved_mfa")
        batch.drop_column("reveal_mfa")
        batch.drop_column("approval_mfa")
