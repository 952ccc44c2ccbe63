"""Index requests by (requester, state).

Every slash command checks, in the transaction that stores it, the requester's open request for the same
target and how many they have pending. With only ``requester_id`` indexed that read walks the requester's
whole history; with ``(requester_id, state)`` it reads just their open requests.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_requester_state", "requests", ["requester_id", "state"])
    op.drop_index("ix_requests_requester_id", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_requester_id", "requests", ["requester_id"])
    op.drop_index("ix_requests_requester_state", table_name="requests")
