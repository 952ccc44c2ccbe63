"""The audit stream, in process on a controlled clock (``bot.workflows.audit_stream``): every audit row reaches the
intake as an event, in the order of the audit, at most 100 to a POST; an intake that does not take a batch gets the
same batch again after a delay doubling up to 5 minutes, and every answer is counted by its outcome; one replica
delivers at a time, under a lease renewed before each batch (a delivery that lost it stops, and leaves the new holder
its lease); nothing waiting is no write at all; no event ever holds a token. The intake is a fake at the port
(``Intake``); the store is the bot's own, with its outbox on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.devtools.harness import APPROVER, REQUESTER, TARGET
from bot.domain.outcomes import Outside
from bot.store import Store
from bot.store.stream import AUDIT_STREAM
from bot.workflows import Workflows
from bot.workflows.audit_stream import TURN, AuditStream
from bot.workflows.ports import IntakeFailed
from tests.fakes.inprocess import World

EVENT_FIELDS = {"id", "seq", "time", "action", "request_id", "actor", "target", "tenant", "details"}


class Intake:
    """The security team's intake: keeps each batch it is sent (taken or not); ``failing``: refuses with it."""

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []
        self.failing: IntakeFailed | None = None
        self.meanwhile: Callable[[], None] | None = None  # runs while a POST is under way (then forgotten)

    def send(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.sent.append([dict(e) for e in events])
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        if self.failing is not None:
            raise self.failing

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.sent for event in batch]


class Observer:
    """What the metrics would count of the deliveries."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, int]] = []
        self.outside: int = 0

    def stopped_late(self, seconds: float) -> None:
        pass

    def approval_post_refused(self, error: str) -> None:
        pass

    def audit_delivery(self, outcome: str, events: int = 0) -> None:
        self.deliveries.append((outcome, events))

    def outside_impersonation(self) -> None:
        self.outside += 1


@pytest.fixture
def intake() -> Intake:
    return Intake()


@pytest.fixture
def observer() -> Observer:
    return Observer()


@pytest.fixture
def streaming(world: World, intake: Intake, observer: Observer) -> Iterator[World]:
    """The world as the bot runs with ``AUDIT_WEBHOOK_URL``: its store writes the outbox, its workflows stream."""
    ctx = world.workflows.ctx
    world.store = Store(world.store.engine, outbox=True)
    world.workflows = Workflows.build(ctx.settings, world.store, world.descope, world.directory, world.notifier,
                                      ctx.sealer, clock=world.clock, observer=observer, intake=intake)
    yield world


def _stream(world: World) -> AuditStream:
    assert world.workflows.stream is not None
    return world.workflows.stream


def _lease(store: Store) -> tuple[datetime | None, str | None]:
    """The audit stream's duty as the database has it: its lease and who holds it."""
    with store.db.read() as s:
        found = s.one("SELECT lease_until, owner FROM bot_state WHERE name = ?", (AUDIT_STREAM,))
        assert found is not None
        return s.moment(found[0]), found[1]


def _outside(world: World, n: int) -> None:
    """``n`` audit rows (impersonations outside the bot, each its own moment), one a transaction."""
    for i in range(n):
        at = world.clock() - timedelta(minutes=10, seconds=i)
        world.store.record_outside(Outside(user_id=f"U{i}", occurred=at.isoformat()), at, world.clock())


