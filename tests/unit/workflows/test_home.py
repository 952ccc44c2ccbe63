"""The App Home's workflow (``bot.workflows.home``) in process: who sees what, who is remembered as having opened
it, whose Home a change republishes (and that a failing publish blocks nothing); and the two ways in from the Home:
``Approvals.decide(via_home=True)`` and ``Requests.withdraw``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.devtools.harness import APPROVER, OTHER_TARGET, OUTSIDER, REQUESTER, TARGET
from bot.domain import AlreadyDecided, Draft, MayNotStop, NotAnApprover, OwnRequest, RequestView, State, WrongMessage
from bot.domain.home import AWAITING_SHOWN, MINE_SHOWN, Listed
from bot.domain.policy import Policy, Rule
from bot.workflows.home import VIEWER_TTL
from tests.fakes.inprocess import World

OTHER_APPROVER = "UAPPR9"


@pytest.fixture(autouse=True)
def approvers_may_request(world: World) -> None:
    """The approvers may ask too (so an approver's own pending request exists); two approvers."""
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, approvers=(APPROVER, OTHER_APPROVER),
                           requesters=(REQUESTER, APPROVER, OTHER_APPROVER))


def ask(world: World, requester: str = REQUESTER, login_id: str = TARGET) -> str:
    draft = Draft(login_id=login_id, duration=timedelta(minutes=30), reason="home")
    return world.workflows.requests.submit(requester, draft).id


def ids(listed: Listed | None) -> list[str]:
    assert listed is not None
    return [r.id for r in listed.shown]


# -- what each person sees ------------------------------------------------------------------------------


def test_a_requester_sees_their_own_requests_open_first_and_nothing_else(world: World) -> None:
    ended = ask(world, login_id=OTHER_TARGET)
    world.workflows.requests.withdraw(ended, REQUESTER)
    world.clock.advance(60)
    pending = ask(world)
    ask(world, APPROVER)

    home = world.workflows.homes.page(REQUESTER)
    assert ids(home.mine) == [pending, ended] and home.mine.total == 2
    assert home.awaiting is None and home.sessions is None and not home.approver
    assert home.at == world.clock()


def test_an_approver_sees_the_requests_waiting_for_them_never_their_own_and_every_session(world: World) -> None:
    theirs = ask(world, REQUESTER, OTHER_TARGET)
    world.clock.advance(1)
    own = ask(world, APPROVER)
    world.clock.advance(1)
    colleagues = ask(world, OTHER_APPROVER)
    active = world.approved()  # REQUESTER's, approved by APPROVER: active

    home = world.workflows.homes.page(APPROVER)
    assert home.approver
    assert home.awaiting is not None and home.sessions is not None
    assert ids(home.awaiting) == [theirs, colleagues]  # the oldest (next to expire) first; never their own
    assert own not in ids(home.awaiting) and ids(home.mine) == [own]
    assert ids(home.sessions) == [active]
    colleague_home = world.workflows.homes.page(OTHER_APPROVER)
    assert colleague_home.awaiting is not None and ids(colleague_home.awaiting) == [theirs, own]


def test_the_lists_are_capped_and_count_the_rest(world: World) -> None:
    for n in range(MINE_SHOWN + 5):
        world.workflows.requests.withdraw(ask(world, login_id=f"user{n}@acme.com"), REQUESTER)
        world.clock.advance(1)
    pending = ask(world)
    home = world.workflows.homes.page(REQUESTER)
    assert len(home.mine.shown) == MINE_SHOWN and home.mine.total == MINE_SHOWN + 6
    assert home.mine.more == 6 and ids(home.mine)[0] == pending


def test_what_waits_for_an_approver_is_found_past_those_waiting_for_others(world: World) -> None:
    """Others' requests, older and more than the list shows, must not crowd out the ones waiting for this approver."""
    others = Rule(number=1, name="others", targets=("other*@acme.com",), requesters=(REQUESTER, APPROVER),
                  approvers=(OTHER_APPROVER,), min_duration=timedelta(minutes=1),
                  default_duration=timedelta(minutes=30), max_duration=timedelta(hours=4))
    ctx = world.workflows.ctx
    ctx.settings = replace(ctx.settings, policy=Policy((others,), "policy.toml"), max_pending_per_requester=100)
    for n in range(AWAITING_SHOWN + 5):
        ask(world, login_id=f"other{n}@acme.com")
        world.clock.advance(1)
    theirs = []
    for n in range(3):
        theirs.append(ask(world, login_id=f"user{n}@acme.com"))
        world.clock.advance(1)
    home = world.workflows.homes.page(APPROVER)
    assert ids(home.awaiting) == theirs and home.awaiting is not None and home.awaiting.total == 3
    colleague = world.workflows.homes.page(OTHER_APPROVER)  # the rule's approver, and in APPROVERS: all of them
    assert colleague.awaiting is not None and len(colleague.awaiting.shown) == AWAITING_SHOWN
    assert colleague.awaiting.total == AWAITING_SHOWN + 5 + 3


def test_stop_is_offered_on_the_sessions_an_approver_may_stop(world: World) -> None:
    others = Rule(number=1, name="others", targets=(TARGET,), requesters=(REQUESTER,),
                  approvers=(APPROVER,), min_duration=timedelta(minutes=1),
                  default_duration=timedelta(minutes=30), max_duration=timedelta(hours=4))
    ctx = world.workflows.ctx
    active = world.approved()
    ctx.settings = replace(ctx.settings, policy=Policy((others,), "policy.toml"), approvers=(OTHER_APPROVER,))
    assert world.workflows.homes.page(APPROVER).stoppable == {active}  # the rule's approver
    assert world.workflows.homes.page(OTHER_APPROVER).stoppable == {active}  # APPROVERS may stop any session
    ctx.settings = replace(ctx.settings, approvers=("UAPPR8",))
    assert world.workflows.homes.page(OTHER_APPROVER).stoppable == frozenset()  # neither: no Stop


