"""The audit stream and the watch on Descope in the store, on both databases (``bot.store.stream``): the transactional
outbox (an audit row is to deliver if, and only if, it was committed), the batches and their ``seq``s (given once, the
same on a retry, in their order), the duties one replica at a time (a lease fenced by its claim's token: a holder that
lost it reads nothing more and gives back nothing of the next holder's), the backlog, the export's events, the
impersonations outside the bot kept once (under the audit's actor ``descope``, whatever Descope's), the bot's own
sessions (and approvals that never started) found around a moment, and the retention that waits for delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import State
from bot.domain.audit import Action
from bot.domain.outcomes import Outside, decode_detail
from bot.store import Progress, Session, Store
from bot.store.retention import purge
from bot.store.rows import add_audit
from bot.store.stream import AUDIT_STREAM, DESCOPE_WATCH, OUTSIDE_ACTOR, Duty, StreamEvent

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
LEASE = 2 * MINUTE
ACTIVATING = 10 * MINUTE  # how long before Descope's record a request approved that never started still accounts for it


class Refused(Exception):
    pass


@pytest.fixture
def store(any_store: Store) -> Store:
    """A store with the audit stream on (``AUDIT_WEBHOOK_URL``), on each database."""
    return Store(any_store.engine, outbox=True)


def _pending(store: Store, at: datetime, login_id: str = "jane@acme.com", tenant: str | None = None) -> str:
    return store.insert(requester_id="UREQ1", login_id=login_id, tenant=tenant, duration=timedelta(minutes=30),
                        reason="r", pending_until=at + timedelta(minutes=30), now=at).row.id


def _approved(store: Store, at: datetime, login_id: str = "jane@acme.com") -> str:
    request_id = _pending(store, at, login_id)
    assert store._transition(request_id, [State.PENDING], State.APPROVED, actor="UAPPR1", action=Action.APPROVED,
                             now=at, decided_by="UAPPR1", decided_at=at)
    return request_id


def _session(store: Store, at: datetime, login_id: str, user_id: str | None) -> str:
    """A session of the bot started at ``at`` as the Descope user ``user_id`` (``None``: from before it was kept)."""
    request_id = _approved(store, at, login_id)
    started = store.start_session(request_id, Session(
        impersonator="UREQ1", started_at=at, ends_at=at + timedelta(minutes=30), token_sealed="sealed",
        token_expires_at=at + timedelta(minutes=30), delivery="dm", warn_at=None, target_user_id=user_id), now=at)
    assert started is not None
    return request_id


def _events(store: Store, duty: Duty, limit: int = 100) -> list[StreamEvent]:
    found = store.outbox_batch(duty, limit)
    assert found is not None, "the duty's lease was lost"
    return found


def _batch(store: Store, duty: Duty, limit: int = 100) -> list[tuple[int, int | None]]:
    return [(event.audit_id, event.seq) for event in _events(store, duty, limit)]


def _claim(store: Store, at: datetime = T0) -> Duty:
    duty = store.claim_duty(AUDIT_STREAM, at, at + LEASE)
    assert duty is not None
    return duty


def _state(store: Store, name: str = AUDIT_STREAM) -> tuple[datetime | None, str | None]:
    """The duty's row as it is: its lease and who holds it."""
    with store.db.read() as s:
        found = s.one("SELECT lease_until, owner FROM bot_state WHERE name = ?", (name,))
        assert found is not None
        return s.moment(found[0]), found[1]


def _around(store: Store, user_id: str, logins: tuple[str, ...], at: datetime) -> bool:
    return store.sessions_around(user_id, logins, at, 2 * MINUTE, ACTIVATING)


def _ids(store: Store, request_id: str | None = None) -> list[int]:
    return [entry.id for entry in store.audit(request_id=request_id)]


# -- the outbox ------------------------------------------------------------------------------------------------------


