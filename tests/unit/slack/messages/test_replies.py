"""``bot.slack.messages.replies``: the rules' refusals in words, and the command's answers.

The refusals were sentences raised by the domain and the service; they are data now, and these tests pin
the sentences people read, word for word. (The usage problems are tested with the parser, in
tests/unit/slack/test_commands.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import (
    AlreadyApproved,
    AlreadyDecided,
    AlreadyOpen,
    DomainError,
    Forbidden,
    MayNotExtend,
    MayNotStop,
    NoLongerAllowed,
    NotAllowed,
    NotAnApprover,
    NotARequester,
    NotExtendable,
    NotFound,
    NotInTenant,
    NotPostedYet,
    NotStoppable,
    OwnRequest,
    State,
    TargetDisabled,
    TenantsUnknown,
    TokenUnavailable,
    TooFewApprovers,
    TooManyPending,
    UnknownTarget,
    WindowOutOfPolicy,
    WrongMessage,
    check_approver,
    check_duration,
    check_may_stop,
)
from bot.domain.break_glass import (
    AlreadyReviewed,
    BreakGlassNoReason,
    BreakGlassNotAllowed,
    BreakGlassTooLong,
    BreakGlassTooOften,
    MayNotReview,
)
from bot.domain.errors import (
    CodeNotMailed,
    NoDescopeLogin,
    ProofBusy,
    ProofForged,
    ProofLocked,
    ProofNeeded,
    ProofUnavailable,
    WrongCode,
)
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.proof import Mfa, Purpose
from bot.slack.messages import replies
from bot.slack.messages.status import outcome_so_far
from tests.unit.factories import T0, view

LOW, HIGH = timedelta(minutes=1), timedelta(hours=4)

# --- refusals (were NotAllowed / PolicyViolation messages) -----------------------------------------------


def test_self_approval_is_refused_even_for_an_approver() -> None:
    with pytest.raises(NotAllowed) as info:
        check_approver("UREQ", view(), is_approver=True)
    assert "your own request" in replies.refusal(info.value)


def test_self_approval_is_refused_for_a_non_approver() -> None:
    with pytest.raises(NotAllowed) as info:
        check_approver("UREQ", view(), is_approver=False)
    assert "your own request" in replies.refusal(info.value)


def test_non_approver_is_refused() -> None:
    with pytest.raises(NotAllowed) as info:
        check_approver("UBO", view(), is_approver=False)
    assert "Only approvers" in replies.refusal(info.value)


def test_stranger_may_not_stop() -> None:
    with pytest.raises(NotAllowed) as info:
        check_may_stop("USTRANGER", view(State.ACTIVE), may_deny=False, may_end=False)
    assert "requester or an approver" in replies.refusal(info.value)


def test_check_duration_too_short() -> None:
    with pytest.raises(WindowOutOfPolicy) as info:
        check_duration(timedelta(seconds=59), LOW, HIGH)
    assert replies.window_bound(info.value) == "the shortest window allowed is 1m"


def test_check_duration_too_long() -> None:
    with pytest.raises(WindowOutOfPolicy) as info:
        check_duration(HIGH + timedelta(seconds=1), LOW, HIGH)
    assert replies.window_bound(info.value) == "the longest window allowed is 4h"


def test_already_decided_carries_request_and_message() -> None:
    request = view(State.DENIED, decided_by="UBO")
    error = AlreadyDecided(request)
    assert error.request is request
    assert replies.refusal(error) == outcome_so_far(request)
    assert isinstance(error, DomainError)


# Each refusal and the sentence the service (or the domain) raised for it before refusals were data.
REFUSALS: list[tuple[DomainError, str]] = [
    (NotFound("K7M2QX9A"), "There is no request `K7M2QX9A`."),
    (NotARequester("USTRANGER"),
     "You are not allowed to request impersonation. Ask an admin to add you to REQUESTERS."),
    (NotAnApprover("UBO"), "Only approvers can approve or deny impersonation requests."),
    (OwnRequest("K7M2QX9A"), "You cannot approve or deny your own request: another approver has to."),
    (MayNotStop("K7M2QX9A", "USTRANGER"), "Only the requester or an approver can stop this session."),
    (NotPostedYet("K7M2QX9A"), "This request's approval message is still being posted: try again in a moment."),
    (WrongMessage("K7M2QX9A"), "That button does not belong to this request's approval message."),
    (WindowOutOfPolicy(timedelta(hours=5), LOW, HIGH),
     "That window is out of policy: the longest window allowed is 4h."),
    (WindowOutOfPolicy(timedelta(seconds=30), LOW, HIGH),
     "That window is out of policy: the shortest window allowed is 1m."),
    (AlreadyOpen(view(State.ACTIVE)),
     "You already have request `K7M2QX9A` (active) for `jane@acme.com`: "
     "stop it with `/impersonate stop K7M2QX9A` before asking again."),
    (TooManyPending(3),
     "You already have 3 requests waiting for approval: "
     "wait for an answer or withdraw one with `/impersonate stop <id>`."),
    (AlreadyDecided(view(State.EXPIRED)), "Request `K7M2QX9A` already expired: nobody answered it in time."),
    (NotStoppable(view(State.APPROVED)), "Request `K7M2QX9A` is being activated right now: try again in a moment."),
    (NotStoppable(view(State.STOPPED)), "Request `K7M2QX9A` is not active (it is stopped)."),
    (UnknownTarget("ghost@acme.com"),
     "There is no Descope user with login ID `ghost@acme.com`: nothing was sent to the approvers. "
     "Check the login ID (usually the user's email)."),
    (TargetDisabled("jane@acme.com"),
     "The Descope user `jane@acme.com` is disabled, so it cannot be impersonated: nothing was sent to the approvers."),
    (NotInTenant("jane@acme.com", "acme-us"),
     "The Descope user `jane@acme.com` is not a member of tenant `acme-us`: nothing was sent to the approvers. "
     "Leave out `--tenant`, or give one of the user's tenants."),
    (TokenUnavailable("K7M2QX9A", ended=True), "Session `K7M2QX9A` has ended: its token is no longer available."),
    (TokenUnavailable("K7M2QX9A", ended=False), "Only the requester can see this token."),
    # Issue 11: the policy file, N of M, extensions.
    (NotARequester("USTRANGER", "regulated tenants"),
     "The policy rule \u201cregulated tenants\u201d does not allow you to request impersonation of this user: "
     "nothing was sent to the approvers. Ask an admin to add you to the rule's requesters."),
    (Forbidden("bo@ourcompany.com", "our own staff"),
     "Nobody may impersonate `bo@ourcompany.com`: the policy rule \u201cour own staff\u201d forbids it. "
     "Nothing was sent to the approvers."),
    (WindowOutOfPolicy(timedelta(hours=2), LOW, timedelta(hours=1), "regulated tenants"),
     "That window is out of policy: the longest window allowed under the policy rule \u201cregulated tenants\u201d "
     "is 1h."),
    (AlreadyApproved(view(State.PENDING, approvals_needed=3, approved_by=("UBO",)), "UBO"),
     "You have already approved `K7M2QX9A`: it needs 2 more approvals, from other approvers."),
    (TooFewApprovers("two of two", 2, 1),
     "The policy rule \u201ctwo of two\u201d needs 2 approvals and lists one approver besides you: nobody could "
     "complete this request, so it was not sent. Ask an admin to add approvers."),
    (MayNotExtend("K7M2QX9A", "USTRANGER"), "Only the person who asked for session `K7M2QX9A` can ask to extend it."),
    # Issue 22: the holes.
    (MayNotStop("K7M2QX9A", "UADMIN", pending=True),
     "Request `K7M2QX9A` is waiting for approval, so stopping it would deny it: only its requester (to withdraw it) "
     "or an approver of its policy rule can."),
    (NoLongerAllowed(view(State.FAILED, decided_by=None, failure=Failure(FailureKind.NOT_A_REQUESTER,
                                                                         "jane@acme.com"))),
     "Request `K7M2QX9A` can no longer be approved: `the requester may no longer ask to impersonate jane@acme.com "
     "(REQUESTERS), so it was closed when it was about to be approved`. It is closed, and its requester is told."),
    (TenantsUnknown("jane@acme.com"),
     "Descope could not be asked which tenants `jane@acme.com` belongs to, and the policy has rules for some "
     "tenants, so a request naming no tenant cannot be decided: nothing was sent to the approvers. Name the tenant "
     "with `--tenant <tenant-id>`, or try again in a minute."),
    (NotExtendable(view(State.STOPPED)),
     "Session `K7M2QX9A` is not running (it is stopped): only a running session can be extended. "
     "Ask for a new session instead."),
    # Issue 25: verified approvals.
    (ProofNeeded("K7M2QX9A", "UBO", Purpose.APPROVE, Mfa.TOTP),
     "This needs a second factor first: click the button again to open the code window."),
    (WrongCode("K7M2QX9A", Purpose.APPROVE, Mfa.TOTP, "E061102", 1),
     "Descope did not accept that code (E061102). Check it and type it again: 1 more try on this request."),
    (ProofLocked("K7M2QX9A", Purpose.APPROVE, Mfa.TOTP),
     "Too many wrong codes on this request: you are refused on it. This is on the audit trail; ask another "
     "approver."),
    (ProofForged("K7M2QX9A", Purpose.APPROVE, Mfa.EMAIL, "wrong subject"),
     "Descope's answer to your code failed the bot's checks (wrong subject), so it counts nothing. The approvers' "
     "channel has been told: someone may be tampering with the connection to Descope."),
    (NoDescopeLogin("K7M2QX9A", Purpose.APPROVE, Mfa.TOTP, "bo@acme.com"),
     "Descope has no user with the login ID bo@acme.com (your Slack email), so it cannot verify you. Ask whoever "
     "runs Descope to add you, with an authenticator or email sign-in."),
    (ProofLocked("K7M2QX9A", Purpose.APPROVE, Mfa.TOTP, everywhere=True),
     "Too many wrong codes in the past hour, on any request: you are refused until the hour has passed. This is on "
     "the audit trail."),
    (ProofBusy("K7M2QX9A", Purpose.APPROVE, Mfa.TOTP),
     "Your previous code is still being checked at Descope: wait a moment, then try again."),
    (CodeNotMailed("K7M2QX9A", Purpose.APPROVE, Mfa.EMAIL, too_many=False),
     "A code was mailed less than 30 seconds ago: check your inbox first."),
    (CodeNotMailed("K7M2QX9A", Purpose.APPROVE, Mfa.EMAIL, too_many=True),
     "Descope has mailed you as many codes as it may for this request: use the latest one (a code is valid for a "
     "few minutes)."),
    # Issue 26: break-glass.
    (BreakGlassNotAllowed("jane@acme.com", "regulated tenants"),
     "Break-glass is not allowed for `jane@acme.com` under the policy rule “regulated tenants”: nothing was "
     "started. Ask for approval as usual (leave out `--break-glass`)."),
    (BreakGlassNotAllowed("jane@acme.com", ""),
     "Break-glass is not allowed for `jane@acme.com` under the bot's settings (BREAK_GLASS): nothing was started. "
     "Ask for approval as usual (leave out `--break-glass`)."),
    (BreakGlassNoReason(9),
     "A break-glass needs a reason of at least 15 characters (yours has 9): say what the emergency is, e.g. "
     "`--break-glass checkout down for all EU customers, INC-2231`."),
    (BreakGlassTooLong(timedelta(hours=1), timedelta(minutes=30), ""),
     "A break-glass window is at most 30m (you asked for 1h): nothing was started. Ask for 30m or less."),
    (BreakGlassTooOften(3, datetime(2026, 12, 7, 14, 2, tzinfo=UTC)),
     "You have started 3 break-glass sessions in the past 24 hours, as many as allowed: the next is allowed at "
     "2026-12-07 14:02 UTC. Ask for approval as usual meanwhile."),
    (MayNotReview("K7M2QX9A", "UREQ1", own=True),
     "You cannot review your own break-glass session: one of its rule's approvers has to."),
    (MayNotReview("K7M2QX9A", "UOUT1", own=False),
     "Only the approvers of its policy rule can review a break-glass session."),
    (AlreadyReviewed(view(State.ACTIVE, break_glass=True, reviewed_by="UBO", reviewed_at=T0)),
     "Break-glass `K7M2QX9A` is already reviewed: Reviewed by <@UBO> at <!date^1714572000^{time}|14:00 UTC>: looks "
     "right"),
    (ProofUnavailable("K7M2QX9A", Purpose.REVEAL, Mfa.TOTP),
     "Descope could not be reached to check the code: nothing counted. Try again in a moment."),
]


@pytest.mark.parametrize(("error", "expected"), REFUSALS)
def test_refusal_is_what_the_service_used_to_say(error: DomainError, expected: str) -> None:
    assert replies.refusal(error) == expected
    assert replies.error_reply(error) == f":warning: {expected}"


def test_every_refusal_is_pinned() -> None:
    def leaves(cls: type[DomainError]) -> set[type[DomainError]]:
        subs = cls.__subclasses__()
        return {cls} if not subs else set().union(*(leaves(s) for s in subs))

    assert leaves(DomainError) <= {type(error) for error, _ in REFUSALS}


def test_unexpected_errors_get_no_reply() -> None:
    assert replies.error_reply(RuntimeError("boom")) is None


# --- the command's answers --------------------------------------------------------------------------------


def test_listing_empty_for_a_requester() -> None:
    text = replies.listing([], None)
    assert "You have no requests." in text
    assert "Active sessions" not in text


def test_listing_empty_for_an_approver() -> None:
    text = replies.listing([], [])
    assert "You have no requests." in text
    assert "Active sessions" in text
    assert text.endswith("None.")


def test_listing_rows() -> None:
    mine = [view(State.PENDING, id="AAAA1111"), view(State.ACTIVE, id="BBBB2222")]
    active = [view(State.ACTIVE, id="BBBB2222"), view(State.ACTIVE, id="CCCC3333", requester_id="UOTHER")]
    text = replies.listing(mine, active)
    mine_part, active_part = text.split("*Active sessions (all requesters)*")
    assert "`AAAA1111`" in mine_part and "*pending*" in mine_part
    assert "`BBBB2222`" in mine_part and "until" in mine_part
    assert "`CCCC3333`" in active_part and "<@UOTHER>" in active_part
    assert "`AAAA1111`" not in active_part
    assert "`jane@acme.com` (tenant `acme-eu`), 30m" in text


def test_submitted_says_what_happens_next() -> None:
    text = replies.submitted(view())
    assert "`K7M2QX9A`" in text and "`jane@acme.com` (tenant `acme-eu`)" in text and "30m" in text
    assert "waiting for a second admin" in text
    assert "`/impersonate stop K7M2QX9A`" in text


@pytest.mark.parametrize(("state", "decided_by", "needle"), [
    (State.DENIED, "UREQ", "Request `K7M2QX9A` is withdrawn."),
    (State.DENIED, "UBO", "Request `K7M2QX9A` is denied; the requester is told."),
    (State.ACTIVE, "UBO", "Stopping session `K7M2QX9A` (`jane@acme.com` (tenant `acme-eu`))"),
])
def test_stopping(state: State, decided_by: str, needle: str) -> None:
    assert needle in replies.stopping(view(state, decided_by=decided_by), decided_by)


def test_stopping_a_session_says_who_hears_when_it_has_ended() -> None:
    session = view(State.ACTIVE)
    assert replies.stopping(session, session.requester_id).endswith("You get a DM when it has ended.")
    assert replies.stopping(session, "UBO").endswith(f"<@{session.requester_id}> gets a DM when it has ended.")
