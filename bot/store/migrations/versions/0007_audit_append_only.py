"""A tamper-evident audit trail on PostgreSQL: a trigger refuses every UPDATE and TRUNCATE of ``audit``, and every
DELETE except the retention's (``bot.store.retention.purge``, which sets ``impersonation_bot.purging`` for its
transaction only: ``set_config(…, true)``, i.e. ``SET LOCAL``). SQLite has no such guard: this revision does nothing
there.

A superuser (or the table's owner) can still drop the trigger: a deliberate DDL statement (which a server logging
DDL, ``log_statement = ddl``, records), not a quiet ``UPDATE``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION impersonation_bot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('impersonation_bot.purging', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'only the retention purge (RETENTION) deletes audit rows';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute("CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
               "FOR EACH ROW EXECUTE FUNCTION impersonation_bot_audit_append_only()")
    op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
               "FOR EACH STATEMENT EXECUTE FUNCTION impersonation_bot_audit_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON audit")
    op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
    op.execute("DROP FUNCTION IF EXISTS impersonation_bot_audit_append_only()")
