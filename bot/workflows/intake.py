"""What every new request goes through (``Requests.submit``, ``Extensions.request``): the rules' admission
(``admit``: who may ask, whether anyone may, the window, whether anyone can approve it), then, admitted, stored
pending in one transaction that checks the requester's caps (``caps``), with the rules' name and the approvals they
need, born holding its Slack lease; its alarm set; and its approval message posted under that lease."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import is_group_id
from bot.domain import AlreadyOpen, Forbidden, NotARequester, RequestView, TooManyPending
from bot.domain.policy import Decision
from bot.domain.rules import check_approvable, check_window
from bot.domain.target import Target, encode_target
from bot.store import as_view
from bot.workflows.context import Context
from bot.workflows.escalations import CHECK_AFTER
from bot.workflows.home import VIEWER_TTL

log = logging.getLogger("bot.workflows")

RULE_NAME_MAX = 128  # requests.rule_name's length: several rules' names together are cut there


@dataclass(frozen=True)
class Asked:
    """A request the rules admitted: whom, for how long, why, decided by which rules."""

    requester_id: str
    login_id: str
    tenant: str | None
    duration: timedelta
    reason: str
    target: Target | None
    rules: Decision


def admit(ctx: Context, requester_id: str, login_id: str, rules: Decision, duration: timedelta | None, *,
          forbidden: Callable[[Forbidden, timedelta], None] = lambda refusal, window: None) -> timedelta:
    """The window ``rules`` give a request by ``requester_id`` for ``login_id`` (``duration``, else their default), if
    they let it be asked for: raises ``NotARequester``, ``Forbidden`` (told to ``forbidden`` first, which may keep it
    for the audit), ``WindowOutOfPolicy``, or the refusal of a request nobody but its requester could approve."""
    if not ctx.may_request(requester_id, rules):
        raise NotARequester(requester_id, rules.name)
    window = duration or rules.default_duration
    if rules.forbidding is not None:
        refusal = Forbidden(login_id, rules.forbidding.name)
        forbidden(refusal, window)
        raise refusal
    check_window(window, rules)
    check_approvable(requester_id, rules, is_group_id)
    return window


def caps(limit: int, *, besides: str | None = None) -> Callable[[list[RequestView], int], None]:
    """The check ``Store.insert`` runs in its transaction: no other live request for the same target (``besides``:
    the session an extension extends, unless it is stopping), and fewer than ``limit`` pending."""
    def check(live: list[RequestView], pending: int) -> None:
        others = [r for r in live if r.id != besides and not (besides and r.stopping)]
        if others:
            raise AlreadyOpen(others[0])
        if pending >= limit:
            raise TooManyPending(limit)
    return check


def file_request(ctx: Context, asked: Asked, *, pending_until: datetime | None = None, extends: str | None = None,
                 detail: str | None = None) -> RequestView:
    """Store ``asked`` (pending until ``pending_until``, else ``PENDING_TIMEOUT`` from now; ``extends``: the session an
    extension extends, ``detail`` on its first audit row), arm its alarm and have its approval message posted."""
    s = ctx.settings
    now = ctx.clock()
    slack_lease_until = now + ctx.leases.lease
    row, held = ctx.store.insert(
        requester_id=asked.requester_id, login_id=asked.login_id, tenant=asked.tenant, duration=asked.duration,
        reason=asked.reason, pending_until=pending_until or now + s.pending_timeout, now=now,
        target=encode_target(asked.target) if asked.target else None,
        remind_at=now + s.reminder_interval if s.reminder_interval else None,
        rule_name=asked.rules.name[:RULE_NAME_MAX] or None, approvals_needed=asked.rules.approvals,
        extends_id=extends, detail=detail, guard=caps(s.max_pending_per_requester, besides=extends),
        slack_lease_until=slack_lease_until, approval_mfa=asked.rules.approval_mfa,
        reveal_mfa=asked.rules.reveal_mfa,
        escalate_at=now + CHECK_AFTER if asked.rules.escalate_after is not None and asked.rules.escalate_to() else None,
        viewers_since=now - VIEWER_TTL)
    log.info("request %s submitted by %s%s", row.id, asked.requester_id, f" (extends {extends})" if extends else "",
             extra={"request_id": row.id})
    ctx.arm(row.id, row)  # the request's alarm, where the schedule says (a reminder, or the expiry)
    # The approval message, under the lease the request is born with (and the work read with the insert).
    ctx.timers.kick(row.id, slack_lease_until=slack_lease_until, work=held.work if held else None)
    return as_view(row)
