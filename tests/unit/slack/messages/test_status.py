"""``bot.slack.messages.status``: where a request stands (status line, late clicks), why it failed, how a
session ended, and the thread's event lines. Failures and endings are data now (``bot.domain.outcomes``):
these tests pin the sentences the service used to write for each of them, word for word."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain import RequestView, State
from bot.domain.outcomes import (
    Activated,
    Ending,
    EndReason,
    Failure,
    FailureKind,
    Legacy,
    Linked,
    StopFailing,
    Tally,
    TokenFate,
    decode_failure,
    encode,
)
from bot.slack.messages import approval, dms, outcomes, status, thread
from bot.slack.mrkdwn import code, when
from tests.unit.factories import FORBIDDEN, T0, view

AT = when(T0)

# --- status line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "changes", "needles"),
    [
        (State.PENDING, {}, ["Waiting for a second admin", "14:30 UTC"]),
        (State.APPROVED, {}, ["Approved by <@UBO>", "starting the session"]),
        (State.ACTIVE, {}, ["Approved by <@UBO>", "active until", "14:32 UTC"]),
        (State.ACTIVE, {"stop_requested_at": T0 + timedelta(minutes=5)}, ["stopping the session"]),
        (State.STOPPED, {}, ["Approved by <@UBO>", "Session ended", "window ended"]),
        (State.STOPPED, {"stopped_by": "UREQ"}, ["stopped early by <@UREQ>"]),
        (State.STOPPED, {"stopped_at": None}, ["Session ended now"]),
        (State.DENIED, {}, ["Denied by <@UBO>"]),
        (State.DENIED, {"decided_by": "UREQ"}, ["Withdrawn by the requester"]),
        (State.EXPIRED, {}, ["Expired", "nobody answered"]),
        (State.FAILED, {}, ["Approved by <@UBO>", "failed", "Descope refused: user not found"]),
        (State.FAILED, {"failure": None}, ["unknown error"]),
        (State.APPROVED, {"decided_by": None}, ["Approved by someone"]),
    ],
)
def test_status_line(state: State, changes: dict[str, Any], needles: list[str]) -> None:
    line = status.status_line(view(state, **changes))
    for needle in needles:
        assert needle in line


def test_status_line_for_every_state_is_distinct() -> None:
    lines = {status.status_line(view(s)) for s in State}
    assert len(lines) == len(State)


def test_failure_and_detail_text_cannot_format_or_link() -> None:
    """Failure text quotes what the requester typed: shown literally (a code span), never as formatting."""
    typed = "*bold* _it_ ~gone~ <https://evil|click>"
    failed = view(State.FAILED, failure=Legacy(f"Descope refused: no user {typed}"))
    line = status.status_line(failed)
    assert "`Descope refused: no user *bold* _it_ ~gone~ &lt;https://evil|click&gt;`" in line
    outcome = dms.outcome(failed)
    assert outcome is not None and "&lt;https://evil|click&gt;`" in outcome
    assert "(`*bold* _it_ ~gone~ &lt;https://evil|click&gt;`)" in thread.event_line(AT, "failed", "system", typed)


def test_a_failure_quoting_typed_text_stays_in_a_code_span() -> None:
    """The same with a failure recorded as data: the login ID, tenant and Descope's words are quoted."""
    failure = Failure(FailureKind.NOT_IN_TENANT, login_id="<!channel>jane", tenant="<https://evil|t>",
                      impersonator="bo@corp.example", status=400, description="<!here> tenant mismatch")
    failed = view(State.FAILED, failure=failure)
    texts = [status.status_line(failed), dms.outcome(failed) or "",
             thread.event_line(AT, "failed", "system", encode(failure))]
    for text in texts:
        assert "is not a member of tenant" in text
        for bad in FORBIDDEN:
            assert bad not in text, (bad, text)


