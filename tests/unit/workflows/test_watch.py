"""The watch on Descope, in process on a controlled clock (``bot.workflows.watch``): Descope's audit searched once an
interval (the first time ``RECONCILE_LOOKBACK`` back, then from the checkpoint less a 2-minute overlap); each
impersonation no session of the bot accounts for told once in the approvals channel, audited and counted, however
the searches overlap and whatever restarts, under the audit's actor ``descope`` (Descope's own in the detail, however
long); a record that cannot be kept does not keep the others from being kept; a search that fails changes nothing and
is tried again, not before Descope's ``Retry-After``. Descope is the in-process stub, its audit records set by each
test."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.descope import DescopeUnavailable
from bot.descope.audit import AuditRecord
from bot.devtools.harness import REQUESTER, TARGET
from bot.domain.audit import Action
from bot.domain.outcomes import Outside, decode_detail
from bot.store.stream import DESCOPE_WATCH, OUTSIDE_ACTOR
from bot.workflows import Workflows
from bot.workflows.watch import TURN, DescopeWatch, iso
from tests.fakes.inprocess import StubDescope, StubNotifier, World

MINUTE = timedelta(minutes=1)
INTERVAL = timedelta(minutes=5)  # RECONCILE_INTERVAL's default, the world's
LOOKBACK = timedelta(hours=24)  # RECONCILE_LOOKBACK's default


class Observer:
    def __init__(self) -> None:
        self.outside = 0

    def stopped_late(self, seconds: float) -> None:
        pass

    def approval_post_refused(self, error: str) -> None:
        pass

    def audit_delivery(self, outcome: str, events: int = 0) -> None:
        pass

    def outside_impersonation(self) -> None:
        self.outside += 1


@pytest.fixture
def observer() -> Observer:
    return Observer()


@pytest.fixture
def watched(world: World, observer: Observer) -> World:
    """The world with its metrics observed."""
    ctx = world.workflows.ctx
    world.workflows = Workflows.build(ctx.settings, world.store, world.descope, world.directory, world.notifier,
                                      ctx.sealer, clock=world.clock, observer=observer)
    return world


def _restarted(world: World, notifier: StubNotifier | None = None, *, interval: timedelta = INTERVAL,
               lookback: timedelta = LOOKBACK) -> Workflows:
    """The bot started again on the same database (its own notifier: what it says after the restart), with these
    ``RECONCILE_INTERVAL`` and ``RECONCILE_LOOKBACK``."""
    ctx = world.workflows.ctx
    settings = replace(ctx.settings, reconcile_interval=interval, reconcile_lookback=lookback)
    return Workflows.build(settings, world.store, world.descope, world.directory,
                           notifier or StubNotifier(), ctx.sealer, clock=world.clock)


def _watch(world: World) -> DescopeWatch:
    return world.workflows.watch


def impersonation(user_id: str, at: datetime, login_id: str | None = None, actor: str | None = None) -> AuditRecord:
    return AuditRecord(user_id=user_id, action="LoginSucceed", method="Impersonate", occurred=at,
                       login_ids=(login_id,) if login_id else (), actor_id=actor)


def _outside_audited(world: World) -> list[Outside]:
    found = []
    for entry in world.store.audit():
        if entry.action == Action.OUTSIDE_IMPERSONATION:
            assert entry.request_id is None
            detail = decode_detail(entry.detail)
            assert isinstance(detail, Outside)
            found.append(detail)
    return found


def test_the_watch_is_off_when_the_interval_is_0(watched: World) -> None:
    watched.descope.audit_records = [impersonation("UBOB", watched.clock() - MINUTE, "bob@acme.com")]
    off = _restarted(watched, interval=timedelta(0))
    assert off.watch.look() == 0
    watched.clock.advance(3600)
    assert off.watch.look() == 0
    assert watched.descope.audit_searches == [] and _outside_audited(watched) == []


def test_the_first_search_looks_back_the_lookback_and_the_next_from_the_checkpoint_less_2_minutes(
        watched: World) -> None:
    t0 = watched.clock()
    _watch(watched).look()
    watched.clock.advance(INTERVAL.total_seconds())
    _watch(watched).look()
    watched.clock.advance(INTERVAL.total_seconds())
    _watch(watched).look()

    assert watched.descope.audit_searches == [  # successful logins by impersonation only
        (("LoginSucceed",), t0 - LOOKBACK, t0, ("Impersonate",)),
        (("LoginSucceed",), t0 - 2 * MINUTE, t0 + INTERVAL, ("Impersonate",)),
        (("LoginSucceed",), t0 + INTERVAL - 2 * MINUTE, t0 + 2 * INTERVAL, ("Impersonate",))]


def test_the_first_search_of_a_watch_looking_back_30_days_stays_within_descopes_reach(watched: World) -> None:
    t0 = watched.clock()
    _restarted(watched, lookback=timedelta(days=30)).watch.look()
    [(_, since, until, _)] = watched.descope.audit_searches
    assert until == t0 and t0 - timedelta(days=30) < since <= t0 - timedelta(days=30) + MINUTE


def test_an_impersonation_by_a_session_of_the_bot_is_not_told(watched: World, observer: Observer) -> None:
    watched.approved()  # the session starts now, as Descope's user of TARGET
    started = watched.clock()
    watched.descope.audit_records = [
        impersonation(StubDescope.user_id_of(TARGET), started + MINUTE + timedelta(seconds=59), TARGET)]
    assert watched.descope.minted  # the bot's own impersonation

    assert _watch(watched).look() == 0
    assert watched.notifier.outside == [] and _outside_audited(watched) == [] and observer.outside == 0


def test_logins_that_are_not_impersonations_are_not_told(watched: World, monkeypatch: pytest.MonkeyPatch) -> None:
    at = watched.clock() - MINUTE
    otp = AuditRecord(user_id="UBOB", action="LoginSucceed", method="otp", occurred=at, login_ids=("bob@acme.com",))
    watched.descope.audit_records = [otp]
    assert _watch(watched).look() == 0
    assert watched.notifier.outside == [] and _outside_audited(watched) == []

    # Were Descope to answer one the search did not ask for, it is still no impersonation.
    monkeypatch.setattr(watched.descope, "search_audit", lambda *args, **kwargs: [otp])
    watched.clock.advance(INTERVAL.total_seconds())
    assert _watch(watched).look() == 0
    assert watched.notifier.outside == [] and _outside_audited(watched) == []


def test_an_impersonation_no_session_accounts_for_is_told_once_audited_and_counted(watched: World,
                                                                                  observer: Observer) -> None:
    request_id = watched.approved()
    started = watched.clock()
    watched.clock.advance(60)
    # Jane again, but 3 minutes after the bot's session started: not the bot's; Bob, whom the bot never impersonated.
    jane_later = impersonation(StubDescope.user_id_of(TARGET), started + 3 * MINUTE, TARGET, actor="UCONSOLE")
    bob = impersonation("UBOB", started - 30 * MINUTE, "bob@acme.com")
    watched.clock.advance(4 * 60)
    watched.descope.audit_records = [jane_later, bob]

    assert _watch(watched).look() == 2

    jane = Outside(user_id="Ujane@acme.com", occurred="2026-01-05T09:03:00Z", login_id=TARGET, name="jane",
                   actor="UCONSOLE")
    bobs = Outside(user_id="UBOB", occurred="2026-01-05T08:30:00Z", login_id="bob@acme.com", name="bob")
    assert started == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert sorted(watched.notifier.outside, key=lambda o: o.occurred) == [bobs, jane]
    assert sorted(_outside_audited(watched), key=lambda o: o.occurred) == [bobs, jane]
    assert observer.outside == 2
    assert [e.action for e in watched.store.audit(request_id=request_id)].count(Action.OUTSIDE_IMPERSONATION) == 0
    assert {e.actor for e in watched.store.audit() if e.action == Action.OUTSIDE_IMPERSONATION} == {OUTSIDE_ACTOR}

    # The next search overlaps the last by 2 minutes: Jane's record again, said nothing of.
    watched.clock.advance(INTERVAL.total_seconds())
    assert _watch(watched).look() == 0
    assert len(watched.descope.audit_searches) == 2
    assert len(watched.notifier.outside) == 2 and len(_outside_audited(watched)) == 2 and observer.outside == 2

    # Restarted, and searching as far back as the first run did (the same records again): still nothing said twice.
    watched.store.set_checkpoint("descope_watch", watched.clock() - LOOKBACK)
    notifier = StubNotifier()
    restarted = _restarted(watched, notifier)
    watched.clock.advance(INTERVAL.total_seconds())
    assert restarted.watch.look() == 0
    assert len(watched.descope.audit_searches) == 3
    assert notifier.outside == [] and len(_outside_audited(watched)) == 2


def test_a_session_of_the_bot_elsewhere_does_not_account_for_another_users_impersonation(watched: World) -> None:
    watched.approved()
    watched.descope.audit_records = [impersonation("UBOB", watched.clock(), "bob@acme.com")]
    assert _watch(watched).look() == 1
    assert [o.user_id for o in watched.notifier.outside] == ["UBOB"]


def test_a_search_that_fails_changes_nothing_and_is_tried_again(watched: World, observer: Observer) -> None:
    t0 = watched.clock()
    _watch(watched).look()  # checkpoint: t0
    watched.clock.advance(INTERVAL.total_seconds())
    bob = impersonation("UBOB", t0 + 4 * MINUTE, "bob@acme.com")
    watched.descope.audit_records = [bob]
    watched.descope.audit_error = DescopeUnavailable("503 Service Unavailable", status=503)

    assert _watch(watched).look() == 0
    assert watched.notifier.outside == [] and _outside_audited(watched) == [] and observer.outside == 0
    searches = len(watched.descope.audit_searches)

    watched.descope.audit_error = None
    watched.clock.advance(30)
    assert _watch(watched).look() == 0 and len(watched.descope.audit_searches) == searches  # not at once
    watched.clock.advance(30)
    assert _watch(watched).look() == 1  # a minute later: the same ground, from the checkpoint less 2 minutes
    assert watched.descope.audit_searches[-1] == (("LoginSucceed",), t0 - 2 * MINUTE, t0 + INTERVAL + MINUTE,
                                                  ("Impersonate",))
    assert [o.user_id for o in watched.notifier.outside] == ["UBOB"] and observer.outside == 1


def test_one_search_an_interval_however_many_looks_and_replicas(watched: World) -> None:
    for _ in range(10):
        _watch(watched).look()
        watched.replica().watch.look()
        watched.clock.advance(29)
    assert len(watched.descope.audit_searches) == 1  # 4 min 50 s

    watched.clock.advance(10)
    watched.replica().watch.look()
    _watch(watched).look()
    assert len(watched.descope.audit_searches) == 2


def test_a_channel_that_could_not_be_told_is_told_at_the_next_search(watched: World, observer: Observer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    watched.descope.audit_records = [impersonation("UBOB", watched.clock() - MINUTE, "bob@acme.com")]

    def refuses(found: Outside) -> str:
        raise RuntimeError("chat.postMessage: not_in_channel")

    with monkeypatch.context() as patched:
        patched.setattr(watched.notifier, "post_outside", refuses)
        assert _watch(watched).look() == 1
    assert watched.notifier.outside == [] and len(_outside_audited(watched)) == 1 and observer.outside == 1

    watched.clock.advance(INTERVAL.total_seconds())
    assert _watch(watched).look() == 0
    assert [o.user_id for o in watched.notifier.outside] == ["UBOB"]
    assert len(_outside_audited(watched)) == 1 and observer.outside == 1

    watched.clock.advance(INTERVAL.total_seconds())
    _watch(watched).look()
    assert len(watched.notifier.outside) == 1  # told once


def test_the_requester_of_a_session_is_not_who_matters_only_whom_it_impersonated(watched: World) -> None:
    watched.approved()
    watched.descope.audit_records = [impersonation(StubDescope.user_id_of(TARGET), watched.clock(), None,
                                                   actor=REQUESTER)]
    assert _watch(watched).look() == 0


def test_the_bots_own_impersonate_call_whose_answer_was_lost_is_not_told_as_outside_the_bot(
        watched: World, monkeypatch: pytest.MonkeyPatch) -> None:
    minted = watched.descope.impersonate

    def answer_lost(**kwargs: Any) -> str:
        minted(**kwargs)  # Descope minted it, and its audit shows the impersonation ...
        raise DescopeUnavailable("ReadTimeout", maybe_done=True)  # ... but the answer never came back

    monkeypatch.setattr(watched.descope, "impersonate", answer_lost)
    request_id = watched.approved()
    assert watched.row(request_id).state == "failed"
    watched.descope.audit_records = [impersonation(StubDescope.user_id_of(TARGET), watched.clock(), TARGET)]

    _watch(watched).look()

    assert watched.notifier.outside == []  # it was this bot's call, on record as maybe minted


def test_a_descope_actor_longer_than_the_audits_is_kept_and_told(watched: World) -> None:
    actor = "console:" + "K" * 60 + "@acme-eu.descope"  # audit.actor holds 32: PostgreSQL would refuse it there
    watched.descope.audit_records = [impersonation("UBOB", watched.clock() - MINUTE, "bob@acme.com", actor=actor)]

    assert _watch(watched).look() == 1

    [told] = watched.notifier.outside
    assert told.actor == actor
    assert [o.actor for o in _outside_audited(watched)] == [actor]
    [entry] = [e for e in watched.store.audit() if e.action == Action.OUTSIDE_IMPERSONATION]
    assert entry.actor == OUTSIDE_ACTOR == "descope"


def test_the_moment_is_written_in_utc_with_z(watched: World) -> None:
    at = datetime(2026, 1, 5, 8, 59, 30, 250000, tzinfo=UTC)
    watched.descope.audit_records = [impersonation("UBOB", at, "bob@acme.com")]
    assert _watch(watched).look() == 1
    [told] = watched.notifier.outside
    assert told.occurred == "2026-01-05T08:59:30.250000Z"
    assert [o.occurred for o in _outside_audited(watched)] == ["2026-01-05T08:59:30.250000Z"]
    assert iso(at.astimezone(timezone(timedelta(hours=2)))) == "2026-01-05T08:59:30.250000Z"  # whatever zone it came in


def test_a_record_that_fails_to_be_kept_is_logged_and_the_others_are_kept(
        watched: World, observer: Observer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    now = watched.clock()
    watched.descope.audit_records = [impersonation("UANN", now - 3 * MINUTE, "ann@acme.com"),
                                     impersonation("UBAD", now - 2 * MINUTE, "bad@acme.com"),
                                     impersonation("UBOB", now - MINUTE, "bob@acme.com")]
    real = watched.store.record_outside

    def refuses_one(outside: Outside, occurred_at: datetime, at: datetime) -> int | None:
        if outside.user_id == "UBAD":
            raise RuntimeError("value too long for type character varying(32)")
        return real(outside, occurred_at, at)

    monkeypatch.setattr(watched.store, "record_outside", refuses_one)
    with caplog.at_level(logging.WARNING, logger="bot.workflows"):
        assert _watch(watched).look() == 2

    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)
    assert sorted(o.user_id for o in watched.notifier.outside) == ["UANN", "UBOB"]
    assert sorted(o.user_id for o in _outside_audited(watched)) == ["UANN", "UBOB"] and observer.outside == 2
    duty = watched.store.claim_duty(DESCOPE_WATCH, now + INTERVAL, now + INTERVAL + MINUTE)
    assert duty is not None and duty.checkpoint == now  # the search went on to its end


def test_a_failed_search_waits_at_least_descopes_retry_after(watched: World) -> None:
    watched.descope.audit_error = DescopeUnavailable("429 Too Many Requests", status=429, retry_after=180)
    assert _watch(watched).look() == 0
    watched.descope.audit_error = None
    searches = len(watched.descope.audit_searches)

    watched.clock.advance(179)
    assert _watch(watched).look() == 0 and len(watched.descope.audit_searches) == searches  # not before it
    watched.clock.advance(1)
    _watch(watched).look()
    assert len(watched.descope.audit_searches) == searches + 1


def test_a_short_retry_after_still_waits_a_minute(watched: World) -> None:
    watched.descope.audit_error = DescopeUnavailable("429 Too Many Requests", status=429, retry_after=2)
    assert _watch(watched).look() == 0
    watched.descope.audit_error = None
    searches = len(watched.descope.audit_searches)

    watched.clock.advance(59)
    _watch(watched).look()
    assert len(watched.descope.audit_searches) == searches
    watched.clock.advance(1)
    _watch(watched).look()
    assert len(watched.descope.audit_searches) == searches + 1


def test_a_kept_impersonation_is_not_looked_up_again(watched: World, monkeypatch: pytest.MonkeyPatch) -> None:
    watched.descope.audit_records = [impersonation("UBOB", watched.clock() - MINUTE, "bob@acme.com")]
    assert _watch(watched).look() == 1

    looked_up: list[str] = []
    real = watched.descope.load_user
    monkeypatch.setattr(watched.descope, "load_user",
                        lambda login_id, **kwargs: looked_up.append(login_id) or real(login_id, **kwargs))
    watched.clock.advance(INTERVAL.total_seconds())  # the overlap: Bob's record again
    assert _watch(watched).look() == 0
    assert looked_up == [] and len(watched.notifier.outside) == 1


def test_a_watch_whose_turn_was_lost_does_not_tell_the_channel_the_new_holder_does(
        watched: World, monkeypatch: pytest.MonkeyPatch) -> None:
    watched.descope.audit_records = [impersonation("UBOB", watched.clock() - MINUTE, "bob@acme.com")]
    searched = watched.descope.search_audit
    taken_over: list[Any] = []

    def slow(*args: Any, **kwargs: Any) -> list[AuditRecord]:
        """The search outlasts the watch's lease; another replica claims the duty meanwhile."""
        watched.clock.advance(TURN.total_seconds() + 1)
        now = watched.clock()
        taken_over.append(watched.store.claim_duty(DESCOPE_WATCH, now, now + TURN))
        return searched(*args, **kwargs)

    monkeypatch.setattr(watched.descope, "search_audit", slow)
    assert _watch(watched).look() == 1  # kept (its row: once, whoever tells it) ...
    assert watched.notifier.outside == []  # ... but not told by a watch whose turn is over
    [other] = taken_over
    assert other is not None
    assert watched.store.claim_duty(DESCOPE_WATCH, watched.clock(), watched.clock() + TURN) is None  # still held

    watched.store.release_duty(other)
    monkeypatch.setattr(watched.descope, "search_audit", searched)
    watched.clock.advance(INTERVAL.total_seconds())
    assert _watch(watched).look() == 0
    assert [o.user_id for o in watched.notifier.outside] == ["UBOB"]  # told once, by the next turn