def test_a_committed_audit_row_is_in_the_outbox_with_what_its_event_says(store: Store) -> None:
    request_id = _pending(store, T0, "Jane@acme.com", tenant="acme-eu")
    [audit_id] = _ids(store, request_id)

    assert store.outbox_backlog() == (1, T0)
    assert store.outbox_waiting()
    assert store.outbox_batch(_claim(store), 100) == [StreamEvent(
        audit_id=audit_id, seq=1, at=T0, action=Action.REQUESTED, request_id=request_id, actor="UREQ1",
        from_state=None, to_state=State.PENDING.value, detail=None, target="Jane@acme.com", tenant="acme-eu")]


def test_every_audit_row_of_a_request_is_in_the_outbox_in_its_order(store: Store) -> None:
    request_id = _approved(store, T0)
    duty = _claim(store)
    assert [(e.audit_id, e.action) for e in _events(store, duty)] == [
        (entry.id, entry.action) for entry in store.audit(request_id=request_id)]
    assert [e.action for e in _events(store, duty)] == [Action.REQUESTED, Action.APPROVED]


def test_a_transaction_that_raised_leaves_neither_the_audit_row_nor_its_outbox_row(store: Store) -> None:
    def refuse(live: object, pending: int) -> None:
        raise Refused("too many pending")

    with pytest.raises(Refused):
        store.insert(requester_id="UREQ1", login_id="jane@acme.com", tenant=None, duration=timedelta(minutes=30),
                     reason="r", pending_until=T0 + HOUR, now=T0, guard=refuse)

    assert store.audit() == []
    assert store.outbox_backlog() == (0, None) and not store.outbox_waiting()
    assert store.outbox_batch(_claim(store), 100) == []


def test_without_the_stream_no_audit_row_waits_in_the_outbox(any_store: Store) -> None:
    _approved(any_store, T0)
    assert len(any_store.audit()) == 2
    assert any_store.outbox_backlog() == (0, None) and not any_store.outbox_waiting()


# -- batches and their seqs ------------------------------------------------------------------------------------------


def test_seqs_are_given_once_increasing_and_a_retry_sends_the_same(store: Store) -> None:
    for n in range(3):
        _pending(store, T0 + n * MINUTE, f"u{n}@acme.com")
    a, b, c = _ids(store)
    duty = _claim(store)

    assert _batch(store, duty, 2) == [(a, 1), (b, 2)]
    assert _batch(store, duty, 2) == [(a, 1), (b, 2)]  # not delivered: the retry sends the same ids and seqs
    assert _batch(store, duty, 10) == [(a, 1), (b, 2), (c, 3)]  # c numbered now, after the others


def test_delivered_removes_the_batch_and_the_next_continues_the_numbering(store: Store) -> None:
    for n in range(3):
        _pending(store, T0 + n * MINUTE, f"u{n}@acme.com")
    a, b, c = _ids(store)
    duty = _claim(store)
    assert _batch(store, duty, 2) == [(a, 1), (b, 2)]

    store.delivered([a, b])
    assert store.outbox_backlog() == (1, T0 + 2 * MINUTE)
    d = _ids(store, _pending(store, T0 + 3 * MINUTE, "u3@acme.com"))[0]
    assert _batch(store, duty) == [(c, 3), (d, 4)]
    store.delivered([c, d])
    assert _batch(store, duty) == []
    assert store.outbox_backlog() == (0, None) and not store.outbox_waiting()


def test_the_numbering_goes_on_after_a_restart(store: Store) -> None:
    a = _ids(store, _pending(store, T0))[0]
    duty = _claim(store)
    assert _batch(store, duty) == [(a, 1)]
    store.delivered([a])
    store.release_duty(duty)

    again = Store(store.engine, outbox=True)  # another process on the same database
    b = _ids(again, _pending(again, T0 + MINUTE, "u2@acme.com"))[0]
    duty = _claim(again, T0 + MINUTE)
    assert duty.next_seq == 2
    assert _batch(again, duty) == [(b, 2)]