def test_every_audit_row_is_delivered_in_order_with_the_fields_documented(streaming: World, intake: Intake,
                                                                          observer: Observer) -> None:
    request_id = streaming.approved()
    audit = streaming.store.audit()
    assert [entry.action for entry in audit][:3] == ["requested", "approved", "activated"]

    assert _stream(streaming).deliver() == len(audit)

    [batch] = intake.sent
    assert all(set(event) == EVENT_FIELDS for event in batch)
    assert [event["id"] for event in batch] == [str(entry.id) for entry in audit]
    assert [event["seq"] for event in batch] == list(range(1, len(audit) + 1))
    requested, approved = batch[0], batch[1]
    assert requested == {
        "id": str(audit[0].id), "seq": 1, "time": "2026-01-05T09:00:00Z", "action": "requested",
        "request_id": request_id, "actor": REQUESTER, "target": TARGET, "tenant": None,
        "details": requested["details"]}
    assert isinstance(requested["details"], dict) and requested["details"]["to_state"] == "pending"
    assert (approved["action"], approved["actor"], approved["target"]) == ("approved", APPROVER, TARGET)
    assert (approved["details"]["from_state"], approved["details"]["to_state"]) == ("pending", "approved")
    assert observer.deliveries == [("delivered", len(audit))]
    assert streaming.store.outbox_backlog() == (0, None)

    assert _stream(streaming).deliver() == 0 and len(intake.sent) == 1  # nothing new: nothing sent

    streaming.clock.advance(90)
    streaming.workflows.requests.request_stop(request_id, REQUESTER)
    streaming.workflows.ticker.tick(request_id)
    assert _stream(streaming).deliver() > 0
    later = intake.sent[1]
    assert [e["id"] for e in later] == [str(entry.id) for entry in streaming.store.audit()[len(audit):]]
    assert [e["seq"] for e in later] == list(range(len(audit) + 1, len(audit) + 1 + len(later)))
    assert later[0]["time"] == "2026-01-05T09:01:30Z"


def test_an_impersonation_outside_the_bot_streams_with_its_target(streaming: World, intake: Intake) -> None:
    at = streaming.clock() - timedelta(minutes=3)
    streaming.store.record_outside(Outside(user_id="UJANE", occurred=at.isoformat(), login_id="jane@acme.com",
                                           name="Jane Doe", actor="UCONSOLE"), at, streaming.clock())
    _stream(streaming).deliver()
    [[event]] = intake.sent
    assert (event["action"], event["request_id"], event["actor"], event["target"]) == (
        "outside_impersonation", None, "descope", "jane@acme.com")  # Descope's audit told of it ...
    assert event["details"]["user_id"] == "UJANE" and event["details"]["name"] == "Jane Doe"
    assert event["details"]["actor"] == "UCONSOLE"  # ... and who it says did it is in the details


def test_a_descope_actor_longer_than_the_audits_streams_whole(streaming: World, intake: Intake) -> None:
    actor = "console:" + "K" * 60  # audit.actor holds 32 (PostgreSQL would refuse it there)
    at = streaming.clock() - timedelta(minutes=3)
    streaming.store.record_outside(Outside(user_id="UJANE", occurred=at.isoformat(), actor=actor), at,
                                   streaming.clock())
    assert _stream(streaming).deliver() == 1
    [[event]] = intake.sent
    assert (event["actor"], event["details"]["actor"]) == ("descope", actor)


def test_at_most_100_events_to_a_post_numbered_on(streaming: World, intake: Intake, observer: Observer) -> None:
    _outside(streaming, 250)

    assert _stream(streaming).deliver() == 250

    assert [len(batch) for batch in intake.sent] == [100, 100, 50]
    assert [event["seq"] for event in intake.events] == list(range(1, 251))
    ids = [int(event["id"]) for event in intake.events]
    assert ids == sorted(ids) and len(set(ids)) == 250
    assert observer.deliveries == [("delivered", 100), ("delivered", 100), ("delivered", 50)]


def test_a_failure_puts_the_delivery_off_doubling_up_to_5_minutes_and_resends_the_same_batch(
        streaming: World, intake: Intake) -> None:
    _outside(streaming, 3)
    intake.failing = IntakeFailed(503, "HTTP 503")
    stream = _stream(streaming)

    assert stream.deliver() == 0
    first = intake.sent[0]
    for wait in (1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300):
        streaming.clock.advance(wait - 0.01)
        assert stream.deliver() == 0
        sent = len(intake.sent)
        assert stream.deliver() == 0 and len(intake.sent) == sent  # not before its moment
        streaming.clock.advance(0.01)
        stream.deliver()
        assert len(intake.sent) == sent + 1, f"not tried again {wait} s after"
        assert intake.sent[-1] == first  # the same ids and seqs

    _outside(streaming, 1)  # one more meanwhile: it follows the batch that waits
    intake.failing = None
    streaming.clock.advance(300)
    assert stream.deliver() == 4
    assert intake.sent[-1][:3] == first and intake.sent[-1][3]["seq"] == 4
    assert streaming.store.outbox_backlog() == (0, None)

    # Taken: the failures in a row are forgotten, the next wait is the first again.
    _outside(streaming, 1)
    intake.failing = IntakeFailed(None, "ConnectError")
    stream.deliver()
    streaming.clock.advance(1)
    sent = len(intake.sent)
    stream.deliver()
    assert len(intake.sent) == sent + 1


