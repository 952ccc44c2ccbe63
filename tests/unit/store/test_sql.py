"""The driver layer under the store's hot paths (``bot.store.sql``), on SQLite and PostgreSQL: what it writes reads the
same through SQLAlchemy and back, its conditions mean what they say, a failed transaction leaves nothing, driver
errors arrive as SQLAlchemy's, and a connection the server dropped costs one error, not the pool."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from bot.domain import State
from bot.store import RequestRow, Store, as_view
from bot.store.sql import Col, Row

T0 = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store  # on each database, unlike tests/unit's own


def _insert(store: Store, login_id: str = "jane@acme.com") -> str:
    return store.insert(requester_id="UREQ1", login_id=login_id, tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=T0 + timedelta(minutes=30), now=T0).row.id


def test_times_written_through_the_driver_read_the_same_through_sqlalchemy_and_back(store: Store) -> None:
    request_id = _insert(store)
    elsewhere = T0.astimezone(timezone(timedelta(hours=-5)))  # any zone in, UTC out
    assert store._set(request_id, lease_until=elsewhere)
    with store.engine.connect() as conn:  # SQLAlchemy Core, as the schema's types (and the migrations) read
        core = conn.execute(select(RequestRow.__table__).where(text("id = :id")), {"id": request_id}).mappings().one()
    row = store.get_row(request_id)
    assert row is not None
    assert row.lease_until == core["lease_until"] == T0 and row.lease_until.tzinfo == UTC
    assert row.created_at == core["created_at"] == T0
    # and a time SQLAlchemy wrote compares right in the driver's conditions (same format on SQLite)
    assert not store._set(request_id, where=[Row.lease_until < T0], stop_attempts=1)
    assert store._set(request_id, where=[Row.lease_until <= T0], stop_attempts=2)
    assert store.get_row(request_id).stop_attempts == 2  # type: ignore[union-attr]


def test_conditions_mean_what_they_say(store: Store) -> None:
    request_id = _insert(store)
    assert not store._set(request_id, where=[Row.remind_at.is_not(None)], reminders_sent=1)
    assert store._set(request_id, where=[Row.remind_at == None], reminders_sent=2)  # noqa: E711  (IS NULL)
    assert not store._set(request_id, where=[Row.state == State.ACTIVE.value], reminders_sent=3)
    assert store._set(request_id, where=[Col("reminders_sent") == 2, Row.pending_until > T0], reminders_sent=4)
    assert store.get_row(request_id).reminders_sent == 4  # type: ignore[union-attr]
    with pytest.raises(KeyError, match="no column"):
        Col("nope")
    with pytest.raises(KeyError, match="no column nope"):
        store._set(request_id, nope=1)


def test_a_claim_answers_the_row_as_written_once(store: Store) -> None:
    request_id = _insert(store)
    first = store.claim_slack(request_id, T0, T0 + timedelta(seconds=60))
    assert first is not None
    row, unposted, _ = first
    assert row.slack_lease_until == T0 + timedelta(seconds=60)
    assert [entry.action for entry in unposted] == ["requested"] and unposted[0].at == T0
    assert store.claim_slack(request_id, T0 + timedelta(seconds=1), T0 + timedelta(seconds=61)) is None  # held
    assert store.claim_slack(request_id, T0 + timedelta(seconds=61), T0 + timedelta(seconds=121)) is not None  # ran out


def test_a_transition_takes_the_slack_lease_with_it_unless_someone_holds_it(store: Store) -> None:
    request_id = _insert(store)
    until = T0 + timedelta(seconds=4)
    moved = store._transition_row(request_id, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied",
                                 now=T0, slack_lease_until=until, viewers_since=T0 - timedelta(days=1))
    assert moved is not None
    row, held = moved
    assert held is not None and held.until == until and row.state == "denied" and row.slack_lease_until == until
    assert store.claim_slack(request_id, T0 + timedelta(seconds=1), T0 + timedelta(seconds=5)) is None  # the mover's
    # What the mover then syncs, read in the move's own transaction: as a read after it answers.
    later = store.slack_work(request_id, viewers_since=T0 - timedelta(days=1))
    assert later is not None and as_view(held.work.row) == as_view(later.row)
    assert (held.work.unposted, held.work.viewers) == (later.unposted, later.viewers)
    assert held.work.row.state == "denied" and [entry.action for entry in held.work.unposted] == ["requested", "denied"]
    assert held.work.viewers == []

    other = _insert(store, "bob@acme.com")
    theirs = T0 + timedelta(seconds=60)
    assert store.claim_slack(other, T0, theirs) is not None  # another worker is updating Slack
    moved = store._transition_row(other, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied",
                                 now=T0, slack_lease_until=until)
    assert moved is not None and moved[1] is None  # the move is made; the lease stays theirs
    assert moved[0].state == "denied" and moved[0].slack_lease_until == theirs


def test_a_failed_write_leaves_nothing_and_arrives_as_sqlalchemys_error(store: Store) -> None:
    request_id = _insert(store)
    with pytest.raises(IntegrityError), store.write() as tx:
        tx.run("UPDATE requests SET stop_attempts = 7 WHERE id = ?", (request_id,))
        tx.run("INSERT INTO audit (request_id, at, actor, action) VALUES (?, ?, ?, ?)", ("missing", T0, "x", "y"))
    assert store.get_row(request_id).stop_attempts == 0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="naive"):
        store._set(request_id, lease_until=datetime(2026, 1, 5))
    assert store.get_row(request_id) is not None  # the pool still serves


def test_a_server_restart_costs_one_failed_transaction_not_one_per_pooled_connection(store: Store) -> None:
    if not store.db.postgres:
        pytest.skip("PostgreSQL's: SQLite has no server to drop a connection")
    request_id = _insert(store)
    with store.db.read() as a, store.db.read() as b, store.db.read() as c:  # three connections in the pool
        pids = [tx.one("SELECT pg_backend_pid()")[0] for tx in (a, b, c)]  # type: ignore[index]
    other = create_engine(store.engine.url, poolclass=NullPool)
    with other.begin() as conn:  # every pooled connection ends, as a server restart would end them
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    failures = 0
    for _ in range(6):
        try:
            assert store.get_row(request_id) is not None
        except OperationalError as exc:
            assert exc.connection_invalidated
            failures += 1
    assert failures == 1
