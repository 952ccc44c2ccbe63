"""The App Home's words: its headings, a line per request in each list, the empty lists, "+N more", the
notice a refused click leaves at the top, and the footer. What a person typed is shown in code spans
(``mrkdwn.target``) or as plain text (the reason), never as mrkdwn."""

from __future__ import annotations

from datetime import datetime

from bot.domain import RequestView
from bot.domain.durations import format_duration
from bot.slack.messages.status import status_line, tally
from bot.slack.mrkdwn import target, when

MINE_HEADER = "Your requests"
AWAITING_HEADER = "Waiting for your approval"
SESSIONS_HEADER = "Active sessions"
TO_REVIEW_HEADER = "Break-glass sessions to review"
NOTHING_TO_REVIEW = "No break-glass session awaits your review."

NO_REQUESTS = ("You have no requests. Ask for a session with "
               "`/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>`.")
NOTHING_AWAITING = "Nothing is waiting for you. Requests by others show up here as they come in."
NO_SESSIONS = "No session is active."

WITHDRAW_LABEL, STOP_LABEL, CANCEL_LABEL = "Withdraw", "Stop", "Cancel"
STOP_CONFIRM_TITLE = "Stop this session?"


def more(count: int) -> str:
    return f"+{count} more"


def mine_line(request: RequestView) -> str:
    """One of the person's own requests: which, for whom, how long, and where it stands."""
    return (f"`{request.id}` {target(request)} for {format_duration(request.duration)}\n"
            f"{status_line(request)}")


def awaiting_line(request: RequestView) -> str:
    """A request waiting for approval: who asks, for whom (more time on which session), how long, the tally when
    it needs several approvers, until when it waits."""
    asks = (f"asks for {format_duration(request.duration)} more on session `{request.extends}`, as {target(request)}"
            if request.extends else f"asks to act as {target(request)} for {format_duration(request.duration)}")
    so_far = f"{tally(request)} \u00b7 " if request.approvals_needed > 1 else ""
    return (f"<@{request.requester_id}> {asks} (`{request.id}`)\n"
            f":hourglass_flowing_sand: {so_far}expires {when(request.pending_until)}")


def session_line(request: RequestView) -> str:
    """A live session: whose, as whom, and where it stands."""
    return f"`{request.id}` <@{request.requester_id}> as {target(request)}\n{status_line(request)}"


def to_review_line(request: RequestView) -> str:
    """A break-glass session awaiting review: whose, as whom, where it stands, and where to review it."""
    return (f":rotating_light: `{request.id}` <@{request.requester_id}> as {target(request)}, no approver\n"
            f"{status_line(request)} · review it on its alert in the approvals channel")


def stop_confirm(request: RequestView) -> str:
    """Plain text (the confirm dialog's): ends the session now and revokes its token."""
    return (f"Ends the impersonation of {request.login_id[:200]} (request {request.id}) now "
            "and revokes its token.")


def footer(at: datetime) -> str:
    return f"Updated {when(at)}. `/impersonate help` lists the commands."