def test_the_backlog_counts_what_waits_and_since_when(store: Store) -> None:
    assert store.outbox_backlog() == (0, None)
    _pending(store, T0, "a@acme.com")
    _pending(store, T0 + HOUR, "b@acme.com")
    assert store.outbox_backlog() == (2, T0)

    store.delivered([_events(store, _claim(store), 1)[0].audit_id])
    assert store.outbox_backlog() == (1, T0 + HOUR)


# -- duties ----------------------------------------------------------------------------------------------------------


def test_the_duties_rows_are_made_by_the_migration_free(store: Store) -> None:
    assert _state(store, AUDIT_STREAM) == (None, None)
    assert _state(store, DESCOPE_WATCH) == (None, None)


def test_a_duty_has_one_holder_at_a_time_until_released(store: Store) -> None:
    first = store.claim_duty(AUDIT_STREAM, T0, T0 + LEASE)
    assert first is not None and (first.name, first.next_seq, first.checkpoint, first.failures) == (
        AUDIT_STREAM, 1, None, 0)
    assert _state(store) == (T0 + LEASE, first.owner)
    assert store.claim_duty(AUDIT_STREAM, T0, T0 + LEASE) is None
    assert store.claim_duty(AUDIT_STREAM, T0 + MINUTE, T0 + MINUTE + LEASE) is None
    watch = store.claim_duty(DESCOPE_WATCH, T0, T0 + LEASE)  # another duty: its own holder
    assert watch is not None and watch.owner != first.owner

    store.release_duty(first)
    assert _state(store) == (None, None)
    again = store.claim_duty(AUDIT_STREAM, T0 + MINUTE, T0 + MINUTE + LEASE)
    assert again is not None and again.owner not in (first.owner, watch.owner)  # each claim its own token


def test_a_duty_whose_holder_vanished_is_free_once_the_lease_ran_out(store: Store) -> None:
    assert store.claim_duty(AUDIT_STREAM, T0, T0 + LEASE) is not None
    assert store.claim_duty(AUDIT_STREAM, T0 + LEASE - timedelta(seconds=1), T0 + 2 * LEASE) is None
    assert store.claim_duty(AUDIT_STREAM, T0 + LEASE + timedelta(seconds=1), T0 + 2 * LEASE) is not None


def test_a_renewed_lease_holds_the_duty_longer(store: Store) -> None:
    duty = _claim(store)
    assert store.renew_duty(duty, T0 + 3 * LEASE)
    assert _state(store) == (T0 + 3 * LEASE, duty.owner)
    assert store.claim_duty(AUDIT_STREAM, T0 + 2 * LEASE, T0 + 4 * LEASE) is None  # past the first lease: still held
    assert store.claim_duty(AUDIT_STREAM, T0 + 3 * LEASE + timedelta(seconds=1), T0 + 4 * LEASE) is not None


def test_a_lost_lease_stops_its_holder_and_gives_back_nothing_of_the_new_holders(store: Store) -> None:
    a = _ids(store, _pending(store, T0))[0]
    old = _claim(store)
    assert _batch(store, old) == [(a, 1)]  # sent, and then the holder stalled past its lease

    later = T0 + LEASE + timedelta(seconds=1)
    new = store.claim_duty(AUDIT_STREAM, later, later + LEASE)  # another replica takes the duty
    assert new is not None and new.owner != old.owner

    assert store.outbox_batch(old, 100) is None  # the old holder is told to stop
    assert not store.renew_duty(old, later + 2 * LEASE)
    store.release_duty(old)  # gives back only its own lease: none now
    assert _state(store) == (later + LEASE, new.owner)
    assert store.claim_duty(AUDIT_STREAM, later + MINUTE, later + MINUTE + LEASE) is None  # the new holder holds it

    assert _batch(store, new) == [(a, 1)]  # the new holder sends the same
    assert store.renew_duty(new, later + 2 * LEASE)
    store.release_duty(new)
    assert _state(store) == (None, None)