# --- late clicks (was domain.describe_outcome) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "changes", "expected"),
    [
        (State.PENDING, {}, "Request `K7M2QX9A` is still waiting for approval."),
        (State.APPROVED, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already approved by <@UBO>."),
        (State.ACTIVE, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already approved by <@UBO>."),
        (State.APPROVED, {"decided_by": None}, "Request `K7M2QX9A` was already approved."),
        (State.STOPPED, {"decided_by": "UBO"},
         "Request `K7M2QX9A` was already approved by <@UBO>, and its session has ended."),
        (State.DENIED, {"decided_by": "UBO"}, "Request `K7M2QX9A` was already denied by <@UBO>."),
        (State.EXPIRED, {}, "Request `K7M2QX9A` already expired: nobody answered it in time."),
        # The failure text holds what the requester typed: it stays in the (escaped) approval message.
        (State.FAILED, {"decided_by": "UBO", "failure": Legacy("no user <https://evil.example|x>")},
         "Request `K7M2QX9A` was approved by <@UBO> but failed: its approval message says why."),
    ],
)
def test_outcome_so_far(state: State, changes: dict[str, Any], expected: str) -> None:
    assert status.outcome_so_far(view(state, **changes)) == expected


@pytest.mark.parametrize("state", list(State))
def test_outcome_so_far_covers_every_state(state: State) -> None:
    text = status.outcome_so_far(view(state, decided_by="UBO"))
    assert isinstance(text, str)
    assert "K7M2QX9A" in text


# --- why a request failed -------------------------------------------------------------------------------

ME = "bo@corp.example"
DOWN = "Descope unavailable: HTTP 503 (3 attempts)"
# Each kind with the facts Descope gave, and the sentence the service's explain_refusal / explain_unavailable
# (and its activate) wrote for that answer before failures were data.
FAILURES: list[tuple[Failure, str]] = [
    (Failure(FailureKind.MANAGEMENT_KEY, "jane@acme.com", None, ME, 401, "E011003", "Unauthorized"),
     "Descope refused: it did not accept the bot's management key (check DESCOPE_PROJECT_ID and "
     "DESCOPE_MANAGEMENT_KEY) (Descope said: Unauthorized; E011003 HTTP 401)"),
    (Failure(FailureKind.NO_PERMISSION, "jane@acme.com", "acme-eu", ME, 403, "E011004", "Not allowed"),
     "Descope refused: your Descope user (bo@corp.example) is not allowed to impersonate in tenant acme-eu: "
     "it needs the Impersonate permission (Descope said: Not allowed; E011004 HTTP 403)"),
    (Failure(FailureKind.NO_PERMISSION, "jane@acme.com", None, ME, 400, None, "Missing permission"),
     "Descope refused: your Descope user (bo@corp.example) is not allowed to impersonate: "
     "it needs the Impersonate permission (Descope said: Missing permission; HTTP 400)"),
    (Failure(FailureKind.NO_CONSENT, "jane@acme.com", None, ME, 400, "E062909", "User consent is required"),
     "Descope refused: jane@acme.com has not consented to being impersonated "
     "(Descope said: User consent is required; E062909 HTTP 400)"),
    (Failure(FailureKind.UNKNOWN_USER, "jane@acme.com", None, ME, 400, "E112102", "User not found"),
     "Descope refused: there is no Descope user with login ID jane@acme.com "
     "(Descope said: User not found; E112102 HTTP 400)"),
    (Failure(FailureKind.NOT_IN_TENANT, "jane@acme.com", "acme-eu", ME, 400, None, "User not in tenant"),
     "Descope refused: jane@acme.com is not a member of tenant acme-eu (Descope said: User not in tenant; HTTP 400)"),
    (Failure(FailureKind.BAD_TENANT, "jane@acme.com", None, ME, 400, "E011002", "Invalid tenant"),
     "Descope refused: the tenant is not valid for this user (Descope said: Invalid tenant; E011002 HTTP 400)"),
    (Failure(FailureKind.REFUSED, "jane@acme.com", None, ME, 400, "E011001", "Request body is malformed."),
     "Descope refused: Request body is malformed (Descope said: Request body is malformed.; E011001 HTTP 400)"),
    (Failure(FailureKind.REFUSED, "jane@acme.com", None, ME, None, None, "Odd answer"),
     "Descope refused: Odd answer (Descope said: Odd answer; no error code)"),
    (Failure(FailureKind.UNAVAILABLE, "jane@acme.com", None, ME, 503, None, "Service Unavailable", DOWN),
     f"Descope could not be reached, so no session was started: {DOWN}. Ask again in a few minutes."),
    (Failure(FailureKind.MAYBE_MINTED, "jane@acme.com", None, ME, None, None, "timed out", "Descope unavailable: "
             "timed out"),
     "Descope did not answer the impersonate call (Descope unavailable: timed out), so no session was started. "
     "Descope may have minted a token anyway: nobody received it and the bot cannot revoke it, and it expires at the "
     "end of the approved window. Ask again in a few minutes."),
    # Issue 22: the call in flight when the bot stopped, with the latest moment such a token lives.
    (Failure(FailureKind.MAYBE_MINTED, "jane@acme.com", error="the bot stopped while Descope was minting the token",
             expires="2026-12-06T14:32:10+00:00"),
     "Descope did not answer the impersonate call (the bot stopped while Descope was minting the token), so no "
     "session was started. Descope may have minted a token anyway: nobody received it and the bot cannot revoke "
     "it, and it expires by 2026-12-06 14:33 UTC at the latest. Ask again in a few minutes."),
    # Issue 22: asked again when the approval counted.
    (Failure(FailureKind.NOT_A_REQUESTER, "jane@acme.com", "acme-eu", rule="regulated tenants"),
     "the requester may no longer ask to impersonate jane@acme.com under the policy rule \u201cregulated "
     "tenants\u201d, so it was closed when it was about to be approved"),
    (Failure(FailureKind.NOT_A_REQUESTER, "jane@acme.com"),
     "the requester may no longer ask to impersonate jane@acme.com (REQUESTERS), so it was closed when it was "
     "about to be approved"),
    (Failure(FailureKind.WINDOW_OUT_OF_POLICY, "jane@acme.com", rule="regulated tenants", asked_s=4 * 3600,
             low_s=60, high_s=3600),
     "the policy rule \u201cregulated tenants\u201d now allows windows of 1m to 1h only, and it asks 4h: ask again "
     "within them"),
    (Failure(FailureKind.TENANTS_UNKNOWN, "jane@acme.com"),
     "it names no tenant, and which tenants jane@acme.com belongs to is not known, so which policy rules apply "
     "cannot be decided: ask again naming the tenant"),
    (Failure(FailureKind.NO_EMAIL),
     "the requester's Slack profile has no email address to impersonate as"),
    (Failure(FailureKind.GAVE_UP, error="OperationalError"),
     "the session could not be started (OperationalError); nothing was granted: ask again"),
    # Refused by the policy, and an extension whose session ended first: the bot's own reasons.
    (Failure(FailureKind.FORBIDDEN, "bo@ourcompany.com", rule="our own staff"),
     "the policy rule \u201cour own staff\u201d says nobody may impersonate bo@ourcompany.com"),
    (Failure(FailureKind.ORIGINAL_ENDED, original="K7M2QX9A"),
     "session K7M2QX9A had ended before its extension could start, so nothing was granted"),
    # Refused by the pre-flight look-up (no Descope answer to quote).
    (Failure(FailureKind.USER_DISABLED, "jane@acme.com"),
     "Descope refused: the Descope user jane@acme.com is disabled"),
    # Issue 26: a refused emergency, kept for the audit.
    (Failure(FailureKind.BREAK_GLASS_REFUSED, "jane@acme.com", description="too_often"),
     "a break-glass the rules refused (the day's allowance was used up)"),
]


def test_every_failure_kind_is_pinned() -> None:
    assert {failure.kind for failure, _ in FAILURES} == set(FailureKind)


@pytest.mark.parametrize(("failure", "expected"), FAILURES)
def test_failure_text_is_what_the_service_used_to_write(failure: Failure, expected: str) -> None:
    assert outcomes.failure_text(failure) == expected
    assert outcomes.failure_text(decode_failure(encode(failure))) == expected  # as read back from the row


@pytest.mark.parametrize(("failure", "expected"), FAILURES[:1] + FAILURES[-2:])
def test_failure_reaches_the_requester_and_the_channel(failure: Failure, expected: str) -> None:
    failed = view(State.FAILED, failure=failure)
    assert status.status_line(failed) == f":warning: Approved by <@UBO>, but it failed: {code(expected)}"
    assert dms.outcome(failed) == (
        ":warning: Your request `K7M2QX9A` to impersonate `jane@acme.com` (tenant `acme-eu`) was approved but "
        f"failed: {code(expected)}")
    assert thread.event_line(AT, "failed", "system", encode(failure)) == f"{AT}: failed ({code(expected)})"


def test_legacy_and_missing_failures() -> None:
    assert outcomes.failure_text(Legacy("Descope refused: user not found")) == "Descope refused: user not found"
    assert outcomes.failure_text(None) == "unknown error"


# --- how a session ended, and the other audit details -----------------------------------------------------

# Each ending as data, and the detail the service's _stop_claimed wrote for it before endings were data.
ENDINGS: list[tuple[Ending, str]] = [
    (Ending(EndReason.WINDOW_ENDED), "window ended"),
    (Ending(EndReason.STOPPED_EARLY), "stopped early"),
    (Ending(EndReason.EXTENDED), "replaced by its extension"),
    (Ending(EndReason.WINDOW_ENDED, TokenFate.UNSEALABLE),
     "window ended; the stored token could not be unsealed, so it expires on its own"),
    (Ending(EndReason.STOPPED_EARLY, TokenFate.UNSEALABLE),
     "stopped early; the stored token could not be unsealed, so it expires on its own"),
    (Ending(EndReason.STOPPED_EARLY, TokenFate.UNKNOWN_TO_DESCOPE, "E061301"),
     "stopped early; Descope no longer knew the session (E061301)"),
    (Ending(EndReason.WINDOW_ENDED, TokenFate.UNKNOWN_TO_DESCOPE, "400"),  # no code: the status
     "window ended; Descope no longer knew the session (400)"),
    (Ending(EndReason.WINDOW_ENDED, TokenFate.EXPIRED_AFTER_FAILING),
     "window ended; the stop call failed but the token has expired on its own"),
    (Ending(EndReason.STOPPED_EARLY, TokenFate.EXPIRED_AFTER_FAILING),
     "stopped early; the stop call failed but the token has expired on its own"),
    (Ending(EndReason.WINDOW_ENDED, TokenFate.ALREADY_REVOKED),
     "window ended; the token had already expired or been revoked"),
    (Ending(EndReason.STOPPED_EARLY, TokenFate.NEVER_MINTED),
     "stopped early, before the token was minted: no token exists"),
]


def test_every_token_fate_is_pinned() -> None:
    assert {ending.token for ending, _ in ENDINGS} == {None, *TokenFate}
    assert {ending.reason for ending, _ in ENDINGS} == set(EndReason)


@pytest.mark.parametrize(("ending", "expected"), ENDINGS)
def test_ending_is_what_the_service_used_to_write(ending: Ending, expected: str) -> None:
    assert outcomes.detail_text(ending) == expected
    assert thread.event_line(AT, "stopped", "system", encode(ending)) == f"{AT}: session stopped (`{expected}`)"


@pytest.mark.parametrize(("_ending", "legacy"), ENDINGS)
def test_endings_written_as_text_read_the_same(_ending: Ending, legacy: str) -> None:
    assert thread.event_line(AT, "stopped", "system", legacy) == f"{AT}: session stopped (`{legacy}`)"


def test_stop_failing_detail() -> None:
    detail = StopFailing(3, "Descope unavailable: timed out")
    said = "Descope stop call failed 3 times (Descope unavailable: timed out); still retrying"
    assert outcomes.detail_text(detail) == said
    assert thread.event_line(AT, "stop_failing", "system", encode(detail)) == (
        f"{AT}: Descope's stop call keeps failing: still retrying (`{said}`)")


def test_activation_detail_is_in_the_audit_but_not_in_the_thread() -> None:
    detail = Activated("bo@corp.example")
    assert outcomes.detail_text(detail) == "impersonating as bo@corp.example"
    assert thread.event_line(AT, "activated", "system", encode(detail)) == (
        f"{AT}: session started: the requester gets the token through their DM")


@pytest.mark.parametrize(("action", "actor", "expected"), [
    ("approved", "UBO", "approved by <@UBO>"),
    ("denied", "UBO", "denied by <@UBO>"),
    ("withdrawn", "UREQ", "withdrawn by <@UREQ>"),
    ("expired", "system", "expired: nobody answered in time"),
    ("stop_requested", "UREQ", "stop requested by <@UREQ>"),
    ("stopped", "system", "session stopped"),
    ("failed", "system", "failed"),
    ("delivery_failed", "system", "the token could not be delivered by DM: session stopped"),
])
def test_event_lines_without_detail(action: str, actor: str, expected: str) -> None:
    assert thread.event_line(AT, action, actor, None) == f"{AT}: {expected}"


def test_delivery_failed_detail_is_not_repeated_in_the_thread() -> None:
    line = thread.event_line(AT, "delivery_failed", "system", "the token DM could not be delivered; session stopped")
    assert line == f"{AT}: the token could not be delivered by DM: session stopped"


def _stopped(**changes: Any) -> RequestView:
    return view(State.STOPPED, **changes)


@pytest.mark.parametrize(("request_", "expected"), [
    (_stopped(), "window ended"),
    (_stopped(stopped_by="UREQ"), "stopped early by <@UREQ>"),
    (_stopped(stop_requested_at=T0 + timedelta(minutes=10)), "stopped early by the bot"),
    (_stopped(stop_requested_at=T0 + timedelta(minutes=32)), "window ended"),  # asked for as the window ended
])
def test_how_ended(request_: RequestView, expected: str) -> None:
    assert status.how_ended(request_) == expected


# --- issue 11: N of M, the policy, extensions ------------------------------------------------------------


def test_a_request_needing_two_approvals_shows_its_tally() -> None:
    waiting = view(State.PENDING, decided_by=None, approvals_needed=2, approved_by=("UA",), rule_name="bank")
    assert status.status_line(waiting).startswith(
        ":hourglass_flowing_sand: 1 of 2 approvals: <@UA>. Waiting for 1 more")
    assert approval.policy_line(waiting) == "Policy: bank \u00b7 2 approvals needed"
    assert approval.policy_line(view(State.PENDING)) is None  # the environment's settings: nothing to say
    done = view(State.ACTIVE, approvals_needed=2, approved_by=("UA", "UB"), decided_by="UB")
    assert "Approved by <@UA> and <@UB>: active until" in status.status_line(done)


def test_an_extension_and_the_session_it_replaced_name_each_other() -> None:
    extension = view(State.PENDING, id="NEW00001", extends="K7M2QX9A")
    assert "*Extension request* `NEW00001`" in approval.approval_header(extension)
    assert "Extension of `K7M2QX9A`" in approval.approval_header(extension)
    replaced = view(State.STOPPED, extended_by="NEW00001", stop_requested_at=T0)
    assert approval.extended_line(replaced) == ":fast_forward: Extended by `NEW00001`"
    assert "replaced by its extension `NEW00001`" in status.status_line(replaced)
    assert "replaced by its extension `NEW00001`" in (dms.outcome(replaced) or "")
    assert thread.event_line(AT, "extended", "system", encode(Linked(by="NEW00001"))).endswith(
        "replaced by extension `NEW00001`, whose token was delivered first: stopping this session")
    assert thread.event_line(AT, "approval", "UA", encode(Tally(1, 2))).endswith(
        "approved by <@UA> (1 of 2): waiting for more approvers")
