"""The holes of issue 22: an impersonate call in flight, and an approval message the channel refuses.

``minting_until``: set on an approved request just before its impersonate call goes to Descope, to the latest moment
a token that call mints can live (the end of the window asked for); cleared when the token is recorded. Found set by
the next activation, it means the bot stopped during the call: Descope may have minted a token nobody received, so
the request fails and says until when that token may live. ``post_failures``: how many times in a row the approvals
channel refused the approval message (the bot not in it, the channel archived or gone): the retries back off by it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("minting_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("post_failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("post_failures")
        batch.drop_column("minting_until")
