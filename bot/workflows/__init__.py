"""The use-cases, by concern. Each class gets the shared ``Context`` (settings, store, ports, clock, leases,
timers) and owns its transactions through ``Store``; none knows Slack's wire or words.

    ports       Protocols for Descope, Directory (who is who), Notifier (Slack messages), Timers (alarms),
                Observer (what the metrics count)
    context     Context: what every workflow shares
    leases      the leases this process holds, renewed by the scheduler's keeper
    requests    submit, withdraw/stop, listing          (started by people)
    approvals   decide: Approve/Deny clicks             (started by people)
    sessions    activate, expire, fail                  (Descope impersonate, under the work lease)
    revocation  stop and revoke at Descope, with retries (every path that ends a session)
    tokens      Show token: the live token to its requester, audited
    verification  a second factor proved at Descope before an Approve (or Show token) counts
    preflight   the target looked up in Descope before a request reaches the approvers
    home        the App Home: what each person sees there, republished after changes
    reminders   the approvers reminded of a pending request, the interval doubling
    escalations a pending request opened to more people: nobody answered in time, or no approver is active
    break_glass a session started at once with no approver, in an emergency; reviewed (or stopped and flagged) after
    audit_stream every audit row delivered to the security team's intake (AUDIT_WEBHOOK_URL), signed, at least once
    watch       Descope's audit searched for impersonations outside the bot (RECONCILE_INTERVAL)
    extensions  more time on a running session (a linked request), the expiry warning that offers it
    projection  Slack in step with the database         (under the Slack lease)
    ticker      tick (what schedule says is due), sweep, reschedule at start

``Workflows.build`` wires them together, given the ports, this process's leases and timers (the scheduler:
``bot.server.runtime`` builds it first, and starts it with their ``Ticker``) and an observer (the metrics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.store import Store, utcnow
from bot.store.errors import unreachable as database_unreachable
from bot.store.patience import from_now_on, waiting_at_most
from bot.store.sealing import Sealer
from bot.workflows.approvals import Approvals
from bot.workflows.audit_stream import AuditStream
from bot.workflows.break_glass import BreakGlass
from bot.workflows.context import Context
from bot.workflows.escalations import Escalations
from bot.workflows.extensions import Extensions
from bot.workflows.home import Homes
from bot.workflows.leases import LEASE, Leases
from bot.workflows.ports import Descope, Directory, Intake, Notifier, NoTimers, Observer, Timers, Unobserved
from bot.workflows.projection import Projection
from bot.workflows.reminders import Reminders
from bot.workflows.requests import Listing, Requests
from bot.workflows.revocation import Revocation
from bot.workflows.sessions import Sessions
from bot.workflows.ticker import Ticker
from bot.workflows.tokens import Tokens
from bot.workflows.verification import Verifications
from bot.workflows.watch import DescopeWatch

__all__ = ["Context", "Listing", "Workflows", "database_unreachable", "from_now_on", "waiting_at_most"]


@dataclass(frozen=True)
class Workflows:
    ctx: Context
    requests: Requests
    approvals: Approvals
    sessions: Sessions
    revocation: Revocation
    projection: Projection
    ticker: Ticker
    tokens: Tokens
    homes: Homes
    extensions: Extensions
    verifications: Verifications
    break_glass: BreakGlass
    watch: DescopeWatch
    stream: AuditStream | None = None  # with AUDIT_WEBHOOK_URL

    @classmethod
    def build(cls, settings: Settings, store: Store, descope: Descope, directory: Directory, notifier: Notifier,
              sealer: Sealer, *, clock: Callable[[], datetime] = utcnow, leases: Leases | None = None,
              timers: Timers | None = None, observer: Observer | None = None,
              intake: Intake | None = None) -> Workflows:
        """Every workflow, sharing one ``Context``. ``leases``: this process's (one is made on ``store`` and
        ``clock`` if not given); ``timers``: the scheduler (none: nothing is armed or kicked, as in tests that tick
        by hand); ``observer``: told what the metrics count; ``intake``: where the audit stream goes (none: no
        stream)."""
        ctx = Context(settings, store, descope, directory, notifier, sealer, clock,
                      leases or Leases(store, clock, LEASE), timers or NoTimers(), observer or Unobserved())
        revocation = Revocation(ctx)
        sessions = Sessions(ctx, revocation)
        homes = Homes(ctx)
        extensions = Extensions(ctx)
        projection = Projection(ctx, revocation, homes, extensions)
        approvals, tokens, requests = Approvals(ctx, sessions, projection), Tokens(ctx), Requests(ctx, extensions)
        break_glass = BreakGlass(ctx, requests)
        ticker = Ticker(ctx, sessions, revocation, projection, Reminders(ctx), extensions, Escalations(ctx),
                        break_glass)
        return cls(ctx, requests, approvals, sessions, revocation, projection, ticker, tokens, homes, extensions,
                   Verifications(ctx, approvals, tokens, break_glass), break_glass, DescopeWatch(ctx),
                   AuditStream(ctx, intake) if intake is not None else None)
