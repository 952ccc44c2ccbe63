"""The pre-flight: before a request reaches the approvers, look the target up in Descope (``user.load``).

An unknown login ID, a disabled user, or a tenant the user is not in refuses the request at once (the
requester is told; nothing reaches the approvals channel; the audit keeps the refusal). What Descope knows
(the user's name and tenants) goes on the approval message, without hidden characters (a customer chooses their own
name: ``bot.domain.text``). The look-up gets one attempt and
``PREFLIGHT_TIMEOUT`` in all (a hard deadline: the call runs on a worker and is abandoned when late), so Slack's
3 seconds still hold when Descope is slow; if Descope cannot answer in that time the request goes ahead, marked
as not verified: an outage must not block an urgent request.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from bot.descope import DescopeError, DescopeRefused, User
from bot.domain import UnknownTarget
from bot.domain.rules import check_target
from bot.domain.target import UNVERIFIED, Target
from bot.domain.text import visible
from bot.workflows.ports import Descope

log = logging.getLogger("bot.workflows")

PREFLIGHT_TIMEOUT = 1.5  # seconds, of Slack's 3 for the whole answer


def target_of(user: User) -> Target:
    """What the approval message shows of the user, without hidden characters (a customer chooses their own name)."""
    tenants = tuple((visible(tenant), visible(name) if name else None) for tenant, name in user.tenants)
    return Target(verified=True, name=visible(user.name)[:256] if user.name else None, tenants=tenants)


def look_up(descope: Descope, login_id: str, tenant: str | None, workers: Executor) -> Target:
    """The target as Descope knows it, or ``UNVERIFIED``. Raises ``TargetRefused`` for a bad target."""
    try:
        user = workers.submit(descope.load_user, login_id, timeout=PREFLIGHT_TIMEOUT).result(PREFLIGHT_TIMEOUT)
    except TimeoutError:
        log.warning("pre-flight: Descope did not answer the user look-up within %.1fs; the request goes on "
                    "unverified", PREFLIGHT_TIMEOUT)
        return UNVERIFIED
    except DescopeRefused as exc:
        if exc.user_not_found:
            raise UnknownTarget(login_id, tenant) from None
        log.warning("pre-flight: Descope refused the user look-up (%s); the request goes on unverified", exc)
        return UNVERIFIED
    except DescopeError as exc:
        log.warning("pre-flight: Descope did not answer the user look-up (%s); the request goes on unverified", exc)
        return UNVERIFIED
    target = target_of(user)
    check_target(login_id, tenant, disabled=user.disabled, target=target)
    return target
