"""Break-glass in process (``bot.workflows.break_glass``): where the rules allow it, a requester starts a session at
once with no approver (the same activation, delivery, stop and revocation as any); refused without the rules' leave,
without a reason, over the cap, beyond the day's allowance (only sessions that started count), where nobody but its
requester could review it; reviewed or flagged by an approver (never the requester), once, from its alert (or the
alert's copy) or the Home, and only once it started; the flag stops the session at once (the one it was extended into
too); the approvers reminded until it is reviewed, even after it ended; where approvers must prove themselves, the
requester does first, and the rules and the day's allowance are asked again when they have."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, OUTSIDER, REQUESTER, TARGET
from bot.domain import Draft, NotStoppable, RequestView, State, WrongMessage
from bot.domain.audit import Action
from bot.domain.break_glass import (
    PROOF_WINDOW,
    AlreadyReviewed,
    BreakGlassNoReason,
    BreakGlassNotAllowed,
    BreakGlassTooLong,
    BreakGlassTooOften,
    MayNotReview,
    check_break_glass,
)
from bot.domain.errors import ProofNeeded, TooFewApprovers, WrongCode
from bot.domain.outcomes import Failure, FailureKind, Reminded, decode_detail
from bot.domain.proof import Mfa, Purpose
from tests.fakes.inprocess import World

REASON = "checkout down for all EU customers, INC-2231"
REQUESTER_LOGIN = f"{REQUESTER.lower()}@corp.example"  # the requester's Slack email: the impersonator at Descope
MINUTE = 60


def setting(world: World, **changes: object) -> None:
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, **changes)  # type: ignore[arg-type]


@pytest.fixture
def glass(world: World) -> World:
    setting(world, break_glass=True, break_glass_max_duration=timedelta(minutes=30), break_glass_per_day=2,
            reminder_interval=timedelta(minutes=1))
    return world


def draft(window: int | None = 15, reason: str = REASON, login_id: str = TARGET) -> Draft:
    return Draft(login_id=login_id, duration=None if window is None else timedelta(minutes=window), reason=reason,
                 tenant=None, break_glass=True)


def start(world: World, window: int | None = 15, reason: str = REASON, login_id: str = TARGET) -> RequestView:
    return world.workflows.break_glass.start(REQUESTER, draft(window, reason, login_id))


Where = tuple[str, str]


def running(world: World, window: int = 15, login_id: str = TARGET) -> tuple[str, Where]:
    """A break-glass session started, its alert posted and activated: (its ID, the alert's channel and ts)."""
    request_id = start(world, window, login_id=login_id).id
    ts = world.posted(request_id)
    world.workflows.ticker.tick(request_id)
    assert world.view(request_id).state is State.ACTIVE
    return request_id, (APPROVAL_CHANNEL, ts)


def nothing_stored(world: World) -> None:
    assert world.store.list_requests() == [] and world.store.audit() == []
    assert world.descope.calls == 0


def only_the_refusal_kept(world: World, kind: str) -> None:
    """A break-glass the rules refused: on the record (a failed request, not a break-glass one), nothing else."""
    [kept] = world.store.list_requests()
    assert (kept.state, kept.break_glass, kept.requester_id) == (State.FAILED, False, REQUESTER)
    assert isinstance(kept.failure, Failure) and kept.failure.kind is FailureKind.BREAK_GLASS_REFUSED
    assert kept.failure.description == kind
    assert actions(world, kept.id) == [Action.REFUSED]
    assert world.descope.calls == 0


def break_glass_stored(world: World) -> list[RequestView]:
    return [view for view in world.store.list_requests() if view.break_glass]


def actions(world: World, request_id: str) -> list[str]:
    return [entry.action for entry in world.store.audit(request_id=request_id)]


def reminders(world: World, request_id: str) -> list[Reminded]:
    return [detail for e in world.store.audit(request_id=request_id) if e.action == Action.REVIEW_REMINDED
            for detail in [decode_detail(e.detail)] if isinstance(detail, Reminded)]


def remind(world: World, request_id: str) -> bool:
    return world.workflows.ticker.break_glass.remind_review(request_id)


# -- start -----------------------------------------------------------------------------------------------------------


def test_a_break_glass_session_starts_at_once_with_no_approver(glass: World) -> None:
    view = start(glass)
    assert (view.state, view.decided_by, view.break_glass, view.duration) == (
        State.APPROVED, REQUESTER, True, timedelta(minutes=15))
    assert view.awaiting_review and view.approved_by == ()
    glass.posted(view.id)  # the alert
    glass.workflows.ticker.tick(view.id)
    active = glass.view(view.id)
    assert active.state is State.ACTIVE and active.ends_at == glass.clock() + timedelta(minutes=15)
    assert glass.descope.impersonations == [(TARGET, REQUESTER_LOGIN)]
    assert len(glass.descope.minted) == 1 and glass.notifier.tokens == glass.descope.minted
    assert actions(glass, view.id)[:2] == [Action.BREAK_GLASS, Action.ACTIVATED]


def test_without_a_window_it_takes_the_default_within_the_cap(glass: World) -> None:
    setting(glass, default_duration=timedelta(hours=1))
    assert start(glass, window=None).duration == timedelta(minutes=30)


def test_rules_without_break_glass_refuse_it_and_only_the_refusal_is_kept(glass: World) -> None:
    setting(glass, break_glass=False)
    with pytest.raises(BreakGlassNotAllowed) as refused:
        start(glass)
    assert refused.value.login_id == TARGET
    only_the_refusal_kept(glass, "not_allowed")


def test_a_reason_shorter_than_15_characters_is_refused(glass: World) -> None:
    with pytest.raises(BreakGlassNoReason) as refused:
        start(glass, reason="it's broken")
    assert refused.value.length == 11
    nothing_stored(glass)
    assert start(glass, reason="x" * 15).state is State.APPROVED  # 15 is enough


def test_a_window_over_the_cap_is_refused_with_the_cap_not_cut(glass: World) -> None:
    with pytest.raises(BreakGlassTooLong) as refused:
        start(glass, window=45)
    assert (refused.value.asked, refused.value.cap) == (timedelta(minutes=45), timedelta(minutes=30))
    only_the_refusal_kept(glass, "too_long")
    assert start(glass, window=30).duration == timedelta(minutes=30)  # the cap itself is allowed


def test_beyond_the_days_allowance_it_is_refused_until_the_first_is_a_day_old(glass: World) -> None:
    first = start(glass, login_id="a@acme.com")
    glass.clock.advance(60 * MINUTE)
    start(glass, login_id="b@acme.com")
    glass.clock.advance(60 * MINUTE)
    with pytest.raises(BreakGlassTooOften) as refused:
        start(glass, login_id="c@acme.com")
    assert refused.value.limit == 2
    assert refused.value.next_at == first.created_at + timedelta(hours=24)
    assert len(break_glass_stored(glass)) == 2
    assert [view.failure.description for view in glass.store.list_requests()
            if isinstance(view.failure, Failure)] == ["too_often"]  # the refusal, on the record

    glass.clock.now = refused.value.next_at - timedelta(seconds=1)
    with pytest.raises(BreakGlassTooOften):
        start(glass, login_id="c@acme.com")
    glass.clock.now = refused.value.next_at + timedelta(seconds=1)
    assert start(glass, login_id="c@acme.com").state is State.APPROVED


def test_with_more_started_than_the_allowance_the_next_waits_until_enough_are_a_day_old(glass: World) -> None:
    setting(glass, break_glass_per_day=3)
    starts = []
    for login_id in ("a@acme.com", "b@acme.com", "c@acme.com"):
        starts.append(start(glass, login_id=login_id).created_at)
        glass.clock.advance(60 * MINUTE)
    setting(glass, break_glass_per_day=2)  # lowered since: 3 started, 2 allowed
    with pytest.raises(BreakGlassTooOften) as refused:
        start(glass, login_id="d@acme.com")
    assert refused.value.limit == 2
    assert refused.value.next_at == starts[1] + timedelta(hours=24)  # the second's passing leaves room, not the first's

    glass.clock.now = starts[0] + timedelta(hours=24, seconds=1)  # the first is a day old: 2 left, still too many
    with pytest.raises(BreakGlassTooOften) as still:
        start(glass, login_id="d@acme.com")
    assert still.value.next_at == starts[1] + timedelta(hours=24)
    glass.clock.now = starts[1] + timedelta(hours=24, seconds=1)
    assert start(glass, login_id="d@acme.com").state is State.APPROVED


def test_next_at_is_a_day_after_the_start_whose_passing_leaves_room(glass: World) -> None:
    decision = glass.workflows.ctx.settings.named(TARGET, None)  # 2 a day
    t0 = glass.clock()
    starts = [t0 + timedelta(hours=hour) for hour in (1, 2, 3, 4, 5)]  # oldest first, more than allowed
    with pytest.raises(BreakGlassTooOften) as refused:
        check_break_glass(TARGET, decision, timedelta(minutes=15), REASON, starts=starts)
    assert (refused.value.limit, refused.value.next_at) == (2, starts[3] + timedelta(hours=24))
    with pytest.raises(BreakGlassTooOften) as at_the_limit:
        check_break_glass(TARGET, decision, timedelta(minutes=15), REASON, starts=starts[:2])
    assert at_the_limit.value.next_at == starts[0] + timedelta(hours=24)
    check_break_glass(TARGET, decision, timedelta(minutes=15), REASON, starts=starts[:1])  # one left


def test_a_rule_only_its_requester_approves_refuses_it_and_nothing_is_stored(glass: World) -> None:
    setting(glass, approvers=(REQUESTER,))
    with pytest.raises(TooFewApprovers):
        start(glass)
    nothing_stored(glass)


def test_a_window_past_max_duration_but_within_the_cap_runs(glass: World) -> None:
    setting(glass, max_duration=timedelta(minutes=20))
    request_id, _ = running(glass, window=25)
    assert glass.view(request_id).ends_at == glass.clock() + timedelta(minutes=25)


def test_the_activation_checks_the_window_against_the_break_glass_cap_as_it_is_then(glass: World) -> None:
    setting(glass, max_duration=timedelta(minutes=60))
    request_id = start(glass, window=25).id
    glass.posted(request_id)
    setting(glass, break_glass_max_duration=timedelta(minutes=20))  # lowered before it is activated
    glass.workflows.ticker.tick(request_id)
    failed = glass.view(request_id)
    assert failed.state is State.FAILED and glass.descope.minted == []
    assert isinstance(failed.failure, Failure) and failed.failure.kind is FailureKind.WINDOW_OUT_OF_POLICY
    assert failed.failure.high_s == 20 * MINUTE  # the break-glass cap, not max_duration


def test_an_approve_click_on_a_break_glass_decides_nothing(glass: World) -> None:
    request_id, alert = running(glass)
    with pytest.raises(WrongMessage):
        glass.workflows.approvals.decide(request_id, APPROVER, True, message_ts=alert[1])
    with pytest.raises(WrongMessage):
        glass.workflows.approvals.decide(request_id, APPROVER, False, via_home=True)
    assert glass.view(request_id).state is State.ACTIVE


# -- review, flag ----------------------------------------------------------------------------------------------------


def test_the_requester_may_not_review_their_own(glass: World) -> None:
    request_id, alert = running(glass)
    with pytest.raises(MayNotReview) as refused:
        glass.workflows.break_glass.review(request_id, REQUESTER, where=alert)
    assert refused.value.own
    with pytest.raises(MayNotReview) as flagged:
        glass.workflows.break_glass.flag(request_id, REQUESTER, where=alert)
    assert flagged.value.own
    assert glass.view(request_id).awaiting_review


def test_someone_not_an_approver_may_not_review(glass: World) -> None:
    request_id, alert = running(glass)
    with pytest.raises(MayNotReview) as refused:
        glass.workflows.break_glass.review(request_id, OUTSIDER, where=alert)
    assert not refused.value.own
    with pytest.raises(MayNotReview):
        glass.workflows.break_glass.flag(request_id, OUTSIDER, where=alert)
    assert glass.view(request_id).awaiting_review


def test_a_review_from_another_message_is_refused(glass: World) -> None:
    request_id, (channel, ts) = running(glass)
    for where in ((channel, "1.000000"), ("CELSEWHERE", ts), None):  # another ts; the same ts in another channel
        with pytest.raises(WrongMessage):
            glass.workflows.break_glass.review(request_id, APPROVER, where=where)
        with pytest.raises(WrongMessage):
            glass.workflows.break_glass.flag(request_id, APPROVER, where=where)
    assert glass.view(request_id).awaiting_review and glass.view(request_id).state is State.ACTIVE


def test_the_alerts_copy_and_the_home_are_reviewed_from_too(glass: World) -> None:
    setting(glass, break_glass_channel="CGLASS")
    request_id, (channel, _) = running(glass)
    row = glass.row(request_id)
    assert row.alert_channel == "CGLASS" and row.alert_ts is not None
    with pytest.raises(WrongMessage):  # the copy's ts, said to be in the approvals channel
        glass.workflows.break_glass.review(request_id, APPROVER, where=(channel, row.alert_ts))
    glass.workflows.break_glass.review(request_id, APPROVER, where=("CGLASS", row.alert_ts))
    assert glass.view(request_id).reviewed_by == APPROVER

    other, _ = running(glass, login_id="b@acme.com")
    glass.workflows.break_glass.flag(other, APPROVER, via_home=True)
    assert glass.view(other).flagged_by == APPROVER


def test_an_approvers_review_is_recorded_once(glass: World) -> None:
    request_id, alert = running(glass)
    glass.clock.advance(30)
    glass.workflows.break_glass.review(request_id, APPROVER, where=alert)
    view = glass.view(request_id)
    assert (view.reviewed_by, view.reviewed_at) == (APPROVER, glass.clock()) and not view.awaiting_review
    assert view.state is State.ACTIVE  # looks right: it runs on
    with pytest.raises(AlreadyReviewed):
        glass.workflows.break_glass.review(request_id, APPROVER, where=alert)
    with pytest.raises(AlreadyReviewed):
        glass.workflows.break_glass.flag(request_id, APPROVER, via_home=True)
    assert glass.view(request_id).flagged_by is None and glass.view(request_id).stop_requested_at is None


def test_stop_and_flag_ends_the_session_and_revokes_the_token(glass: World) -> None:
    request_id, alert = running(glass)
    [token] = glass.descope.minted
    glass.workflows.break_glass.flag(request_id, APPROVER, where=alert)
    view = glass.view(request_id)  # the stop asked in the flag's own write: stopping before any tick
    assert view.flagged_by == APPROVER and view.stop_requested_at == glass.clock() and view.stopping
    assert glass.row(request_id).stop_requested_by == APPROVER
    assert actions(glass, request_id)[-2:] == [Action.FLAGGED, Action.STOP_REQUESTED]
    with pytest.raises(AlreadyReviewed):
        glass.workflows.break_glass.review(request_id, APPROVER, where=alert)

    glass.workflows.ticker.tick(request_id)
    assert glass.view(request_id).state is State.STOPPED
    assert glass.descope.stopped == [token] and glass.descope.revoked == [token]
    assert Action.FLAGGED in actions(glass, request_id)
    assert glass.notifier.tokens == [token]  # delivered once, before; nothing new


def test_a_flag_while_it_is_being_activated_calls_it_off(glass: World) -> None:
    request_id = start(glass).id
    ts = glass.posted(request_id)
    glass.workflows.break_glass.flag(request_id, APPROVER, where=(APPROVAL_CHANNEL, ts))
    row = glass.row(request_id)
    assert (row.state, row.stop_requested_by) == (State.APPROVED.value, APPROVER)
    assert actions(glass, request_id)[-2:] == [Action.FLAGGED, Action.STOP_REQUESTED]
    glass.workflows.ticker.tick(request_id)
    assert glass.view(request_id).state is State.STOPPED
    assert glass.descope.minted == [] and glass.notifier.tokens == []


def test_a_flag_after_the_session_ended_is_recorded_with_nothing_to_stop(glass: World) -> None:
    request_id, alert = running(glass, window=5)
    glass.clock.advance(6 * MINUTE)
    glass.workflows.ticker.tick(request_id)
    assert glass.view(request_id).state is State.STOPPED
    glass.workflows.break_glass.flag(request_id, APPROVER, where=alert)
    view = glass.view(request_id)
    assert view.flagged_by == APPROVER and view.stop_requested_at is None
    assert actions(glass, request_id)[-1] == Action.FLAGGED


def test_a_flag_stops_the_session_it_was_extended_into(glass: World) -> None:
    request_id, alert = running(glass)
    extension = glass.workflows.extensions.request(request_id, REQUESTER, timedelta(minutes=10), "more time")
    glass.workflows.approvals.decide(extension.id, APPROVER, True, message_ts=glass.posted(extension.id))
    assert glass.view(extension.id).state is State.ACTIVE
    assert glass.row(request_id).extended_by == extension.id
    glass.workflows.ticker.tick(request_id)
    assert glass.view(request_id).state is State.STOPPED  # retired: the session lives on in its extension

    glass.workflows.break_glass.flag(request_id, APPROVER, where=alert)
    assert glass.view(request_id).flagged_by == APPROVER
    assert glass.view(extension.id).stopping
    glass.workflows.ticker.tick(extension.id)
    assert glass.view(extension.id).state is State.STOPPED
    assert glass.descope.revoked == glass.descope.minted  # both tokens


def test_a_flag_withdraws_an_extension_waiting_for_approval(glass: World) -> None:
    request_id, alert = running(glass)
    extension = glass.workflows.extensions.request(request_id, REQUESTER, timedelta(minutes=10), "more time")
    glass.workflows.break_glass.flag(request_id, APPROVER, where=alert)
    assert glass.view(request_id).stopping
    assert glass.view(extension.id).state is State.DENIED  # decided by the bot: nothing left to extend


# -- review reminders ------------------------------------------------------------------------------------------------


def test_the_approvers_are_reminded_the_interval_doubling_even_after_the_session_ended(glass: World) -> None:
    request_id, alert = running(glass, window=5)
    assert not remind(glass, request_id)  # not yet
    glass.clock.advance(MINUTE)
    assert remind(glass, request_id) and not remind(glass, request_id)  # once
    glass.clock.advance(MINUTE)
    assert not remind(glass, request_id)  # the next after 2 intervals
    glass.clock.advance(MINUTE)
    assert remind(glass, request_id)
    glass.clock.advance(3 * MINUTE)  # 6 minutes: the session's window is over
    glass.workflows.ticker.tick(request_id)
    assert glass.view(request_id).state is State.STOPPED
    glass.clock.advance(MINUTE)  # 7 minutes: the next after 4 intervals
    assert remind(glass, request_id)
    assert reminders(glass, request_id) == [Reminded(1, (APPROVER,)), Reminded(2, (APPROVER,)),
                                            Reminded(3, (APPROVER,))]

    glass.workflows.break_glass.review(request_id, APPROVER, where=alert)
    glass.clock.advance(60 * MINUTE)
    assert not remind(glass, request_id)
    assert len(reminders(glass, request_id)) == 3


def test_no_reminder_once_reviewed(glass: World) -> None:
    request_id, alert = running(glass)
    glass.workflows.break_glass.review(request_id, APPROVER, where=alert)
    for _ in range(5):
        glass.clock.advance(5 * MINUTE)
        assert not remind(glass, request_id)
    assert reminders(glass, request_id) == [] and glass.row(request_id).review_remind_at is None


def test_the_ticker_sends_the_review_reminder_that_is_due(glass: World) -> None:
    request_id, _ = running(glass)
    glass.clock.advance(MINUTE)
    glass.workflows.ticker.tick(request_id)
    assert reminders(glass, request_id) == [Reminded(1, (APPROVER,))]


# -- the requester proves themselves first (approval_mfa) ----------------------------------------------------------


@pytest.fixture
def proving(glass: World) -> World:
    setting(glass, approval_mfa=Mfa.TOTP)
    return glass


def waiting(world: World) -> str:
    """A break-glass stored waiting for its requester's code: its ID."""
    with pytest.raises(ProofNeeded) as needed:
        start(world)
    assert (needed.value.user_id, needed.value.purpose, needed.value.method) == (
        REQUESTER, Purpose.BREAK_GLASS, Mfa.TOTP)
    return needed.value.request_id


def test_where_approvers_prove_themselves_the_requester_is_asked_for_a_code_first(proving: World) -> None:
    request_id = waiting(proving)
    view = proving.view(request_id)
    assert view.state is State.PENDING and view.break_glass
    proving.posted(request_id)
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.PENDING
    assert proving.descope.calls == 0 and proving.descope.minted == []


def test_a_good_code_starts_it(proving: World) -> None:
    request_id = waiting(proving)
    proving.posted(request_id)
    started = proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert (started.state, started.decided_by) == (State.APPROVED, REQUESTER)
    assert proving.descope.proofs == [("totp", REQUESTER_LOGIN, proving.descope.good_code)]
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.ACTIVE
    assert proving.descope.impersonations == [(TARGET, REQUESTER_LOGIN)]


def test_a_wrong_code_starts_nothing(proving: World) -> None:
    request_id = waiting(proving)
    with pytest.raises(WrongCode) as wrong:
        proving.workflows.verifications.start_break_glass(request_id, REQUESTER, "000000")
    assert wrong.value.purpose is Purpose.BREAK_GLASS
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.PENDING and proving.descope.minted == []


def test_only_the_requester_proves_themselves_for_it(proving: World) -> None:
    request_id = waiting(proving)
    with pytest.raises(MayNotReview):
        proving.workflows.verifications.start_break_glass(request_id, APPROVER, proving.descope.good_code)
    assert proving.view(request_id).state is State.PENDING and proving.descope.proofs == []


def test_unproved_it_expires_after_the_proof_window_with_nothing_minted(proving: World) -> None:
    request_id = waiting(proving)
    proving.posted(request_id)
    proving.clock.advance(PROOF_WINDOW.total_seconds() - 1)
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.PENDING
    proving.clock.advance(1)
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.EXPIRED
    with pytest.raises(NotStoppable):  # too late for a code
        proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert proving.descope.calls == 0 and proving.descope.minted == [] and proving.notifier.tokens == []


def test_a_break_glass_that_never_started_asks_no_review(proving: World) -> None:
    request_id = waiting(proving)
    proving.posted(request_id)
    assert proving.row(request_id).review_remind_at is None
    for _ in range(15):
        proving.clock.advance(MINUTE)
        proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.EXPIRED
    assert reminders(proving, request_id) == []


def test_once_started_by_its_code_the_reminders_start(proving: World) -> None:
    request_id = waiting(proving)
    proving.posted(request_id)
    proving.clock.advance(2 * MINUTE)
    proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert proving.row(request_id).review_remind_at == proving.clock() + timedelta(minutes=1)
    proving.clock.advance(MINUTE)
    assert remind(proving, request_id)


def test_a_break_glass_that_never_started_is_neither_reviewed_nor_flagged(proving: World) -> None:
    request_id = waiting(proving)
    ts = proving.posted(request_id)
    for where, via_home in (((APPROVAL_CHANNEL, ts), False), (None, True)):
        with pytest.raises(WrongMessage):
            proving.workflows.break_glass.review(request_id, APPROVER, where=where, via_home=via_home)
        with pytest.raises(WrongMessage):
            proving.workflows.break_glass.flag(request_id, APPROVER, where=where, via_home=via_home)
    proving.clock.advance(PROOF_WINDOW.total_seconds())
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.EXPIRED
    with pytest.raises(WrongMessage):
        proving.workflows.break_glass.review(request_id, APPROVER, where=(APPROVAL_CHANNEL, ts))
    with pytest.raises(WrongMessage):
        proving.workflows.break_glass.flag(request_id, APPROVER, via_home=True)
    view = proving.view(request_id)
    assert (view.reviewed_by, view.flagged_by, view.awaiting_review) == (None, None, False)


# -- the rules and the day's allowance, asked again when the requester has proved themselves ------------------


def test_the_days_allowance_used_up_while_it_waited_refuses_it_at_start(proving: World) -> None:
    request_id = waiting(proving)
    setting(proving, approval_mfa=Mfa.NONE)  # meanwhile the others start at once
    start(proving, login_id="a@acme.com")
    start(proving, login_id="b@acme.com")
    with pytest.raises(BreakGlassTooOften) as refused:
        proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert refused.value.next_at == proving.clock() + timedelta(hours=24)
    row = proving.row(request_id)
    assert (row.state, row.decided_at, row.review_remind_at) == (State.PENDING.value, None, None)
    assert Action.BREAK_GLASS not in actions(proving, request_id)
    proving.workflows.ticker.tick(request_id)
    assert proving.view(request_id).state is State.PENDING and len(proving.descope.minted) == 0


def test_rules_that_stopped_allowing_break_glass_while_it_waited_refuse_it_at_start(proving: World) -> None:
    request_id = waiting(proving)
    setting(proving, break_glass=False)
    with pytest.raises(BreakGlassNotAllowed):
        proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert proving.view(request_id).state is State.PENDING


def test_a_cap_lowered_below_its_window_while_it_waited_refuses_it_at_start(proving: World) -> None:
    request_id = waiting(proving)  # 15 minutes
    setting(proving, break_glass_max_duration=timedelta(minutes=10))
    with pytest.raises(BreakGlassTooLong):
        proving.workflows.verifications.start_break_glass(request_id, REQUESTER, proving.descope.good_code)
    assert proving.view(request_id).state is State.PENDING


def test_a_waiting_one_withdrawn_or_expired_uses_none_of_the_allowance(proving: World) -> None:
    withdrawn = waiting(proving)
    proving.workflows.requests.withdraw(withdrawn, REQUESTER)
    assert proving.view(withdrawn).withdrawn
    expired = waiting(proving)
    proving.clock.advance(PROOF_WINDOW.total_seconds())
    proving.workflows.ticker.tick(expired)
    assert proving.view(expired).state is State.EXPIRED
    setting(proving, approval_mfa=Mfa.NONE)
    assert start(proving, login_id="a@acme.com").state is State.APPROVED
    assert start(proving, login_id="b@acme.com").state is State.APPROVED  # the day's 2, both still there
    with pytest.raises(BreakGlassTooOften):
        start(proving, login_id="c@acme.com")
