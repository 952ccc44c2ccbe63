"""Revocation at Descope, token delivery per request, the target as Descope knows it.

- ``stop_called_at``: the stop-impersonation call went through; what remains is revoking the refresh token
  itself (``POST /v1/auth/logout``), retried on its own until done or the token has expired.
- ``delivery``: how the token reached the requester (``reveal``: a Show token button; ``dm``: edited into
  the DM), fixed when the session starts so a change of ``TOKEN_DELIVERY`` does not change running sessions.
- ``target_name``, ``target_tenants`` (JSON), ``target_checked`` (``verified`` / ``unverified``): the
  pre-flight look-up of the target user, shown to approvers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("stop_called_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("delivery", sa.String(8), nullable=True))
        batch.add_column(sa.Column("target_name", sa.String(256), nullable=True))
        batch.add_column(sa.Column("target_tenants", sa.Text(), nullable=True))
        batch.add_column(sa.Column("target_checked", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for column in ("target_checked", "target_tenants", "target_name", "delivery", "stop_called_at"):
            batch.drop_column(column)
