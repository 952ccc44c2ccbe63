"""The store's reads, on each database (SQLite and PostgreSQL), through its one query layer: the lists (by requester,
state, extension), what is due, the gauge, the audit trail, the App Home's lists and its viewers, the database's
clock, and the benchmark's bulk load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import State
from bot.store import HomeStore, Store
from bot.store.seeding import SeededSession, seed_sessions

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def _pending(store: Store, login_id: str, *, requester: str = "UREQ1", at: datetime = T0,
             extends: str | None = None) -> str:
    return store.insert(requester_id=requester, login_id=login_id, tenant=None, duration=30 * MINUTE, reason="r",
                        pending_until=at + 30 * MINUTE, now=at, extends_id=extends).row.id


def _approved(store: Store, login_id: str, **kw: object) -> str:
    request_id = _pending(store, login_id, **kw)  # type: ignore[arg-type]
    assert store._transition(request_id, [State.PENDING], State.APPROVED, actor="UAPPR1", action="approved", now=T0,
                            decided_by="UAPPR1", decided_at=T0)
    return request_id


def test_lists_filter_by_requester_state_and_extension_newest_first(store: Store) -> None:
    first = _pending(store, "a@acme.com", at=T0)
    second = _approved(store, "b@acme.com")
    other = _pending(store, "c@acme.com", requester="UREQ2", at=T0 + MINUTE)
    extension = _pending(store, "b@acme.com", at=T0 + 2 * MINUTE, extends=second)

    mine = [r.id for r in store.list_requests(requester_id="UREQ1")]
    assert mine[0] == extension and set(mine) == {first, second, extension}  # newest first
    assert [r.id for r in store.list_requests(states=[State.APPROVED])] == [second]
    assert [r.id for r in store.list_requests(extends=second)] == [extension]
    assert [r.id for r in store.list_requests(requester_id="UREQ2", states=[State.PENDING])] == [other]
    assert store.list_requests(states=[]) == []
    assert len(store.list_requests(limit=2)) == 2


def test_due_and_the_alarms_moments_follow_next_due_at(store: Store) -> None:
    early = _pending(store, "a@acme.com", at=T0)
    late = _pending(store, "b@acme.com", at=T0 + 10 * MINUTE)
    times = {request_id: _next_due(store, request_id) for request_id in (early, late)}
    assert times[early] < times[late] and times[early].tzinfo is not None
    assert store.earliest_due() == times[early]  # the alarm at start
    assert store.next_due_after(times[early]) == times[late] and store.next_due_after(times[late]) is None
    assert store.due(times[early]) == [early]
    assert store.due(times[late]) == [early, late]  # most overdue first
    assert store.due(times[late], limit=1) == [early]
    assert store.due(times[early] - MINUTE) == []


def test_the_alarm_reads_what_came_due_since_its_last_ring_and_a_full_batch_goes_on_where_it_left_off(
        store: Store) -> None:
    together = sorted(_pending(store, f"u{n}@acme.com", at=T0) for n in range(3))  # due at the same moment
    later = _pending(store, "late@acme.com", at=T0 + 10 * MINUTE)
    moment, late_moment = _next_due(store, together[0]), _next_due(store, later)

    def due(since: datetime, after: str | None, until: datetime, limit: int) -> list[tuple[datetime, str]]:
        return store.due_and_next(since, after, until, limit)[0]

    assert due(moment - MINUTE, None, moment, 10) == [(moment, found) for found in together]
    assert due(moment, None, late_moment, 10) == [(late_moment, later)]  # after the last ring only
    first = due(moment - MINUTE, None, late_moment, 2)
    assert first == [(moment, found) for found in together[:2]]
    assert due(moment, together[1], late_moment, 2) == [(moment, together[2]), (late_moment, later)]
    assert due(moment - 2 * MINUTE, None, moment - MINUTE, 10) == []
    # And the moment to ring at next, read with them.
    assert store.due_and_next(moment - MINUTE, None, moment, 10) == ([(moment, found) for found in together],
                                                                     late_moment)
    assert store.due_and_next(moment, None, late_moment, 10) == ([(late_moment, later)], None)


def test_the_gauges_count_active_and_overdue_sessions_and_the_audit_trail_reads_back_in_order(store: Store) -> None:
    a = _approved(store, "a@acme.com")
    b = _pending(store, "b@acme.com", at=T0 + MINUTE)
    assert store.count_active() == 0
    assert store._transition(a, [State.APPROVED], State.ACTIVE, actor="system", action="activated", now=T0,
                            started_at=T0, ends_at=T0 + 30 * MINUTE, token_sealed="sealed")
    assert store.count_active() == 1
    assert store.overdue_sessions(T0 + 29 * MINUTE) == (0, None)  # its window has not ended
    assert store.overdue_sessions(T0 + 31 * MINUTE) == (1, T0 + 30 * MINUTE)  # ended, and not stopped: overdue

    trail = store.audit()
    assert [(e.request_id, e.action) for e in trail] == [(a, "requested"), (a, "approved"), (b, "requested"),
                                                         (a, "activated")]
    assert [e.id for e in trail] == sorted(e.id for e in trail) and all(e.at.tzinfo is not None for e in trail)
    assert [e.action for e in store.audit(request_id=b)] == ["requested"]
    assert [e.request_id for e in store.audit(since=T0 + MINUTE)] == [b]
    assert store._transition(a, [State.ACTIVE], State.STOPPED, actor="system", action="stopped", now=T0,
                            stopped_at=T0 + 30 * MINUTE)
    assert store.overdue_sessions(T0 + 31 * MINUTE) == (0, None)  # stopped: no longer overdue


def test_a_session_asked_to_stop_is_overdue_from_then_until_it_is_stopped(store: Store) -> None:
    a, b = _approved(store, "a@acme.com"), _approved(store, "b@acme.com")
    for request_id in (a, b):
        assert store._transition(request_id, [State.APPROVED], State.ACTIVE, actor="system", action="activated",
                                 now=T0, started_at=T0, ends_at=T0 + 30 * MINUTE, token_sealed="sealed")
    assert store.ask_stop(a, "UREQ1", T0 + 5 * MINUTE)
    assert store.overdue_sessions(T0 + 4 * MINUTE) == (0, None)
    assert store.overdue_sessions(T0 + 6 * MINUTE) == (1, T0 + 5 * MINUTE)  # its stop is due since it was asked
    assert store.overdue_sessions(T0 + 31 * MINUTE) == (2, T0 + 5 * MINUTE)  # both, counted once each
    assert store._transition(a, [State.ACTIVE], State.STOPPED, actor="system", action="stopped", now=T0,
                             stopped_at=T0 + 6 * MINUTE)
    assert store.overdue_sessions(T0 + 31 * MINUTE) == (1, T0 + 30 * MINUTE)


def test_the_home_lists_count_past_their_limit_and_opening_it_twice_keeps_one_row(store: Store) -> None:
    home = HomeStore(store)
    mine = [_pending(store, f"m{i}@acme.com", at=T0 + i * MINUTE) for i in range(3)]
    theirs = _pending(store, "t@acme.com", requester="UREQ2", at=T0 + 5 * MINUTE)

    listed = home.requests(states=[State.PENDING], limit=2, requester_id="UREQ1")
    assert [r.id for r in listed.shown] == [mine[2], mine[1]] and listed.total == 3
    oldest = home.requests(states=[State.PENDING], limit=2, requester_id="UREQ1", oldest_first=True)
    assert [r.id for r in oldest.shown] == [mine[0], mine[1]] and oldest.total == 3
    awaiting = home.requests(states=[State.PENDING], limit=10, not_requester="UREQ1")
    assert [r.id for r in awaiting.shown] == [theirs] and awaiting.total == 1

    home.opened("UREQ1", T0)
    home.opened("UREQ1", T0 + 10 * MINUTE)  # an upsert: the latest opening
    home.opened("UREQ2", T0 + MINUTE)
    assert home.viewers(T0 + 5 * MINUTE) == ["UREQ1"]
    assert home.viewers(T0) == ["UREQ1", "UREQ2"]
    work = store.slack_work(theirs, viewers_since=T0 + 5 * MINUTE)  # read with a request's Slack work
    assert work is not None and work.row.id == theirs and work.viewers == ["UREQ1"]
    claimed = store.claim_slack(mine[0], T0 + 20 * MINUTE, T0 + 21 * MINUTE, viewers_since=T0)
    assert claimed is not None and claimed.viewers == ["UREQ1", "UREQ2"]
    plain = store.slack_work(theirs)
    assert plain is not None and plain.viewers is None  # not asked for


def test_the_database_clock_is_postgresql_s_own_and_sqlite_has_none(store: Store) -> None:
    store.ping()
    now = store.database_now()
    if store.engine.dialect.name == "sqlite":
        assert now is None
    else:
        assert now is not None and now.tzinfo is not None
        assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


def test_seeded_sessions_run_as_a_whole_flow_leaves_them(store: Store) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    sessions = [SeededSession(requester_id="UREQ1", login_id=f"long-{i}@acme.com", impersonator="ureq1@acme.com",
                              approver="UAPPR1", ends_at=now + timedelta(hours=2, seconds=i), token_sealed="sealed",
                              channel_id="CAPPROVALS", channel_ts=f"1600000000.{i:06d}", dm_channel="DUREQ1",
                              dm_ts=f"1600000001.{i:06d}") for i in range(3)]
    seed_sessions(store, sessions, now)

    active = store.list_requests(states=[State.ACTIVE])
    assert len(active) == 3 and store.count_active() == 3
    first = min(active, key=lambda r: r.ends_at or now)
    assert first.ends_at == now + timedelta(hours=2) and first.approved_by == ("UAPPR1",)
    assert _next_due(store, first.id) == first.ends_at  # due when it ends: nothing else owed
    work = store.slack_work(first.id)
    assert work is not None and work[1] == []  # the thread already shows the flow
    assert [e.action for e in store.audit(request_id=first.id)] == ["requested", "approved", "activated"]


def _next_due(store: Store, request_id: str) -> datetime:
    row = store.get_row(request_id)
    assert row is not None and row.next_due_at is not None
    return row.next_due_at
