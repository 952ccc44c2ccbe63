"""The database, the truth of the bot.

    models   the tables (mirroring ``migrations/``), RequestView/AuditEntry conversions, utcnow
    engine   make_engine: SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (psycopg 3) set up for concurrency
    store    Store: every read and write; one state change = one transaction with its audit row
    home     HomeStore: the App Home's lists and who opened it, through Store's transactions
"""

from bot.store.engine import make_engine
from bot.store.home import HomeStore
from bot.store.models import AuditEntry, AuditRow, Base, RequestRow, as_view, new_request_id, utcnow
from bot.store.rows import RUNNING, lease_free
from bot.store.store import Counted, Store, Vote

__all__ = ["RUNNING", "AuditEntry", "AuditRow", "Base", "Counted", "HomeStore", "RequestRow", "Store", "Vote",
           "as_view", "lease_free", "make_engine", "new_request_id", "utcnow"]
