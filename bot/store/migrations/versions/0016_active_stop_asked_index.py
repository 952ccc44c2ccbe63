"""Index the stops asked of active sessions (partial: only those rows, a handful at a time).

The metrics count at every scrape the sessions whose stop fell due and is not done (``Store.overdue_sessions``):
those past their window's end are a range of ``(state, ends_at)``; those someone asked to stop, a range of this one.
Without it the second would walk every active session. Partial on a literal ``state``: SQLite then takes it (its
planner, without statistics, preferred ``(state, ends_at)`` to one on ``stop_requested_at`` alone).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ROWS = "state = 'active' AND stop_requested_at IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_requests_active_stop_asked", "requests", ["state", "stop_requested_at"],
                    sqlite_where=sa.text(_ROWS), postgresql_where=sa.text(_ROWS))


def downgrade() -> None:
    op.drop_index("ix_requests_active_stop_asked", table_name="requests")