def test_a_released_duty_can_no_longer_be_renewed_or_read_from(store: Store) -> None:
    _pending(store, T0)
    duty = _claim(store)
    store.release_duty(duty)
    assert not store.renew_duty(duty, T0 + LEASE)
    assert store.outbox_batch(duty, 100) is None
    assert _state(store) == (None, None)


def test_a_duty_put_off_is_not_taken_before_its_moment(store: Store) -> None:
    duty = _claim(store)
    store.put_off(AUDIT_STREAM, T0 + 8 * timedelta(seconds=1), failures=4)
    store.release_duty(duty)

    assert store.claim_duty(AUDIT_STREAM, T0 + timedelta(seconds=7), T0 + LEASE) is None
    again = store.claim_duty(AUDIT_STREAM, T0 + timedelta(seconds=8), T0 + LEASE)
    assert again is not None and again.failures == 4


def test_a_delivery_resets_the_failures_and_the_wait(store: Store) -> None:
    a = _ids(store, _pending(store, T0))[0]
    duty = _claim(store)
    store.put_off(AUDIT_STREAM, T0 + HOUR, failures=3)
    store.delivered([a])
    store.release_duty(duty)
    again = store.claim_duty(AUDIT_STREAM, T0, T0 + LEASE)
    assert again is not None and again.failures == 0


def test_the_watch_keeps_its_checkpoint(store: Store) -> None:
    duty = store.claim_duty(DESCOPE_WATCH, T0, T0 + LEASE)
    assert duty is not None and duty.checkpoint is None
    store.set_checkpoint(DESCOPE_WATCH, T0 + timedelta(seconds=30))
    store.release_duty(duty)
    again = Store(store.engine).claim_duty(DESCOPE_WATCH, T0 + MINUTE, T0 + MINUTE + LEASE)
    assert again is not None and again.checkpoint == T0 + timedelta(seconds=30)


def test_the_watchs_duty_is_not_the_streams_to_read_from(store: Store) -> None:
    _pending(store, T0)
    watch = store.claim_duty(DESCOPE_WATCH, T0, T0 + LEASE)
    assert watch is not None
    assert store.outbox_batch(watch, 100) is None  # only the audit stream's holder numbers and sends


# -- the export's events ---------------------------------------------------------------------------------------------


def test_audit_events_between_two_moments_of_a_request_with_target_and_tenant(any_store: Store) -> None:
    store = any_store  # the export reads the audit whether the stream is on or not
    first = _pending(store, T0, "a@acme.com", tenant="acme-eu")
    second = _approved(store, T0 + HOUR, "b@acme.com")

    everything = store.audit_events()
    assert [(e.request_id, e.action, e.target, e.tenant, e.seq) for e in everything] == [
        (first, Action.REQUESTED, "a@acme.com", "acme-eu", None),
        (second, Action.REQUESTED, "b@acme.com", None, None),
        (second, Action.APPROVED, "b@acme.com", None, None)]
    assert [e.audit_id for e in everything] == _ids(store)

    assert [e.request_id for e in store.audit_events(since=T0 + HOUR)] == [second, second]  # since: included
    assert [e.request_id for e in store.audit_events(until=T0 + HOUR)] == [first]  # until: left out
    assert store.audit_events(since=T0 + timedelta(seconds=1), until=T0 + HOUR) == []
    assert [e.action for e in store.audit_events(request_id=second)] == [Action.REQUESTED, Action.APPROVED]
    assert [e.action for e in store.audit_events(since=T0, until=T0 + 2 * HOUR, request_id=first)] == [
        Action.REQUESTED]


# -- impersonations outside the bot ----------------------------------------------------------------------------------


