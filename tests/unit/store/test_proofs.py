"""Verified approvals in the store, on both databases: ``Store.approve`` counts only approvals proved with at least the
second factor the rules ask (``proved=`` / ``mfa=``), and says how each was proved; ``Store.fail_proof`` counts wrong
codes per request and person, the limit-th one a lock-out; ``Store.forged_proof`` puts a forged answer on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import State
from bot.domain.audit import Action
from bot.domain.outcomes import Tally, Verification, decode_detail
from bot.domain.proof import Mfa, Purpose
from bot.store import Store, Vote, as_view
from bot.store.proofs import Attempt, Mailing

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LEASE = T0 + timedelta(seconds=12)


def _pending(store: Store, needed: int = 1, *, approval_mfa: Mfa = Mfa.NONE, requester: str = "UREQ1") -> str:
    return store.insert(requester_id=requester, login_id="jane@acme.com", tenant=None,
                        duration=timedelta(minutes=30), reason="r", pending_until=T0 + timedelta(minutes=30), now=T0,
                        rule_name="verified", approvals_needed=needed, approval_mfa=approval_mfa).row.id


def _actions(store: Store, request_id: str) -> list[tuple[str, str]]:
    return [(entry.action, entry.actor) for entry in store.audit(request_id=request_id)]


def _version(store: Store, request_id: str) -> int:
    row = store.get_row(request_id)
    assert row is not None
    return row.version


# -- approve ---------------------------------------------------------------------------------------------------------


def test_an_unproved_approve_where_the_rules_ask_totp_writes_nothing(any_store: Store) -> None:
    request_id = _pending(any_store)
    version = _version(any_store, request_id)
    counted = any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, mfa=Mfa.TOTP)
    assert (counted.vote, counted.request, counted.row) == (Vote.UNPROVED, None, None)
    view = any_store.get(request_id)
    assert view is not None and view.state is State.PENDING and view.approved_by == () and view.proved == ()
    assert _version(any_store, request_id) == version
    assert _actions(any_store, request_id) == [("requested", "UREQ1")]


def test_a_proved_approve_counts_and_its_audit_row_says_how(any_store: Store) -> None:
    request_id = _pending(any_store)
    counted = any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.TOTP, mfa=Mfa.TOTP)
    assert counted.vote is Vote.APPROVED and counted.request is not None
    assert counted.request.state is State.APPROVED and counted.request.decided_by == "UA"
    assert counted.request.proof_of("UA") is Mfa.TOTP
    approved = any_store.audit(request_id=request_id)[-1]
    assert (approved.action, approved.actor) == (Action.APPROVED, "UA")
    assert decode_detail(approved.detail) == Tally(1, 1, mfa=Mfa.TOTP)


def test_the_stored_row_remembers_who_proved_themselves_and_how(any_store: Store) -> None:
    request_id = _pending(any_store, 3)
    any_store.approve(request_id, "UA", now=T0, lease_until=LEASE)  # a click, while the rules asked nothing
    any_store.approve(request_id, "UB", now=T0, lease_until=LEASE, proved=Mfa.EMAIL, mfa=Mfa.EMAIL)
    row = any_store.get_row(request_id)
    assert row is not None
    view = as_view(row)
    assert (view.proof_of("UA"), view.proof_of("UB"), view.proof_of("UC")) == (None, Mfa.EMAIL, None)
    assert view.approval_mfa is Mfa.EMAIL  # the rules asked more than when it was made: kept
    detail = decode_detail(any_store.audit(request_id=request_id)[-1].detail)
    assert detail == Tally(1, 3, mfa=Mfa.EMAIL)  # UA's click no longer counts once the rules ask a code


def test_an_earlier_unproved_approval_stops_counting_once_totp_is_asked_until_it_is_proved(any_store: Store) -> None:
    request_id = _pending(any_store, 2)
    first = any_store.approve(request_id, "UA", now=T0, lease_until=LEASE)
    assert first.vote is Vote.COUNTED

    # The rules now ask TOTP: UB's proved approval is the only one that counts, so the request still waits.
    second = any_store.approve(request_id, "UB", now=T0, lease_until=LEASE, proved=Mfa.TOTP, mfa=Mfa.TOTP)
    assert second.vote is Vote.COUNTED and second.request is not None
    assert second.request.state is State.PENDING and second.request.approved_by == ("UA", "UB")
    assert decode_detail(any_store.audit(request_id=request_id)[-1].detail) == Tally(1, 2, mfa=Mfa.TOTP)

    assert any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, mfa=Mfa.TOTP).vote is Vote.UNPROVED
    again = any_store.approve(request_id, "UB", now=T0, lease_until=LEASE, proved=Mfa.TOTP, mfa=Mfa.TOTP)
    assert again.vote is Vote.AGAIN

    proved = any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.TOTP, mfa=Mfa.TOTP)
    assert proved.vote is Vote.APPROVED and proved.request is not None
    assert proved.request.state is State.APPROVED and proved.request.approved_by == ("UA", "UB")
    assert (proved.request.proof_of("UA"), proved.request.proof_of("UB")) == (Mfa.TOTP, Mfa.TOTP)
    assert decode_detail(any_store.audit(request_id=request_id)[-1].detail) == Tally(2, 2, mfa=Mfa.TOTP)
    assert [action for action, _ in _actions(any_store, request_id)] == ["requested", "approval", "approval",
                                                                         "approved"]


def test_an_email_proof_does_not_satisfy_totp(any_store: Store) -> None:
    request_id = _pending(any_store)
    counted = any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.EMAIL, mfa=Mfa.TOTP)
    assert (counted.vote, counted.request) == (Vote.UNPROVED, None)
    assert _actions(any_store, request_id) == [("requested", "UREQ1")]
    assert any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.TOTP,
                             mfa=Mfa.EMAIL).vote is Vote.APPROVED  # the stronger satisfies the weaker


def test_what_the_request_was_made_with_still_counts_when_the_rules_ask_less_now(any_store: Store) -> None:
    request_id = _pending(any_store, approval_mfa=Mfa.TOTP)
    assert any_store.approve(request_id, "UA", now=T0, lease_until=LEASE).vote is Vote.UNPROVED
    assert any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.EMAIL,
                             mfa=Mfa.EMAIL).vote is Vote.UNPROVED
    assert _actions(any_store, request_id) == [("requested", "UREQ1")]
    assert any_store.approve(request_id, "UA", now=T0, lease_until=LEASE, proved=Mfa.TOTP).vote is Vote.APPROVED


# -- wrong codes, lock-out, forged answers ---------------------------------------------------------------------------


def _wrong(purpose: Purpose = Purpose.APPROVE) -> Verification:
    return Verification(purpose, Mfa.TOTP, "E061102")


def test_wrong_codes_are_counted_per_request_and_person(any_store: Store) -> None:
    first, second = _pending(any_store), _pending(any_store, requester="UREQ2")
    version = _version(any_store, first)
    assert [any_store.fail_proof(first, "UA", _wrong(), T0, limit=5) for _ in range(3)] == [1, 2, 3]
    assert any_store.fail_proof(first, "UB", _wrong(), T0, limit=5) == 1
    assert any_store.fail_proof(second, "UA", _wrong(), T0, limit=5) == 1
    assert (any_store.failed_proofs(first, "UA"), any_store.failed_proofs(first, "UB"),
            any_store.failed_proofs(second, "UA"), any_store.failed_proofs(second, "UB")) == (3, 1, 1, 0)
    assert _version(any_store, first) == version  # a wrong code is on the record only
    failed = [entry for entry in any_store.audit(request_id=first) if entry.actor == "UA"]
    assert [entry.action for entry in failed] == [Action.PROOF_FAILED] * 3
    assert decode_detail(failed[-1].detail) == Verification(Purpose.APPROVE, Mfa.TOTP, "E061102", failures=3)


def test_the_limit_th_wrong_code_is_the_lock_out_and_is_shown(any_store: Store) -> None:
    request_id = _pending(any_store)
    for expected in range(1, 5):
        assert any_store.fail_proof(request_id, "UA", _wrong(), T0, limit=5) == expected
    version = _version(any_store, request_id)
    assert any_store.fail_proof(request_id, "UA", _wrong(), T0 + timedelta(seconds=1), limit=5) == 5
    assert _version(any_store, request_id) == version + 1  # the thread gets its line
    assert any_store.failed_proofs(request_id, "UA") == 5
    locked = any_store.audit(request_id=request_id)[-1]
    assert (locked.action, locked.actor, locked.action.value) == (Action.PROOF_LOCKED, "UA", "verification_locked")
    assert decode_detail(locked.detail) == Verification(Purpose.APPROVE, Mfa.TOTP, "E061102", failures=5)
    view = any_store.get(request_id)
    assert view is not None and view.state is State.PENDING  # the request itself waits for the other approvers


def test_wrong_codes_for_showing_the_token_count_with_the_rest(any_store: Store) -> None:
    request_id = _pending(any_store)
    any_store.fail_proof(request_id, "UREQ1", _wrong(Purpose.REVEAL), T0, limit=5)
    assert any_store.fail_proof(request_id, "UREQ1", _wrong(Purpose.REVEAL), T0, limit=2) == 2
    assert any_store.audit(request_id=request_id)[-1].action is Action.PROOF_LOCKED


def test_a_forged_answer_is_on_record_with_its_reason_and_shown(any_store: Store) -> None:
    request_id = _pending(any_store)
    version = _version(any_store, request_id)
    any_store.forged_proof(request_id, "UA", Verification(Purpose.APPROVE, Mfa.TOTP, "bad signature"), T0)
    forged = any_store.audit(request_id=request_id)[-1]
    assert (forged.action, forged.actor, forged.action.value) == (Action.PROOF_FORGED, "UA", "verification_forged")
    assert decode_detail(forged.detail) == Verification(Purpose.APPROVE, Mfa.TOTP, "bad signature")
    assert _version(any_store, request_id) == version + 1
    assert any_store.failed_proofs(request_id, "UA") == 0  # not a wrong code: the person typed nothing wrong


# -- one code at a time, the hourly limit, codes mailed ----------------------------------------------------------------

WRONG = Verification(Purpose.APPROVE, Mfa.TOTP, "E061102")


def test_a_persons_codes_on_a_request_are_checked_one_at_a_time(any_store: Store) -> None:
    request_id = _pending(any_store)
    turn = T0 + timedelta(seconds=60)
    assert any_store.begin_proof(request_id, "UA", T0, turn, limit=5, hourly=10) is Attempt.BEGUN
    assert any_store.begin_proof(request_id, "UA", T0, turn, limit=5, hourly=10) is Attempt.BUSY
    assert any_store.begin_proof(request_id, "UB", T0, turn, limit=5, hourly=10) is Attempt.BEGUN  # others are not held
    any_store.end_proof(request_id, "UA")
    assert any_store.begin_proof(request_id, "UA", T0, turn, limit=5, hourly=10) is Attempt.BEGUN
    # A turn a crash never gave back ends by itself.
    assert any_store.begin_proof(request_id, "UB", turn + timedelta(seconds=1), turn + timedelta(seconds=61),
                                 limit=5, hourly=10) is Attempt.BEGUN
    assert any_store.begin_proof("NOSUCHID", "UA", T0, turn, limit=5, hourly=10) is Attempt.GONE


def test_no_turn_once_the_limits_are_reached(any_store: Store) -> None:
    first, second = _pending(any_store), _pending(any_store, requester="UREQ2")
    for _ in range(3):
        any_store.fail_proof(first, "UA", WRONG, T0, limit=3)
    assert any_store.begin_proof(first, "UA", T0, T0 + timedelta(seconds=60), limit=3, hourly=10) is Attempt.LOCKED
    for _ in range(2):
        any_store.fail_proof(second, "UA", WRONG, T0 + timedelta(minutes=1), limit=3)
    later = T0 + timedelta(minutes=2)
    assert any_store.failed_proofs_lately("UA", later) == 5
    third = _pending(any_store, requester="UREQ3")
    assert any_store.begin_proof(third, "UA", later, later + timedelta(seconds=60), limit=3,
                                 hourly=5) is Attempt.LOCKED_EVERYWHERE
    an_hour_on = T0 + timedelta(minutes=60, seconds=30)  # the first request's wrong codes are over an hour old
    assert any_store.failed_proofs_lately("UA", an_hour_on) == 2
    assert any_store.begin_proof(third, "UA", an_hour_on, an_hour_on + timedelta(seconds=60), limit=3,
                                 hourly=5) is Attempt.BEGUN


def test_codes_mailed_are_recorded_spaced_and_capped(any_store: Store) -> None:
    request_id = _pending(any_store)
    sent = Verification(Purpose.APPROVE, Mfa.EMAIL, "mailed")
    gap = timedelta(seconds=30)
    assert any_store.record_code_sent(request_id, "UA", sent, T0, gap=gap, most=2) is Mailing.SENT
    assert any_store.record_code_sent(request_id, "UA", sent, T0 + timedelta(seconds=10), gap=gap,
                                      most=2) is Mailing.TOO_SOON
    assert any_store.record_code_sent(request_id, "UB", sent, T0 + timedelta(seconds=10), gap=gap,
                                      most=2) is Mailing.SENT
    assert any_store.record_code_sent(request_id, "UA", sent, T0 + timedelta(seconds=31), gap=gap,
                                      most=2) is Mailing.SENT
    assert any_store.record_code_sent(request_id, "UA", sent, T0 + timedelta(minutes=5), gap=gap,
                                      most=2) is Mailing.TOO_MANY
    assert [a for a in _actions(any_store, request_id) if a[0] == Action.PROOF_SENT] == [
        ("verification_code_sent", "UA"), ("verification_code_sent", "UB"), ("verification_code_sent", "UA")]
