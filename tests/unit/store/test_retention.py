"""Retention (``Store.purge``): only requests that ended before the cut-off, and whose every piece of work is done
(nothing due, Slack caught up, no lease held), are deleted, with their audit rows; live requests, recent ones and
``home_viewers`` stay. On PostgreSQL the audit table refuses UPDATE, TRUNCATE and every DELETE but the purge's
(migration 0007)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.domain import State
from bot.store import HomeStore, Progress, RequestRow, Store
from bot.store.retention import purge
from tests.fakes.inprocess import World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store  # on each database, unlike tests/unit's own


def _row(store: Store, request_id: str) -> RequestRow:
    row = store.get_row(request_id)
    assert row is not None
    return row


def _caught_up(store: Store, request_id: str) -> str:
    assert store.slack_caught_up(request_id, _row(store, request_id).version, Progress())
    return request_id


def _pending(store: Store, at: datetime, login_id: str = "jane@acme.com") -> str:
    return store.insert(requester_id="UREQ1", login_id=login_id, tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=at + timedelta(minutes=30), now=at).row.id


def _denied(store: Store, at: datetime, *, login_id: str = "jane@acme.com") -> str:
    request_id = _pending(store, at, login_id)
    assert store._transition(request_id, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied", now=at,
                            decided_by="UAPPR1", decided_at=at)
    return request_id


def _active(store: Store, at: datetime, login_id: str) -> str:
    request_id = _pending(store, at, login_id)
    assert store._transition(request_id, [State.PENDING], State.APPROVED, actor="UAPPR1", action="approved", now=at,
                            decided_by="UAPPR1", decided_at=at)
    assert store._transition(request_id, [State.APPROVED], State.ACTIVE, actor="system", action="activated", now=at,
                            started_at=at, ends_at=at + timedelta(minutes=30), token_sealed="sealed",
                            delivered_at=at)
    return _caught_up(store, request_id)


def _stopped(store: Store, at: datetime, login_id: str) -> str:
    request_id = _active(store, at, login_id)
    end = at + timedelta(minutes=30)
    assert store._transition(request_id, [State.ACTIVE], State.STOPPED, actor="system", action="stopped", now=end,
                            stopped_at=end, stopped_by="system", token_sealed=None)
    return request_id


def _audit_of(store: Store, request_id: str) -> int:
    return len(store.audit(request_id=request_id))


def test_purge_deletes_only_ended_caught_up_requests_older_than_the_cut_off(store: Store) -> None:
    old = T0 - 3 * HOUR
    denied = _caught_up(store, _denied(store, old, login_id="a@acme.com"))
    stopped = _caught_up(store, _stopped(store, old, "b@acme.com"))
    expired = _pending(store, old, "c@acme.com")
    assert store._transition(expired, [State.PENDING], State.EXPIRED, actor="system", action="expired",
                            now=old + timedelta(minutes=30))
    _caught_up(store, expired)
    refused = store.insert_refused(requester_id="UREQ1", login_id="d@acme.com", tenant=None,
                                   duration=timedelta(minutes=30), reason="r", now=old, failure='{"type": "x"}').id
    # Kept: live, Slack behind, a lease held, ended after the cut-off, created recently.
    live = _active(store, old, "e@acme.com")
    pending = _pending(store, old, "f@acme.com")
    behind = _denied(store, old, login_id="g@acme.com")  # Slack not told yet
    leased = _caught_up(store, _denied(store, old, login_id="h@acme.com"))
    assert store._set(leased, slack_lease_until=T0 + HOUR)
    late = _pending(store, old, "i@acme.com")  # created before the cut-off, but ended after it
    ten_ago = T0 - timedelta(minutes=10)
    assert store._transition(late, [State.PENDING], State.DENIED, actor="UAPPR1", action="denied", now=ten_ago,
                            decided_by="UAPPR1", decided_at=ten_ago)
    _caught_up(store, late)
    recent = _caught_up(store, _denied(store, T0 - timedelta(minutes=5), login_id="j@acme.com"))
    HomeStore(store).opened("UREQ1", old)
    gone = {denied, stopped, expired, refused}
    kept = {live, pending, behind, leased, late, recent}
    assert all(_audit_of(store, r) for r in gone | kept)

    assert purge(store, T0 - HOUR, T0) == len(gone)

    for request_id in gone:
        assert store.get(request_id) is None and _audit_of(store, request_id) == 0, request_id
    for request_id in kept:
        assert store.get(request_id) is not None and _audit_of(store, request_id) > 0, request_id
    assert HomeStore(store).viewers(old) == ["UREQ1"]
    assert purge(store, T0 - HOUR, T0) == 0  # nothing more to do


def test_purge_works_in_bounded_batches(store: Store) -> None:
    ids = [_caught_up(store, _denied(store, T0 - 2 * HOUR, login_id=f"u{i}@acme.com")) for i in range(5)]
    assert purge(store, T0 - HOUR, T0, limit=2) == 2
    assert purge(store, T0 - HOUR, T0, limit=2) == 2
    assert purge(store, T0 - HOUR, T0, limit=2) == 1
    assert all(store.get(r) is None for r in ids)


def test_the_database_refuses_to_edit_the_audit_trail_but_lets_the_purge_delete(store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's (SQLite has none)")
    old = _caught_up(store, _denied(store, T0 - 2 * HOUR))
    keep = _caught_up(store, _denied(store, T0, login_id="k@acme.com"))
    for statement in ("UPDATE audit SET actor = 'UFORGED'", "DELETE FROM audit", "TRUNCATE audit CASCADE",
                      f"DELETE FROM audit WHERE request_id = '{old}'"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert {e.actor for e in store.audit()} == {"UREQ1", "UAPPR1"}

    assert purge(store, T0 - HOUR, T0) == 1
    assert store.get(old) is None and _audit_of(store, old) == 0
    # The marker lived only in the purge's transaction: the pooled connection refuses again.
    for _ in range(3):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM audit WHERE request_id = '{keep}'"))
    assert _audit_of(store, keep) == 2


def test_the_ticker_purges_only_with_a_retention(world: World) -> None:
    request = world.submit()
    world.posted(request.id)
    world.clock.advance(31 * 60)
    world.workflows.ticker.tick(request.id)  # expired, Slack told
    assert world.view(request.id).state is State.EXPIRED
    world.clock.advance(24 * 3600)
    assert world.workflows.ticker.purge() == 0  # RETENTION unset: everything kept
    assert world.store.get(request.id) is not None
    world.workflows.ctx.settings = replace(world.workflows.ctx.settings, retention=timedelta(days=2))
    assert world.workflows.ticker.purge() == 0  # ended a day ago: kept for now
    world.clock.advance(24 * 3600 + 1)
    assert world.workflows.ticker.purge() == 1
    assert world.store.get(request.id) is None and world.store.audit(request_id=request.id) == []