def test_an_impersonation_outside_the_bot_is_kept_once_with_its_audit_row_in_the_outbox(store: Store) -> None:
    occurred = T0 - 10 * MINUTE
    outside = Outside(user_id="UJANE", occurred=occurred.isoformat(), login_id="jane@acme.com", name="Jane Doe",
                      actor="UCONSOLE")

    kept = store.record_outside(outside, occurred, T0)
    assert kept is not None
    assert store.record_outside(outside, occurred, T0 + MINUTE) is None  # the next search's overlap
    assert Store(store.engine, outbox=True).record_outside(outside, occurred, T0 + 5 * MINUTE) is None  # a replica
    other = store.record_outside(Outside(user_id="UJANE", occurred="later"), occurred + MINUTE, T0)
    assert other is not None and other != kept

    assert store.outside_known("UJANE", occurred) and store.outside_known("UJANE", occurred + MINUTE)
    assert not store.outside_known("UJANE", occurred - MINUTE) and not store.outside_known("UBOB", occurred)

    [audited, _] = store.audit()
    assert (audited.request_id, audited.action, audited.actor, audited.at) == (
        None, Action.OUTSIDE_IMPERSONATION, OUTSIDE_ACTOR, T0)  # Descope's audit told of it
    assert decode_detail(audited.detail) == outside  # Descope's actor: in the detail
    [event, later] = _events(store, _claim(store))
    assert (event.audit_id, event.request_id, event.action, event.actor, event.target, event.tenant) == (
        audited.id, None, Action.OUTSIDE_IMPERSONATION, "descope", None, None)
    assert later.actor == "descope"  # Descope named no actor

    assert [(row.id, row.user_id, row.occurred_at, row.login_id, row.name, row.actor)
            for row in store.outside_unposted()] == [
        (kept, "UJANE", occurred, "jane@acme.com", "Jane Doe", "UCONSOLE"),
        (other, "UJANE", occurred + MINUTE, None, None, None)]
    store.outside_posted(kept, "1.000300")
    assert [row.id for row in store.outside_unposted()] == [other]


def test_an_actor_longer_than_the_audits_is_kept_whole(store: Store) -> None:
    actor = "console:" + "K" * 60 + "@acme-eu.descope"  # Descope's actor: no bound (audit.actor holds 32)
    occurred = T0 - MINUTE
    outside = Outside(user_id="UJANE", occurred=occurred.isoformat(), login_id="jane@acme.com", actor=actor)

    kept = store.record_outside(outside, occurred, T0)  # PostgreSQL would refuse the whole row in audit.actor

    assert kept is not None
    [row] = store.outside_unposted()
    assert row.actor == actor
    [audited] = store.audit()
    assert audited.actor == OUTSIDE_ACTOR
    detail = decode_detail(audited.detail)
    assert isinstance(detail, Outside) and detail.actor == actor


def test_sessions_around_finds_a_session_by_the_user_impersonated_within_the_window(store: Store) -> None:
    _session(store, T0, "jane@acme.com", "UJANE")

    assert _around(store, "UJANE", (), T0)
    assert _around(store, "UJANE", ("jane@acme.com",), T0 + 2 * MINUTE)
    assert _around(store, "UJANE", (), T0 - 2 * MINUTE)
    assert not _around(store, "UJANE", ("jane@acme.com",), T0 + 3 * MINUTE)
    assert not _around(store, "UJANE", (), T0 - 3 * MINUTE)
    assert not _around(store, "UBOB", ("bob@acme.com",), T0)
    # A session that knows its user is matched by that user, not by a login naming it.
    assert not _around(store, "USOMEONE", ("jane@acme.com",), T0)


def test_sessions_around_matches_a_session_from_before_the_user_id_was_kept_by_its_login(store: Store) -> None:
    _session(store, T0, "Jane@Acme.com", None)

    assert _around(store, "UJANE", ("jane@acme.com",), T0 + MINUTE)
    assert _around(store, "UJANE", ("+15551234", "JANE@acme.com"), T0 + MINUTE)  # any of the user's logins
    assert not _around(store, "UJANE", ("jane@acme.com",), T0 + 3 * MINUTE)
    assert not _around(store, "UJANE", (), T0)
    assert not _around(store, "UJANE", ("bob@acme.com",), T0)


