"""Policy, N-of-M approvals, expiry warnings and extensions (issue 11).

``rule_name`` / ``approvals_needed``: the rule of ``POLICY_FILE`` that decided the request (empty: the environment)
and how many distinct approvers it needs; ``approved_by``: who approved so far (JSON list of user IDs, in order).
``warn_at``: when the requester is next warned that the session ends (part of the schedule). ``extends_id``: the
session an extension request extends; ``extended_by``: on that session, the extension that replaced it. Rows from
before keep one approval, no warning and no link.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("rule_name", sa.String(128), nullable=True))
        batch.add_column(sa.Column("approvals_needed", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("approved_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("warn_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("extends_id", sa.String(16), nullable=True))
        batch.add_column(sa.Column("extended_by", sa.String(16), nullable=True))
        batch.create_index("ix_requests_extends_id", ["extends_id"])


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_index("ix_requests_extends_id")
        for column in ("extended_by", "extends_id", "warn_at", "approved_by", "approvals_needed", "rule_name"):
            batch.drop_column(column)