def test_a_restart_sends_the_batch_that_was_not_taken_again(streaming: World, intake: Intake) -> None:
    _outside(streaming, 2)
    intake.failing = IntakeFailed(502, "HTTP 502")
    _stream(streaming).deliver()

    intake.failing = None
    ctx = streaming.workflows.ctx
    restarted = Workflows.build(ctx.settings, Store(streaming.store.engine, outbox=True), streaming.descope,
                                streaming.directory, streaming.notifier, ctx.sealer, clock=streaming.clock,
                                intake=intake)
    assert restarted.stream is not None
    assert restarted.stream.deliver() == 0  # the wait is in the database: the restart waits too
    streaming.clock.advance(1)
    assert restarted.stream.deliver() == 2
    assert intake.sent[-1] == intake.sent[0]


def test_one_deliverer_at_a_time_across_replicas(streaming: World, intake: Intake) -> None:
    _outside(streaming, 1)
    store = streaming.store
    other = store.claim_duty("audit_stream", streaming.clock(), streaming.clock() + timedelta(minutes=2))
    assert other is not None  # another replica is delivering

    assert _stream(streaming).deliver() == 0 and intake.sent == []
    assert _lease(store) == (streaming.clock() + timedelta(minutes=2), other.owner)  # its lease is left alone
    streaming.clock.advance(121)  # that replica died: its lease ran out
    assert _stream(streaming).deliver() == 1
    assert _lease(store) == (None, None)  # given back


