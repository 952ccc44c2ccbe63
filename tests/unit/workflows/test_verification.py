"""Verified approvals in process (``bot.workflows.verification``): where the rules ask a second factor, an Approve
counts only once Descope accepted the approver's code (and the bot its answer); wrong codes are counted up to a
lock-out, a forged answer is refused and on record, an outage counts nothing, Deny needs no code, and Show token under
``reveal_mfa`` shows the token only after a good code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.descope import USER_NOT_FOUND, DescopeRefused, DescopeUnavailable
from bot.descope.session_jwt import SessionRejected
from bot.devtools.harness import APPROVER, OTHER_TARGET, REQUESTER
from bot.domain import RequestView, State
from bot.domain.audit import Action
from bot.domain.errors import (
    CodeNotMailed,
    NoDescopeLogin,
    ProofForged,
    ProofLocked,
    ProofNeeded,
    ProofUnavailable,
    WrongCode,
)
from bot.domain.outcomes import Proved, Tally, Verification, decode_detail
from bot.domain.proof import CODE_MAIL_GAP, MAX_WRONG_CODES, MAX_WRONG_CODES_PER_HOUR, Mfa, Proof, Purpose
from tests.fakes.inprocess import World

APPROVER_LOGIN = f"{APPROVER.lower()}@corp.example"  # the approver's Slack email: their Descope login
BAD_CODE = "000000"


def asking(world: World, **settings: object) -> None:
    """The settings changed as ``settings`` say (``approval_mfa=Mfa.TOTP``, ``reveal_mfa=`` …), for every request."""
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, **settings)  # type: ignore[arg-type]


@pytest.fixture
def totp(world: World) -> World:
    asking(world, approval_mfa=Mfa.TOTP)
    return world


def submitted(world: World, **kw: str) -> tuple[str, str]:
    """A request waiting for approval, its message posted: (its ID, the message's ts)."""
    request = world.submit(**kw)
    return request.id, world.posted(request.id)


def actions(world: World, request_id: str) -> list[str]:
    return [entry.action for entry in world.store.audit(request_id=request_id)]


def nothing_counted(world: World, request_id: str) -> None:
    view = world.view(request_id)
    assert view.state is State.PENDING and view.approved_by == () and world.descope.minted == []


# -- the Approve click -----------------------------------------------------------------------------------------------


def test_an_approve_without_a_proof_asks_for_one_and_counts_nothing(totp: World) -> None:
    request_id, ts = submitted(totp)
    with pytest.raises(ProofNeeded) as needed:
        totp.workflows.approvals.decide(request_id, APPROVER, True, message_ts=ts)
    assert (needed.value.request_id, needed.value.user_id, needed.value.purpose, needed.value.method) == (
        request_id, APPROVER, Purpose.APPROVE, Mfa.TOTP)
    nothing_counted(totp, request_id)
    assert actions(totp, request_id) == ["requested"] and totp.descope.proofs == []


def test_what_the_approver_proves_themselves_with_is_asked_before_the_modal_opens(totp: World) -> None:
    request_id, ts = submitted(totp)
    assert totp.workflows.verifications.asked(request_id, APPROVER, Purpose.APPROVE, message_ts=ts) is Mfa.TOTP


def test_a_good_code_approves_and_activates_and_the_audit_says_how(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert totp.descope.proofs == [("totp", APPROVER_LOGIN, totp.descope.good_code)]  # the login is Slack's email
    view = totp.view(request_id)
    assert view.state is State.ACTIVE and view.proof_of(APPROVER) is Mfa.TOTP
    assert len(totp.descope.minted) == 1 and totp.notifier.tokens == totp.descope.minted
    approved = next(e for e in totp.store.audit(request_id=request_id) if e.action == Action.APPROVED)
    assert approved.actor == APPROVER and decode_detail(approved.detail) == Tally(1, 1, mfa=Mfa.TOTP)


def test_a_good_code_from_the_app_home_counts_the_same(totp: World) -> None:
    request_id, _ = submitted(totp)
    totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, via_home=True)
    assert totp.view(request_id).state is State.ACTIVE


def test_a_wrong_code_counts_nothing_and_says_how_many_are_left(totp: World) -> None:
    request_id, ts = submitted(totp)
    with pytest.raises(WrongCode) as wrong:
        totp.workflows.verifications.approve(request_id, APPROVER, BAD_CODE, message_ts=ts)
    assert wrong.value.left == MAX_WRONG_CODES - 1 == 4
    assert wrong.value.purpose is Purpose.APPROVE and wrong.value.why == "E061102"
    nothing_counted(totp, request_id)
    assert actions(totp, request_id) == ["requested", "verification_failed"]
    totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert totp.view(request_id).state is State.ACTIVE  # a wrong code before a good one costs nothing more


def test_five_wrong_codes_lock_the_approver_out_of_the_request(totp: World) -> None:
    request_id, ts = submitted(totp)
    verifications = totp.workflows.verifications
    left = []
    for _ in range(MAX_WRONG_CODES - 1):
        with pytest.raises(WrongCode) as wrong:
            verifications.approve(request_id, APPROVER, BAD_CODE, message_ts=ts)
        left.append(wrong.value.left)
    assert left == [4, 3, 2, 1]
    with pytest.raises(ProofLocked):
        verifications.approve(request_id, APPROVER, BAD_CODE, message_ts=ts)
    assert actions(totp, request_id)[-1] == "verification_locked"
    tried = len(totp.descope.proofs)

    with pytest.raises(ProofLocked):  # not ProofNeeded: the modal must not open again
        totp.workflows.approvals.decide(request_id, APPROVER, True, message_ts=ts)
    with pytest.raises(ProofLocked):
        verifications.asked(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    with pytest.raises(ProofLocked):  # even the right code: Descope is not asked again
        verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert len(totp.descope.proofs) == tried
    nothing_counted(totp, request_id)


def test_a_forged_answer_is_refused_and_on_record(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.descope.prove_error = SessionRejected("bad signature")
    with pytest.raises(ProofForged) as forged:
        totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert forged.value.why == "bad signature"
    nothing_counted(totp, request_id)
    entry = totp.store.audit(request_id=request_id)[-1]
    assert (entry.action, entry.actor) == ("verification_forged", APPROVER)
    assert decode_detail(entry.detail) == Verification(Purpose.APPROVE, Mfa.TOTP, "bad signature")


def test_descope_unavailable_counts_and_records_nothing(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.descope.prove_error = DescopeUnavailable("Service Unavailable", status=503)
    with pytest.raises(ProofUnavailable):
        totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    nothing_counted(totp, request_id)
    assert actions(totp, request_id) == ["requested"]
    assert totp.store.failed_proofs(request_id, APPROVER) == 0


def test_an_approver_slack_shows_no_email_for_has_no_descope_login(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.directory.without_email.add(APPROVER)
    with pytest.raises(NoDescopeLogin) as missing:
        totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert missing.value.login_id is None and totp.descope.proofs == []
    nothing_counted(totp, request_id)


def test_an_approver_descope_does_not_know_has_no_descope_login(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.descope.prove_error = DescopeRefused("User not found", status=400, code=USER_NOT_FOUND)
    with pytest.raises(NoDescopeLogin) as missing:
        totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert missing.value.login_id == APPROVER_LOGIN
    nothing_counted(totp, request_id)
    assert actions(totp, request_id) == ["requested"]


def test_a_proof_for_another_request_person_purpose_or_method_does_not_count(totp: World) -> None:
    request_id, ts = submitted(totp)
    other_id, _ = submitted(totp, login_id=OTHER_TARGET)
    for proof in (Proof(other_id, APPROVER, Purpose.APPROVE, Mfa.TOTP),
                  Proof(request_id, "UAPPR9", Purpose.APPROVE, Mfa.TOTP),
                  Proof(request_id, APPROVER, Purpose.REVEAL, Mfa.TOTP),
                  Proof(request_id, APPROVER, Purpose.APPROVE, Mfa.EMAIL)):
        with pytest.raises(ProofNeeded):
            totp.workflows.approvals.decide(request_id, APPROVER, True, message_ts=ts, proof=proof)
    nothing_counted(totp, request_id)
    assert actions(totp, request_id) == ["requested"]


def test_deny_needs_no_code(totp: World) -> None:
    request_id, ts = submitted(totp)
    totp.workflows.approvals.decide(request_id, APPROVER, False, message_ts=ts)
    assert totp.view(request_id).state is State.DENIED and totp.descope.proofs == []


def test_an_emailed_code_goes_to_the_approvers_slack_email(world: World) -> None:
    asking(world, approval_mfa=Mfa.EMAIL)
    request_id, ts = submitted(world)
    masked = world.workflows.verifications.send_code(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    assert masked == "u***@corp.example" and world.descope.codes_mailed == [APPROVER_LOGIN]
    world.workflows.verifications.approve(request_id, APPROVER, world.descope.good_code, message_ts=ts)
    assert world.descope.proofs == [("email", APPROVER_LOGIN, world.descope.good_code)]
    assert world.view(request_id).proof_of(APPROVER) is Mfa.EMAIL


def test_a_second_code_is_mailed_only_after_a_gap_and_each_is_on_record(world: World) -> None:
    asking(world, approval_mfa=Mfa.EMAIL)
    request_id, ts = submitted(world)
    verifications = world.workflows.verifications
    verifications.send_code(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    with pytest.raises(CodeNotMailed) as refused:
        verifications.send_code(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    assert not refused.value.too_many and world.descope.codes_mailed == [APPROVER_LOGIN]
    world.clock.advance(CODE_MAIL_GAP.total_seconds())
    verifications.send_code(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    assert world.descope.codes_mailed == [APPROVER_LOGIN] * 2
    assert actions(world, request_id).count(Action.PROOF_SENT) == 2


def test_no_email_is_mailed_when_the_rules_ask_an_authenticator(totp: World) -> None:
    request_id, ts = submitted(totp)
    with pytest.raises(ProofNeeded) as needed:
        totp.workflows.verifications.send_code(request_id, APPROVER, Purpose.APPROVE, message_ts=ts)
    assert needed.value.method is Mfa.TOTP and totp.descope.codes_mailed == []


def test_wrong_codes_on_many_requests_lock_the_person_out_everywhere_for_an_hour(totp: World) -> None:
    asking(totp, max_pending_per_requester=10)
    requests = [submitted(totp, login_id=f"customer{n}@acme.com") for n in range(3)]  # any login is a user here
    wrong = 0
    for request_id, ts in requests:
        for _ in range(MAX_WRONG_CODES - 1):
            if wrong == MAX_WRONG_CODES_PER_HOUR:
                break
            with pytest.raises(WrongCode):
                totp.workflows.verifications.approve(request_id, APPROVER, BAD_CODE, message_ts=ts)
            wrong += 1
    request_id, ts = submitted(totp, login_id="another@acme.com")  # a request they never typed a code on
    with pytest.raises(ProofLocked) as locked:
        totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert locked.value.everywhere
    totp.clock.advance(3601)  # an hour on: the others have expired, and the limit is lifted
    request_id, ts = submitted(totp, login_id="later@acme.com")
    totp.workflows.verifications.approve(request_id, APPROVER, totp.descope.good_code, message_ts=ts)
    assert totp.view(request_id).proof_of(APPROVER) is Mfa.TOTP


# -- Show token ------------------------------------------------------------------------------------------------------


def test_show_token_under_reveal_mfa_asks_for_a_proof_then_shows_after_a_good_code(world: World) -> None:
    asking(world, reveal_mfa=Mfa.TOTP, token_delivery="reveal")  # REVEAL_MFA is refused with TOKEN_DELIVERY=dm
    request_id = world.approved()  # approving needs no code here
    assert world.notifier.tokens == [] and len(world.notifier.ready) == 1  # the DM says ready, with no token
    seen: list[str] = []

    def show(_view: RequestView, token: str) -> None:
        seen.append(token)

    with pytest.raises(ProofNeeded) as needed:
        world.workflows.tokens.reveal(request_id, REQUESTER, show)
    assert (needed.value.purpose, needed.value.method) == (Purpose.REVEAL, Mfa.TOTP)
    assert seen == [] and Action.TOKEN_SHOWN not in actions(world, request_id)

    with pytest.raises(WrongCode):
        world.workflows.verifications.reveal(request_id, REQUESTER, BAD_CODE, show)
    assert seen == []

    world.workflows.verifications.reveal(request_id, REQUESTER, world.descope.good_code, show)
    assert seen == world.descope.minted[-1:]
    assert world.descope.proofs[-1] == ("totp", f"{REQUESTER.lower()}@corp.example", world.descope.good_code)
    shown = [e for e in world.store.audit(request_id=request_id) if e.action == Action.TOKEN_SHOWN]
    assert [e.actor for e in shown] == [REQUESTER]
    assert decode_detail(shown[0].detail) == Proved(Mfa.TOTP)
