"""The database, the truth of the bot.

    models   the tables (mirroring ``migrations/``), RequestView/AuditEntry conversions, utcnow
    engine   make_engine: SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (psycopg 3) set up for concurrency
    store    Store: every read and write; one state change = one transaction with its audit row
    rows     the row-level SQL under Store (a row, a lease, a rewrite with next_due_at, an audit row)
    sql      Db/Tx: the hot paths' statements through the driver on pooled connections; Col/Cond/R: conditions
    home     HomeStore: the App Home's lists and who opened it, through Store's transactions
"""

from bot.store.engine import make_engine
from bot.store.home import HomeStore
from bot.store.models import AuditEntry, AuditRow, Base, RequestRow, as_view, new_request_id, utcnow
from bot.store.rows import RUNNING
from bot.store.sql import Col, Cond, R, lease_free
from bot.store.store import Counted, Store, Vote

__all__ = ["RUNNING", "AuditEntry", "AuditRow", "Base", "Col", "Cond", "Counted", "HomeStore", "R", "RequestRow",
           "Store", "Vote", "as_view", "lease_free", "make_engine", "new_request_id", "utcnow"]
