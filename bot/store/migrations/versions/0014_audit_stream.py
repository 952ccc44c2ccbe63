"""The record leaves the bot: the audit stream's outbox, the state of the bot's own background duties, impersonations
found in Descope's audit that were not the bot's, and the user ID each session impersonates.

- ``audit_outbox``: an audit row to deliver to ``AUDIT_WEBHOOK_URL`` (written in the audit row's transaction, deleted
  once delivered); ``seq`` is given when it is first sent, so a retry sends the same.
- ``bot_state``: one row per duty shared across replicas (``audit_stream``, ``descope_watch``, made here): its lease and
  who holds it, the next ``seq``, the watch's checkpoint, failures in a row and when to try again.
- ``outside_impersonations``: each impersonation Descope's audit shows that no session of the bot accounts for, once
  (unique by user and moment), with the approvals-channel message that told of it.
- ``audit.request_id`` may be empty: an outside impersonation's audit row belongs to no request.
- ``requests.target_user_id``: the Descope user ID the session impersonates (its token's ``sub``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_outbox",
        sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit.id"), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "bot_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("owner", sa.String(32), nullable=True),
        sa.Column("next_seq", sa.BigInteger(), nullable=False, server_default="1"),
        sa.Column("checkpoint", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
    )
    op.execute("INSERT INTO bot_state (name, next_seq, failures) VALUES ('audit_stream', 1, 0), "
               "('descope_watch', 1, 0)")
    op.create_table(
        "outside_impersonations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("descope_user_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("login_id", sa.String(256), nullable=True),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("actor", sa.String(256), nullable=True),
        sa.Column("channel_ts", sa.String(32), nullable=True),
        sa.UniqueConstraint("descope_user_id", "occurred_at", name="uq_outside_impersonation"),
    )
    with op.batch_alter_table("audit") as batch:
        batch.alter_column("request_id", existing_type=sa.String(16), nullable=True)
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("target_user_id", sa.String(128), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # the append-only trigger lets only a purge delete audit rows
        op.execute("SELECT set_config('impersonation_bot.purging', 'on', true)")
    op.execute("DELETE FROM audit_outbox")
    op.execute("DELETE FROM audit WHERE request_id IS NULL")  # outside impersonations: of no request
    with op.batch_alter_table("audit") as batch:
        batch.alter_column("request_id", existing_type=sa.String(16), nullable=False)
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("target_user_id")
    op.drop_table("outside_impersonations")
    op.drop_table("bot_state")
    op.drop_table("audit_outbox")