def test_sessions_around_counts_a_request_approved_that_never_started_up_to_activating_before(store: Store) -> None:
    _approved(store, T0, "Bob@acme.com")  # approved: its activation may have minted a token it could not record

    assert _around(store, "UBOB", ("bob@acme.com",), T0)
    assert _around(store, "UBOB", ("bob@acme.com",), T0 + ACTIVATING)
    assert _around(store, "UBOB", ("bob@acme.com",), T0 - 2 * MINUTE)  # Descope's clock a little ahead
    assert not _around(store, "UBOB", ("bob@acme.com",), T0 + ACTIVATING + timedelta(seconds=1))
    assert not _around(store, "UBOB", ("bob@acme.com",), T0 - 3 * MINUTE)
    assert not _around(store, "UBOB", ("bob@acme.com",), T0 - ACTIVATING)
    assert not _around(store, "UJANE", ("jane@acme.com",), T0)  # another user


def test_sessions_around_matches_a_request_that_started_by_its_session_only(store: Store) -> None:
    request_id = _approved(store, T0, "jane@acme.com")
    started = store.start_session(request_id, Session(
        impersonator="UREQ1", started_at=T0 + 5 * MINUTE, ends_at=T0 + HOUR, token_sealed="sealed",
        token_expires_at=T0 + HOUR, delivery="dm", warn_at=None, target_user_id="UJANE"), now=T0 + 5 * MINUTE)
    assert started is not None

    assert _around(store, "UJANE", (), T0 + 5 * MINUTE)  # its session
    assert not _around(store, "UJANE", ("jane@acme.com",), T0 + MINUTE)  # it started later: its one impersonation


def test_sessions_around_does_not_count_a_request_that_was_never_approved(store: Store) -> None:
    _pending(store, T0, "bob@acme.com")
    assert not _around(store, "UBOB", ("bob@acme.com",), T0 + MINUTE)


def test_sessions_around_does_not_count_a_request_that_was_denied(store: Store) -> None:
    request_id = _pending(store, T0, "bob@acme.com")
    assert store.deny(request_id, "UAPPR1", T0) is not None
    assert not _around(store, "UBOB", ("bob@acme.com",), T0 + MINUTE)


# -- retention -------------------------------------------------------------------------------------------------------


def test_the_retention_keeps_an_ended_request_until_its_audit_rows_are_delivered(store: Store) -> None:
    old = T0 - 3 * HOUR
    request_id = _pending(store, old)
    assert store._transition(request_id, [State.PENDING], State.DENIED, actor="UAPPR1", action=Action.DENIED,
                             now=old, decided_by="UAPPR1", decided_at=old)
    row = store.get_row(request_id)
    assert row is not None and store.slack_caught_up(request_id, row.version, Progress())

    assert purge(store, T0 - HOUR, T0) == 0
    assert store.get(request_id) is not None and len(store.audit(request_id=request_id)) == 2

    duty = _claim(store)
    first = _events(store, duty, 1)
    store.delivered([event.audit_id for event in first])
    assert purge(store, T0 - HOUR, T0) == 0  # one of its rows still waits

    store.delivered([event.audit_id for event in _events(store, duty)])
    assert purge(store, T0 - HOUR, T0) == 1
    assert store.get(request_id) is None and store.audit(request_id=request_id) == []


def test_a_retry_keeps_the_seqs_increasing_when_an_earlier_audit_row_commits_late(store: Store) -> None:
    if not store.db.postgres:
        pytest.skip("SQLite has one writer: an audit row's id and its commit come in the same order")
    with store.write() as late:  # a transaction that took its audit row's id first, and commits last
        add_audit(late, None, at=T0, actor="UA", action=Action.OUTSIDE_IMPERSONATION, from_state=None,
                  to_state=None, detail=None)
        early = _ids(store, _pending(store, T0))[0]
        duty = _claim(store)
        assert _batch(store, duty) == [(early, 1)]  # sent, not taken
    [late_id] = [i for i in _ids(store) if i != early]
    assert late_id < early  # by id, the late row comes first
    retry = _batch(store, duty)
    assert retry == [(early, 1), (late_id, 2)]  # what was sent first, as it was: the seqs never go back