def test_nothing_waiting_is_no_write_at_all(streaming: World, intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    store = streaming.store
    streaming.approved()
    assert _stream(streaming).deliver() > 0  # everything delivered: nothing waits now
    before = _lease(store)

    writes: list[str] = []
    real_write = store.db.write

    def counted() -> AbstractContextManager[Any]:
        writes.append("write")
        return real_write()

    monkeypatch.setattr(store.db, "write", counted)
    for _ in range(3):
        assert _stream(streaming).deliver() == 0
        streaming.clock.advance(5)
    assert writes == []  # not even the claim of the duty
    assert _lease(store) == before == (None, None)
    assert len(intake.sent) == 1

    _outside(streaming, 1)  # something waits: the duty is claimed (a write the spy sees) and the event delivered
    writes.clear()
    assert _stream(streaming).deliver() == 1
    assert writes


def test_nothing_waiting_claims_no_duty(streaming: World, intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    claims: list[str] = []
    real_claim = streaming.store.claim_duty

    def claim(name: str, now: datetime, until: datetime) -> Any:
        claims.append(name)
        return real_claim(name, now, until)

    monkeypatch.setattr(streaming.store, "claim_duty", claim)
    assert _stream(streaming).deliver() == 0
    assert claims == [] and intake.sent == [] and _lease(streaming.store) == (None, None)

    _outside(streaming, 1)
    assert _stream(streaming).deliver() == 1
    assert claims == [AUDIT_STREAM]


def test_a_lost_lease_stops_the_delivery_and_leaves_the_new_holder_its_lease(
        streaming: World, intake: Intake, caplog: pytest.LogCaptureFixture) -> None:
    _outside(streaming, 250)
    store = streaming.store
    taken_over: list[Any] = []

    def stalls_and_is_taken_over() -> None:
        """The POST outlasts the lease; another replica claims the duty meanwhile."""
        streaming.clock.advance(TURN.total_seconds() + 1)
        now = streaming.clock()
        taken_over.append(Store(store.engine, outbox=True).claim_duty(AUDIT_STREAM, now, now + TURN))

    intake.meanwhile = stalls_and_is_taken_over
    with caplog.at_level("WARNING", logger="bot.workflows"):
        assert _stream(streaming).deliver() == 100  # the batch under way was taken; no other is sent

    [other] = taken_over
    assert other is not None
    assert [len(batch) for batch in intake.sent] == [100]
    assert any("lost" in record.getMessage() for record in caplog.records)
    assert _lease(store) == (streaming.clock() + TURN, other.owner)  # the new holder's lease, untouched
    assert _stream(streaming).deliver() == 0 and len(intake.sent) == 1  # held by the other replica

    assert store.outbox_batch(other, 100) is not None  # the new holder goes on from where it stopped
    store.release_duty(other)
    assert _stream(streaming).deliver() == 150
    assert [event["seq"] for event in intake.events] == list(range(1, 251))


def test_the_lease_is_renewed_before_each_batch(streaming: World, intake: Intake) -> None:
    _outside(streaming, 250)
    store = streaming.store
    leases: list[tuple[datetime | None, str | None]] = []

    def slow() -> None:
        streaming.clock.advance(40)  # each POST takes 40 s: three outlast one lease, not a renewed one
        leases.append(_lease(store))
        intake.meanwhile = slow

    intake.meanwhile = slow
    start = streaming.clock()
    assert _stream(streaming).deliver() == 250
    assert [lease for lease, _ in leases] == [start + TURN, start + timedelta(seconds=40) + TURN,
                                            start + timedelta(seconds=80) + TURN]  # from when each POST began
    assert len({owner for _, owner in leases}) == 1 and leases[0][1] is not None
    assert _lease(store) == (None, None)


@pytest.mark.parametrize(("failure", "outcome"), [
    (IntakeFailed(400, "HTTP 400"), "refused"), (IntakeFailed(401, "HTTP 401"), "refused"),
    (IntakeFailed(404, "HTTP 404"), "refused"), (IntakeFailed(500, "HTTP 500"), "failed"),
    (IntakeFailed(503, "HTTP 503"), "failed"), (IntakeFailed(None, "ReadTimeout"), "unreachable"),
])
def test_each_answer_is_counted_by_its_outcome_and_delivery_keeps_trying(
        streaming: World, intake: Intake, observer: Observer, failure: IntakeFailed, outcome: str) -> None:
    _outside(streaming, 2)
    intake.failing = failure
    for _ in range(3):
        _stream(streaming).deliver()
        streaming.clock.advance(300)
    assert observer.deliveries == [(outcome, 0)] * 3

    intake.failing = None  # fixed: it gets everything
    assert _stream(streaming).deliver() == 2
    assert observer.deliveries[-1] == ("delivered", 2)
    assert len({e["id"] for e in intake.events}) == 2


def test_a_failure_is_logged_with_its_status(streaming: World, intake: Intake,
                                             caplog: pytest.LogCaptureFixture) -> None:
    _outside(streaming, 1)
    intake.failing = IntakeFailed(403, "HTTP 403")
    with caplog.at_level("WARNING", logger="bot.workflows"):
        _stream(streaming).deliver()
    assert any("HTTP 403" in record.getMessage() for record in caplog.records)


def test_no_event_ever_holds_a_token(streaming: World, intake: Intake) -> None:
    request_id = streaming.approved()
    sealed = streaming.row(request_id).token_sealed
    shown: list[str] = []
    streaming.workflows.tokens.reveal(request_id, REQUESTER, lambda _view, token: shown.append(token))
    streaming.clock.advance(60)
    streaming.workflows.requests.request_stop(request_id, REQUESTER)
    streaming.workflows.ticker.tick(request_id)
    assert streaming.row(request_id).state == "stopped"
    assert shown == streaming.descope.minted and streaming.descope.minted and sealed

    _stream(streaming).deliver()
    actions = [event["action"] for event in intake.events]
    assert {"requested", "approved", "activated", "token_shown", "stop_requested", "stopped"} <= set(actions)
    assert len(intake.events) == len(streaming.store.audit())
    wire = json.dumps(intake.sent)
    for token in streaming.descope.minted:
        assert token not in wire
        assert token.split(".")[1] not in wire  # not even its claims
    assert sealed not in wire
    assert "eyJ" not in wire  # nothing like a JWT at all
