"""Break-glass in the store, on both databases: ``insert_break_glass`` stores a session started by its requester (or
waiting for their proof), refused as a whole by its ``guard``, which sees when they started each break-glass session
in 24 hours; ``start_break_glass`` starts only the waiting one of that requester, once, before its wait ends, asking
the ``guard`` again in that transaction; ``review`` and ``flag`` count once between them, only for a session that
started, and the flag asks the stop of a running one in the same write; ``remind_review`` is recorded once per due
moment until it is reviewed; ``break_glass_started`` counts only sessions that started (approved, active, stopped,
failed), never a waiting one withdrawn, denied or expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import RequestView, State
from bot.domain.audit import Action
from bot.domain.outcomes import Ending, EndReason, Failure, FailureKind, Reminded, encode
from bot.domain.proof import Mfa
from bot.store import RequestRow, Session, Store
from bot.store.break_glass import Guard

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REQUESTER = "UREQ1"
OTHER = "UREQ2"
LOGIN = "jane@acme.com"
MINUTE = timedelta(minutes=1)
WINDOW = timedelta(minutes=15)


def _let_through(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
    pass


def _break_glass(store: Store, *, started: bool = True, requester: str = REQUESTER, login: str = LOGIN,
                 now: datetime = T0, guard: Guard = _let_through, approval_mfa: Mfa = Mfa.NONE,
                 reveal_mfa: Mfa = Mfa.NONE, review_remind_at: datetime | None = T0 + MINUTE) -> RequestRow:
    return store.insert_break_glass(
        requester_id=requester, login_id=login, tenant=None, duration=WINDOW,
        reason="checkout down for all EU customers", now=now, started=started, wait_until=now + 5 * MINUTE,
        review_remind_at=review_remind_at, target=None, rule_name=None, slack_lease_until=now + timedelta(seconds=12),
        approval_mfa=approval_mfa, reveal_mfa=reveal_mfa, guard=guard)


def _start(store: Store, request_id: str, now: datetime, *, requester: str = REQUESTER, guard: Guard = _let_through,
           review_remind_at: datetime | None = None) -> RequestRow | None:
    return store.start_break_glass(request_id, requester, now, review_remind_at=review_remind_at, guard=guard)


def _activate(store: Store, request_id: str, now: datetime) -> None:
    session = Session(impersonator="ureq1@corp.example", started_at=now, ends_at=now + WINDOW, token_sealed="sealed",
                      token_expires_at=now + WINDOW, delivery="dm", warn_at=None)
    assert store.start_session(request_id, session, now=now) is not None


def _regular(store: Store, *, requester: str = REQUESTER, now: datetime = T0) -> str:
    return store.insert(requester_id=requester, login_id="bob@acme.com", tenant=None, duration=timedelta(minutes=30),
                        reason="r", pending_until=now + timedelta(minutes=30), now=now).row.id


def _actions(store: Store, request_id: str) -> list[tuple[str, str]]:
    return [(entry.action, entry.actor) for entry in store.audit(request_id=request_id)]


def _row(store: Store, request_id: str) -> RequestRow:
    row = store.get_row(request_id)
    assert row is not None
    return row


def _view(store: Store, request_id: str) -> RequestView:
    view = store.get(request_id)
    assert view is not None
    return view


# -- insert_break_glass ----------------------------------------------------------------------------------------------


def test_a_started_break_glass_is_approved_by_its_requester_and_due_for_activation_at_once(any_store: Store) -> None:
    request_id = _break_glass(any_store, reveal_mfa=Mfa.TOTP).id
    view = _view(any_store, request_id)
    assert (view.state, view.decided_by, view.decided_at, view.break_glass) == (State.APPROVED, REQUESTER, T0, True)
    assert view.approved_by == () and view.awaiting_review and view.reveal_mfa is Mfa.TOTP
    assert _actions(any_store, request_id) == [(Action.BREAK_GLASS, REQUESTER)]
    assert _row(any_store, request_id).review_remind_at == T0 + MINUTE
    assert request_id in any_store.due(T0)  # its activation


def test_a_break_glass_waiting_for_its_requesters_proof_is_pending_until_the_wait_ends(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False, approval_mfa=Mfa.TOTP, reveal_mfa=Mfa.EMAIL).id
    view = _view(any_store, request_id)
    assert (view.state, view.decided_by, view.decided_at) == (State.PENDING, None, None)
    assert view.break_glass and view.pending_until == T0 + 5 * MINUTE
    assert (view.approval_mfa, view.reveal_mfa) == (Mfa.TOTP, Mfa.EMAIL)
    assert not view.awaiting_review  # not started: nothing to review yet
    assert _row(any_store, request_id).review_remind_at is None  # no reminder before it starts
    assert _actions(any_store, request_id) == [(Action.REQUESTED, REQUESTER)]
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == []  # not started: not counted


def test_the_guard_sees_when_each_break_glass_session_started_in_24_hours_oldest_first(any_store: Store) -> None:
    _break_glass(any_store, login="a@acme.com", now=T0 - timedelta(hours=25), review_remind_at=None)  # a day ago
    _break_glass(any_store, login="c@acme.com", now=T0 + timedelta(hours=1))
    _break_glass(any_store, login="b@acme.com", now=T0)  # stored after, started before
    _break_glass(any_store, login="d@acme.com", now=T0 + timedelta(hours=1), started=False)  # waiting: not counted
    _break_glass(any_store, login="e@acme.com", now=T0 + timedelta(hours=1), requester=OTHER)  # someone else's
    seen: list[tuple[int, list[datetime]]] = []

    def guard(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        seen.append((pending, starts))

    _break_glass(any_store, login="f@acme.com", now=T0 + timedelta(hours=2), guard=guard)
    assert seen == [(1, [T0, T0 + timedelta(hours=1)])]


def test_the_guard_sees_the_requesters_open_requests_for_the_same_target(any_store: Store) -> None:
    first = _break_glass(any_store).id
    seen: list[list[str]] = []

    def guard(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        seen.append([view.id for view in live])

    _break_glass(any_store, now=T0 + MINUTE, guard=guard)
    assert seen == [[first]]


def test_a_guard_that_raises_stores_nothing(any_store: Store) -> None:
    earlier = _break_glass(any_store, login="a@acme.com").id
    audit = any_store.audit()

    def refuse(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        raise RuntimeError("too often")

    with pytest.raises(RuntimeError, match="too often"):
        _break_glass(any_store, login="b@acme.com", now=T0 + MINUTE, guard=refuse)
    assert [view.id for view in any_store.list_requests(requester_id=REQUESTER)] == [earlier]
    assert any_store.audit() == audit
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == [T0]


# -- start_break_glass -----------------------------------------------------------------------------------------------


def test_a_waiting_break_glass_is_started_by_its_requester_once(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False, approval_mfa=Mfa.TOTP).id
    later = T0 + MINUTE
    assert _start(any_store, request_id, later, requester=OTHER) is None  # not theirs
    assert _view(any_store, request_id).state is State.PENDING

    row = _start(any_store, request_id, later, review_remind_at=later + MINUTE)
    assert row is not None and row.id == request_id
    view = _view(any_store, request_id)
    assert (view.state, view.decided_by, view.decided_at) == (State.APPROVED, REQUESTER, later)
    assert view.awaiting_review
    assert _row(any_store, request_id).review_remind_at == later + MINUTE  # the reminders start with it
    assert _actions(any_store, request_id) == [(Action.REQUESTED, REQUESTER), (Action.BREAK_GLASS, REQUESTER)]
    assert any_store.break_glass_started(REQUESTER, T0) == [later]

    assert _start(any_store, request_id, later + MINUTE) is None  # not twice
    assert len(_actions(any_store, request_id)) == 2


def test_start_break_glass_asks_the_guard_again_without_the_one_it_starts(any_store: Store) -> None:
    running = _break_glass(any_store, now=T0).id  # the same target, started
    waiting = _break_glass(any_store, started=False, now=T0 + MINUTE).id
    _break_glass(any_store, login="b@acme.com", started=False, now=T0 + MINUTE)  # another, waiting
    seen: list[tuple[list[str], int, list[datetime]]] = []

    def guard(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        seen.append(([view.id for view in live], pending, starts))

    assert _start(any_store, waiting, T0 + 2 * MINUTE, guard=guard) is not None
    assert seen == [([running], 1, [T0])]


def test_a_guard_that_raises_at_start_leaves_it_waiting(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False).id
    audit = any_store.audit()

    def refuse(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        raise RuntimeError("too often")

    with pytest.raises(RuntimeError, match="too often"):
        _start(any_store, request_id, T0 + MINUTE, guard=refuse, review_remind_at=T0 + 2 * MINUTE)
    row = _row(any_store, request_id)
    assert (row.state, row.decided_at, row.review_remind_at) == (State.PENDING.value, None, None)
    assert any_store.audit() == audit
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == []
    assert _start(any_store, request_id, T0 + 2 * MINUTE) is not None  # still waiting: it may start yet


def test_start_break_glass_moves_no_ordinary_request(any_store: Store) -> None:
    request_id = _regular(any_store)
    assert _start(any_store, request_id, T0 + MINUTE) is None
    view = _view(any_store, request_id)
    assert view.state is State.PENDING and view.decided_by is None


def test_start_break_glass_moves_no_expired_one(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False).id
    assert any_store.expire(request_id, T0 + 5 * MINUTE)
    assert _start(any_store, request_id, T0 + 6 * MINUTE) is None
    assert _view(any_store, request_id).state is State.EXPIRED


def test_start_break_glass_moves_none_whose_wait_is_over_before_the_sweep_expires_it(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False).id  # waits until T0 + 5 minutes
    called: list[int] = []

    def guard(live: list[RequestView], pending: int, starts: list[datetime]) -> None:
        called.append(pending)

    assert _start(any_store, request_id, T0 + 5 * MINUTE, guard=guard) is None
    assert called == [] and _view(any_store, request_id).state is State.PENDING
    assert _start(any_store, request_id, T0 + 5 * MINUTE - timedelta(seconds=1)) is not None  # just before: started


# -- review, flag ----------------------------------------------------------------------------------------------------


def test_a_review_counts_once_and_ends_the_reminders(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    at = T0 + 2 * MINUTE
    assert any_store.review(request_id, "UA", at)
    view = _view(any_store, request_id)
    assert (view.reviewed_by, view.reviewed_at, view.flagged_by) == ("UA", at, None) and not view.awaiting_review
    assert view.stop_requested_at is None
    assert _row(any_store, request_id).review_remind_at is None

    assert not any_store.review(request_id, "UB", at + MINUTE)
    assert not any_store.flag(request_id, "UB", at + MINUTE)
    assert _view(any_store, request_id).reviewed_by == "UA"
    assert _actions(any_store, request_id) == [(Action.BREAK_GLASS, REQUESTER), (Action.REVIEWED, "UA")]


def test_a_flag_counts_once_asks_the_stop_of_one_being_activated_and_no_review_follows(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    at = T0 + 2 * MINUTE
    assert any_store.flag(request_id, "UA", at)
    view = _view(any_store, request_id)
    assert (view.flagged_by, view.flagged_at, view.reviewed_by) == ("UA", at, None) and not view.awaiting_review
    row = _row(any_store, request_id)
    assert row.review_remind_at is None
    assert (row.state, row.stop_requested_at, row.stop_requested_by) == (State.APPROVED.value, at, "UA")

    assert not any_store.flag(request_id, "UB", at + MINUTE)
    assert not any_store.review(request_id, "UB", at + MINUTE)
    assert _actions(any_store, request_id) == [(Action.BREAK_GLASS, REQUESTER), (Action.FLAGGED, "UA"),
                                               (Action.STOP_REQUESTED, "UA")]


def test_a_flag_asks_the_stop_of_an_active_session_in_the_same_write(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    _activate(any_store, request_id, T0 + MINUTE)
    at = T0 + 2 * MINUTE
    assert any_store.flag(request_id, "UA", at)
    view = _view(any_store, request_id)
    assert view.stopping and view.stop_requested_at == at and view.flagged_by == "UA"
    assert _row(any_store, request_id).stop_requested_by == "UA"
    assert _actions(any_store, request_id)[-2:] == [(Action.FLAGGED, "UA"), (Action.STOP_REQUESTED, "UA")]


def test_a_flag_of_a_session_being_stopped_already_asks_no_second_stop(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    _activate(any_store, request_id, T0 + MINUTE)
    assert any_store.ask_stop(request_id, REQUESTER, T0 + 2 * MINUTE)
    assert any_store.flag(request_id, "UA", T0 + 3 * MINUTE)
    row = _row(any_store, request_id)
    assert (row.stop_requested_at, row.stop_requested_by, row.flagged_by) == (T0 + 2 * MINUTE, REQUESTER, "UA")
    assert _actions(any_store, request_id)[-2:] == [(Action.STOP_REQUESTED, REQUESTER), (Action.FLAGGED, "UA")]


def test_a_session_that_ended_is_flagged_with_no_stop(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    _activate(any_store, request_id, T0 + MINUTE)
    ending = Ending(EndReason.WINDOW_ENDED)
    assert any_store.end_session(request_id, "system", ending, T0 + MINUTE + WINDOW, None) is not None
    assert _view(any_store, request_id).awaiting_review  # ended, still to review
    assert any_store.flag(request_id, "UA", T0 + 20 * MINUTE)
    row = _row(any_store, request_id)
    assert (row.state, row.flagged_by, row.stop_requested_at) == (State.STOPPED.value, "UA", None)
    assert _actions(any_store, request_id)[-1] == (Action.FLAGGED, "UA")


def test_an_ordinary_request_is_neither_reviewed_nor_flagged(any_store: Store) -> None:
    request_id = _regular(any_store)
    assert not any_store.review(request_id, "UA", T0)
    assert not any_store.flag(request_id, "UA", T0)
    assert _actions(any_store, request_id) == [(Action.REQUESTED, REQUESTER)]


@pytest.mark.parametrize("ending", ["waiting", "withdrawn", "denied", "expired"])
def test_a_break_glass_that_never_started_is_neither_reviewed_nor_flagged(any_store: Store, ending: str) -> None:
    request_id = _break_glass(any_store, started=False).id
    if ending == "withdrawn":
        assert any_store.take_back(request_id, REQUESTER, T0 + MINUTE, withdrawn=True) is not None
    elif ending == "denied":
        assert any_store.take_back(request_id, "UA", T0 + MINUTE, withdrawn=False) is not None
    elif ending == "expired":
        assert any_store.expire(request_id, T0 + 5 * MINUTE)
    actions = _actions(any_store, request_id)
    assert not _view(any_store, request_id).awaiting_review
    assert not any_store.review(request_id, "UA", T0 + 6 * MINUTE)
    assert not any_store.flag(request_id, "UA", T0 + 6 * MINUTE)
    view = _view(any_store, request_id)
    assert (view.reviewed_by, view.flagged_by, view.stop_requested_at) == (None, None, None)
    assert _actions(any_store, request_id) == actions


# -- remind_review ---------------------------------------------------------------------------------------------------


def _remind(store: Store, request_id: str, due: datetime, following: datetime | None, sent: int) -> bool:
    return store.remind_review(request_id, due, following=following, sent=sent,
                               detail=encode(Reminded(sent, ("UA",))), now=due)


def test_a_review_reminder_is_recorded_once_per_due_moment(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    first, second = T0 + MINUTE, T0 + 3 * MINUTE
    assert _remind(any_store, request_id, first, second, 1)
    row = _row(any_store, request_id)
    assert (row.review_remind_at, row.review_reminders_sent) == (second, 1)
    assert not _remind(any_store, request_id, first, second, 1)  # another replica, the same reminder
    assert _remind(any_store, request_id, second, T0 + 7 * MINUTE, 2)
    reminded = [e for e in any_store.audit(request_id=request_id) if e.action == Action.REVIEW_REMINDED]
    assert [(e.actor, e.at) for e in reminded] == [("system", first), ("system", second)]


def test_no_review_reminder_once_reviewed(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    assert _remind(any_store, request_id, T0 + MINUTE, T0 + 3 * MINUTE, 1)
    assert any_store.review(request_id, "UA", T0 + 2 * MINUTE)
    assert not _remind(any_store, request_id, T0 + 3 * MINUTE, T0 + 7 * MINUTE, 2)
    assert _row(any_store, request_id).review_reminders_sent == 1


def test_no_review_reminder_once_flagged(any_store: Store) -> None:
    request_id = _break_glass(any_store).id
    assert any_store.flag(request_id, "UA", T0 + 30 * timedelta(seconds=1))
    assert not _remind(any_store, request_id, T0 + MINUTE, T0 + 3 * MINUTE, 1)


# -- break_glass_started ---------------------------------------------------------------------------------------------


def test_only_break_glass_sessions_started_in_the_window_are_counted(any_store: Store) -> None:
    _break_glass(any_store, login="a@acme.com", now=T0 - timedelta(hours=30), review_remind_at=None)  # too long ago
    _break_glass(any_store, login="b@acme.com", now=T0)
    _break_glass(any_store, login="c@acme.com", now=T0 + MINUTE, started=False)  # waiting for a proof
    _break_glass(any_store, login="d@acme.com", now=T0 + MINUTE, requester=OTHER)
    ordinary = _regular(any_store, now=T0 + MINUTE)
    assert any_store.approve(ordinary, "UA", now=T0 + 2 * MINUTE, lease_until=T0 + 3 * MINUTE).request is not None
    assert any_store.break_glass_started(REQUESTER, T0 - timedelta(hours=24)) == [T0]
    assert any_store.break_glass_started(REQUESTER, T0) == []  # strictly after the moment
    assert any_store.break_glass_started(OTHER, T0 - timedelta(hours=24)) == [T0 + MINUTE]


def test_a_started_session_counts_however_it_ended(any_store: Store) -> None:
    stopped = _break_glass(any_store, login="a@acme.com", now=T0).id
    _activate(any_store, stopped, T0 + MINUTE)
    assert any_store.end_session(stopped, "system", Ending(EndReason.STOPPED_EARLY), T0 + 2 * MINUTE, None)
    failed = _break_glass(any_store, login="b@acme.com", now=T0 + 3 * MINUTE).id
    assert any_store.fail(failed, Failure(FailureKind.FORBIDDEN, login_id="b@acme.com"), T0 + 4 * MINUTE)
    active = _break_glass(any_store, login="c@acme.com", now=T0 + 5 * MINUTE).id
    _activate(any_store, active, T0 + 6 * MINUTE)
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == [T0, T0 + 3 * MINUTE, T0 + 5 * MINUTE]


@pytest.mark.parametrize("withdrawn", [True, False], ids=["withdrawn", "denied"])
def test_a_waiting_break_glass_taken_back_before_it_started_is_not_counted(any_store: Store, withdrawn: bool) -> None:
    request_id = _break_glass(any_store, started=False).id
    by = REQUESTER if withdrawn else "UA"
    assert any_store.take_back(request_id, by, T0 + MINUTE, withdrawn=withdrawn) is not None
    assert _row(any_store, request_id).decided_at == T0 + MINUTE  # decided, yet never started
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == []


def test_a_waiting_break_glass_that_expired_is_not_counted(any_store: Store) -> None:
    request_id = _break_glass(any_store, started=False).id
    assert any_store.expire(request_id, T0 + 5 * MINUTE)
    assert any_store.break_glass_started(REQUESTER, T0 - MINUTE) == []
