"""The audit thread as the projection posts it (``bot.workflows.projection``): one reply per Slack sync pass, a line
per audit event, the position recorded so that nothing is posted twice or left out."""

from __future__ import annotations

from collections.abc import Sequence

from bot.devtools.harness import APPROVER, REQUESTER
from bot.domain import RequestView
from bot.store import AuditEntry
from bot.workflows.projection import THREAD_LINES_PER_REPLY
from tests.fakes.inprocess import World


def test_an_approval_and_the_session_it_starts_are_one_reply_in_the_thread(world: World) -> None:
    request_id = world.approved()  # the approval, the activation and its sync pass (the DM)
    assert world.notifier.replies == [["approved", "activated"]]  # "requested" is the approval message itself
    row = world.row(request_id)
    assert row.thread_posted_id == max(e.id for e in world.store.audit(request_id=request_id))
    world.workflows.projection.sync_slack(request_id)  # a pass with nothing new posts nothing
    assert world.notifier.replies == [["approved", "activated"]]

    world.workflows.requests.request_stop(request_id, REQUESTER)
    world.workflows.ticker.tick(request_id)  # the stop, then the pass that follows it
    world.workflows.ticker.tick(request_id)
    assert world.notifier.replies[1:] == [["stop_requested", "stopped"]]


def test_a_backlog_is_posted_in_replies_of_at_most_so_many_lines(world: World) -> None:
    request_id = world.approved()
    backlog = THREAD_LINES_PER_REPLY + 5
    for _ in range(backlog):  # e.g. what piled up while Slack was down
        assert world.store._record(request_id, actor=APPROVER, action="token_shown", now=world.clock())
    world.workflows.projection.sync_slack(request_id)
    assert [len(reply) for reply in world.notifier.replies[1:]] == [THREAD_LINES_PER_REPLY, 5]
    assert world.row(request_id).thread_posted_id == max(e.id for e in world.store.audit(request_id=request_id))


def test_a_reply_slack_refuses_is_the_only_one_posted_again(world: World) -> None:
    """The thread's position is recorded before each reply: a failure (or a crash) repeats at most that reply."""
    request_id = world.approved()
    for _ in range(THREAD_LINES_PER_REPLY + 5):
        assert world.store._record(request_id, actor=APPROVER, action="token_shown", now=world.clock())
    post = world.notifier.post_thread
    calls = 0

    def second_fails(request: RequestView, entries: Sequence[AuditEntry]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("Slack is down")
        post(request, entries)

    world.notifier.post_thread = second_fails  # type: ignore[method-assign]
    world.workflows.projection.sync_slack(request_id)  # the second reply fails: the pass gives up, to retry
    shown = [e.id for e in world.store.audit(request_id=request_id) if e.action == "token_shown"]
    assert world.row(request_id).thread_posted_id == shown[THREAD_LINES_PER_REPLY - 1]
    world.clock.advance(6)  # past the retry delay (SLACK_RETRY)
    world.workflows.projection.sync_slack(request_id)
    assert [len(reply) for reply in world.notifier.replies[1:]] == [THREAD_LINES_PER_REPLY, 5]
    assert world.row(request_id).thread_posted_id == shown[-1]


# -- issue 22: an approvals channel that refuses the bot -----------------------------------------------------------


def test_a_channel_that_refuses_the_approval_message_is_told_once_and_retried_less_and_less(world: World) -> None:
    world.notifier.refusing = "not_in_channel"
    request = world.submit()
    projection = world.workflows.projection
    projection.sync_slack(request.id, world.row(request.id).slack_lease_until)
    assert [(r.id, error) for r, error in world.notifier.not_posted] == [(request.id, "not_in_channel")]
    row = world.row(request.id)
    assert row.post_failures == 1 and row.channel_ts is None
    waits = []
    for _ in range(6):
        assert row.slack_lease_until is not None
        waits.append(round((row.slack_lease_until - world.clock()).total_seconds()))
        world.clock.advance(waits[-1] + 0.1)
        projection.sync_slack(request.id)
        row = world.row(request.id)
    assert waits == [2, 4, 8, 16, 32, 60]  # doubling, capped at a minute
    assert len(world.notifier.not_posted) == 1 and row.post_failures == 7  # told once, counted every time
    assert [a.action for a in world.store.audit(request_id=request.id)] == ["requested", "not_posted"]
    world.notifier.refusing = None  # the bot is invited back
    world.clock.advance(61)
    projection.sync_slack(request.id)
    posted = world.row(request.id)
    assert posted.channel_ts is not None and posted.post_failures == 0


def test_a_request_that_ends_before_the_channel_takes_it_is_told_to_its_requester_alone(world: World) -> None:
    world.notifier.refusing = "is_archived"
    request = world.submit()
    world.workflows.projection.sync_slack(request.id, world.row(request.id).slack_lease_until)
    world.clock.advance(31 * 60)  # PENDING_TIMEOUT: nobody could answer it
    world.workflows.ticker.sweep()
    world.workflows.ticker.sweep()
    assert world.view(request.id).state.value == "expired"
    assert [r.state.value for r in world.notifier.outcomes] == ["expired"]
    assert world.row(request.id).channel_ts is None
