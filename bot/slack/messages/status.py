"""Where a request stands and what happened to it: the approval message's status line (its approvals so far), a
sentence for someone clicking on it late, and how a session ended. The approval message's other words are
``messages.approval``; why a request failed, ``messages.outcomes``; the thread's lines, ``messages.thread``."""

from __future__ import annotations

from bot.domain import RequestView, State
from bot.domain.audit import SYSTEM
from bot.slack.messages.outcomes import failure_text
from bot.slack.messages.proofs import proved_by
from bot.slack.mrkdwn import code, when


def outcome_so_far(request: RequestView) -> str:
    """One sentence on where a request stands, for someone clicking on it late."""
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    match request.state:
        case State.PENDING:
            return f"Request `{request.id}` is still waiting for approval."
        case State.APPROVED | State.ACTIVE:
            return f"Request `{request.id}` was already approved{who}."
        case State.STOPPED:
            return f"Request `{request.id}` was already approved{who}, and its session has ended."
        case State.DENIED if request.decided_by == SYSTEM:
            return f"Request `{request.id}` was withdrawn: the session it extends was stopped."
        case State.DENIED:
            return f"Request `{request.id}` was already denied{who}."
        case State.EXPIRED:
            return f"Request `{request.id}` already expired: nobody answered it in time."
        case State.FAILED if request.decided_by is None:
            return f"Request `{request.id}` was closed before it could be approved: its approval message says why."
        case State.FAILED:
            return f"Request `{request.id}` was approved{who} but failed: its approval message says why."


def approvers_text(request: RequestView) -> str:
    """Who approved: ``<@a>``, ``<@a> and <@b>``, ``<@a>, <@b> and <@c>`` (or "someone", for rows from before), each
    with how they proved themselves where they did (``<@a> · authenticator code``)."""
    who = [f"<@{u}>{proved_by(request.proof_of(u))}" for u in request.approved_by] or \
        ([f"<@{request.decided_by}>"] if request.decided_by else [])
    if not who:
        return "someone"
    return who[0] if len(who) == 1 else f"{', '.join(who[:-1])} and {who[-1]}"


def tally(request: RequestView) -> str:
    """A pending request's approvals so far: "1 of 2 approvals: <@a>"."""
    so_far = f": {approvers_text(request)}" if request.approved_by else ""
    return f"{len(request.counted)} of {request.approvals_needed} approvals{so_far}"


def called_off(request: RequestView) -> bool:
    """Stopped while it was being activated, before its token could reach the requester."""
    return request.stop_requested_at is not None and (
        request.started_at is None or request.stop_requested_at <= request.started_at)


def how_ended(request: RequestView, *, told: str | None = None) -> str:
    """How the session ended, for everyone, or for ``told`` (who reads "by you" for what they did)."""
    def by(actor: str | None) -> str:
        if not actor or actor == SYSTEM:
            return "the bot"
        return "you" if actor == told else f"<@{actor}>"

    if request.extended_by:
        return f"replaced by its extension `{request.extended_by}`"
    if called_off(request):
        return f"called off by {by(request.stopped_by)} before it started: no token was handed over"
    if request.stopped_by and request.stopped_by != SYSTEM:
        return f"stopped early by {by(request.stopped_by)}"
    if request.stop_requested_at and request.ends_at and request.stop_requested_at < request.ends_at:
        return "stopped early by the bot"
    return "window ended"


def status_line(request: RequestView) -> str:
    approved = f"Break-glass by <@{request.requester_id}>" if request.break_glass else \
        f"Approved by {approvers_text(request)}"
    match request.state:
        case State.PENDING if request.break_glass:
            return (f":hourglass_flowing_sand: Break-glass: waiting for <@{request.requester_id}> to prove themselves "
                    f"(expires {when(request.pending_until)})")
        case State.EXPIRED if request.break_glass:
            return ":hourglass: Break-glass not started: the requester's code never came"
        case State.PENDING if request.approvals_needed > 1:
            return (f":hourglass_flowing_sand: {tally(request)}. Waiting for {request.approvals_missing} more "
                    f"(expires {when(request.pending_until)})")
        case State.PENDING:
            return f":hourglass_flowing_sand: Waiting for a second admin (expires {when(request.pending_until)})"
        case State.APPROVED if request.stop_requested_at:
            return f":stop_button: {approved}: called off while the session was starting: stopping it…"
        case State.APPROVED:
            return f":white_check_mark: {approved}: starting the session…"
        case State.ACTIVE if request.stopping:
            return f":white_check_mark: {approved}: stopping the session…"
        case State.ACTIVE:
            assert request.ends_at is not None
            return f":white_check_mark: {approved}: active until {when(request.ends_at)}"
        case State.STOPPED if called_off(request):
            return f":stop_button: {approved}, then {how_ended(request)}"
        case State.STOPPED:
            end = when(request.stopped_at) if request.stopped_at else "now"
            return f":stop_button: {approved}. Session ended {end} ({how_ended(request)})"
        case State.DENIED if request.withdrawn:
            return ":leftwards_arrow_with_hook: Withdrawn by the requester"
        case State.DENIED if request.decided_by == SYSTEM:
            return ":leftwards_arrow_with_hook: Withdrawn: the session it extends was stopped"
        case State.DENIED:
            return f":no_entry: Denied by <@{request.decided_by}>"
        case State.EXPIRED:
            return ":hourglass: Expired: nobody answered in time"
        case State.FAILED if request.decided_by is None:
            return f":warning: Closed before approval: {code(failure_text(request.failure))}"
        case State.FAILED:
            return f":warning: {approved}, but it failed: {code(failure_text(request.failure))}"




# -- the approval message --------------------------------------------------------------------------------
