"""Index requests by (state, ends_at), in place of ``state`` alone.

The metrics ask at every scrape how many sessions are still active past their window's end, and since when
(``Store.overdue_sessions``): with ``(state, ends_at)`` that is a range of the active sessions that ended, not a walk
through all of them. What asked the ``state`` index alone (the active sessions' count) reads this one's first column.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_state_ends_at", "requests", ["state", "ends_at"])
    op.drop_index("ix_requests_state", table_name="requests")


def downgrade() -> None:
    op.create_index("ix_requests_state", "requests", ["state"])
    op.drop_index("ix_requests_state_ends_at", table_name="requests")
