"""The database, the truth of the bot: ``Store`` is the only way to it, through methods named by what they do.

    store      Store: the named reads and writes (one state change = one transaction with its audit row)
    lifecycle  a request's state changes (approve, deny, start_session, end_session …)
    slack      what Slack was told (Progress), the token's delivery, the leases (Lease)
    core       StoreCore: transactions, reads, new rows, the generic conditional writes under the named ones
    due        the schedule's index read: what is due, what came due since the alarm's last ring, the next moment
    models     the tables (mirroring ``migrations/``), RequestView/AuditEntry conversions, utcnow
    engine     make_engine: SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (psycopg 3) set up for concurrency
    sql        the one query layer: statements through the driver on SQLAlchemy's pooled connections
    rows       the row-level statements under the store's writes (read under lock, write with next_due_at)
    home       HomeStore: the App Home's lists and who opened it
    retention  the purge of what RETENTION no longer keeps
    seeding    running sessions written in bulk (the benchmark's load; never the bot's own path)
    migrate    the Alembic revisions (``migrations/``, package data), run at start
    sealing    the token sealed at rest
"""

from bot.domain.audit import AuditEntry
from bot.store.core import SlackHeld, SlackWork
from bot.store.engine import make_engine
from bot.store.home import HomeStore
from bot.store.lifecycle import Counted, Session, Vote
from bot.store.models import AuditRow, Base, RequestRow, as_view, new_request_id, utcnow
from bot.store.slack import Progress
from bot.store.sql import Lease
from bot.store.store import Store

__all__ = ["AuditEntry", "AuditRow", "Base", "Counted", "HomeStore", "Lease", "Progress", "RequestRow", "Session",
           "SlackHeld", "SlackWork", "Store", "Vote", "as_view", "make_engine", "new_request_id", "utcnow"]