# -- who is remembered, whose Home is republished -------------------------------------------------------


def test_a_change_republishes_the_homes_of_the_requester_and_the_approvers_who_opened_it(world: World) -> None:
    homes, published = world.workflows.homes, world.notifier.homes
    for user in (REQUESTER, APPROVER, OUTSIDER):
        homes.opened(user)
    world.clock.advance(VIEWER_TTL.total_seconds() + 1)
    homes.opened(APPROVER)  # OTHER_APPROVER never opened it; REQUESTER's and OUTSIDER's visits are too old
    homes.opened(OUTSIDER)
    request_id = ask(world)
    world.posted(request_id)
    assert set(published) == {APPROVER}  # not the outsider: nothing of theirs changed, nothing else to see
    awaiting = published[APPROVER].awaiting
    assert awaiting is not None and ids(awaiting) == [request_id]

    homes.opened(REQUESTER)
    world.workflows.approvals.decide(request_id, APPROVER, True, message_ts=world.view(request_id).channel_ts)
    assert set(published) == {APPROVER, REQUESTER}
    assert [r.state for r in published[REQUESTER].mine.shown] == [State.ACTIVE]
    approver_home = published[APPROVER]
    assert approver_home.awaiting is not None and approver_home.sessions is not None
    assert ids(approver_home.awaiting) == [] and ids(approver_home.sessions) == [request_id]


def test_a_home_opened_during_a_sync_is_republished_with_the_change_that_sync_then_carries(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The viewers are read with the sync's work; a change that comes meanwhile (its own sync finds the lease taken)
    is carried by another pass, and the Homes opened before that change are read again."""
    homes, published = world.workflows.homes, world.notifier.homes
    request_id = ask(world)
    post = world.notifier.post_request

    def meanwhile(request: RequestView) -> tuple[str, str]:
        posted = post(request)
        homes.opened(OTHER_APPROVER)  # their Home, rendered now, shows the request waiting for them
        world.workflows.requests.withdraw(request_id, REQUESTER)  # then it is withdrawn
        return posted

    monkeypatch.setattr(world.notifier, "post_request", meanwhile)
    world.posted(request_id)
    assert world.view(request_id).state is not State.PENDING
    assert ids(published[OTHER_APPROVER].awaiting) == []  # published again: nothing waits for them any more


def test_opening_twice_keeps_one_viewer_at_the_latest_time(world: World) -> None:
    homes = world.workflows.homes
    homes.opened(REQUESTER)
    world.clock.advance(VIEWER_TTL.total_seconds() - 1)
    homes.opened(REQUESTER)
    world.clock.advance(2)  # past the first visit's TTL, within the second's
    assert homes.store.viewers(world.clock() - VIEWER_TTL) == [REQUESTER]


def test_a_failing_publish_blocks_nothing(world: World) -> None:
    world.workflows.homes.opened(APPROVER)
    world.notifier.home_error = RuntimeError("views.publish failed")
    request_id = ask(world)
    world.posted(request_id)  # the approval message is posted and recorded all the same
    row = world.row(request_id)
    assert row.channel_ts is not None and row.slack_version == row.version and row.slack_lease_until is None
    assert world.notifier.homes == {}
    assert world.workflows.homes.republish(REQUESTER) == 0


# -- the Home's ways in ---------------------------------------------------------------------------------


def test_an_approval_from_the_home_counts_even_before_the_message_is_posted(world: World) -> None:
    request_id = ask(world)
    world.workflows.approvals.decide(request_id, APPROVER, True, via_home=True)
    assert world.view(request_id).state is State.ACTIVE
    world.posted(request_id)  # the submission's kick, under its Slack lease: the message, already approved, and the DM
    row = world.row(request_id)
    assert row.channel_ts is not None and row.slack_version == row.version
    assert len(world.notifier.tokens) == 1


def test_a_home_approval_has_the_same_checks(world: World) -> None:
    mine = ask(world, APPROVER)
    theirs = ask(world)
    decide = world.workflows.approvals.decide
    with pytest.raises(OwnRequest):
        decide(mine, APPROVER, True, via_home=True)
    with pytest.raises(NotAnApprover):
        decide(theirs, OUTSIDER, True, via_home=True)
    decide(theirs, OTHER_APPROVER, False, via_home=True)
    with pytest.raises(AlreadyDecided):
        decide(theirs, APPROVER, True, via_home=True)
    assert world.view(theirs).state is State.DENIED and world.descope.minted == []


def test_without_via_home_a_click_still_needs_the_requests_message(world: World) -> None:
    request_id = ask(world)
    world.posted(request_id)
    with pytest.raises(WrongMessage):
        world.workflows.approvals.decide(request_id, APPROVER, True)
    with pytest.raises(WrongMessage):
        world.workflows.approvals.decide(request_id, APPROVER, True, message_ts="1.000100")
    assert world.view(request_id).state is State.PENDING


def test_withdraw_takes_back_a_request_and_never_leaves_a_session_behind(world: World) -> None:
    pending = ask(world)
    with pytest.raises(MayNotStop):
        world.workflows.requests.withdraw(pending, APPROVER)  # even an approver: Deny is theirs
    withdrawn = world.workflows.requests.withdraw(pending, REQUESTER)
    assert withdrawn.state is State.DENIED and withdrawn.withdrawn
    with pytest.raises(AlreadyDecided):  # ended: nothing to take back
        world.workflows.requests.withdraw(pending, REQUESTER)

    active = world.approved()  # approved (and started) before the Withdraw click landed: the session stops
    assert world.workflows.requests.withdraw(active, REQUESTER).stopping
