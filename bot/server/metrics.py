"""Prometheus metrics: what the bot counts, in a registry of its own (never the global default one, so tests and
several apps in one process do not clash), rendered for ``GET /metrics`` or served on ``METRICS_PORT``.

Counters and the histogram are **per replica** (sum them over replicas); the gauge is **database-wide**
(read from the database at scrape time, so every replica reports the same, right, number). A replica serving with
several processes (``WEB_CONCURRENCY``, ``bot.server.workers``) reports them summed over its processes, whichever one
answers the scrape: prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
``bot.server.workers``), whose files outlive a process that is replaced, so a count never goes back:

    impersonation_bot_requests_total{outcome}              per replica  requests reaching an outcome (OUTCOMES)
    impersonation_bot_sessions_active                      database     sessions in state ``active`` now
    impersonation_bot_sessions_overdue                     database     of them, those whose window has ended or
                                                                        whose stop was asked (the stop not done yet:
                                                                        due, or held back)
    impersonation_bot_sessions_overdue_seconds             database     how long ago the stop of the longest overdue
                                                                        one fell due (0: none)
    impersonation_bot_stop_lateness_seconds                per replica  stopped_at - ends_at, sessions ended by
                                                                        their window (histogram)
    impersonation_bot_descope_calls_total{call,result}     per replica  each DescopeClient call, once
    impersonation_bot_descope_rate_limited_total{call}     per replica  each 429 Descope answered (a call waits its
                                                                        turn and tries again: counted once per 429)
    impersonation_bot_slack_calls_total{method,result}     per replica  each Slack Web API call, once (retries
                                                                        included in it; ``ratelimited``: still 429,
                                                                        or not made while Slack's limit held it)
    impersonation_bot_approval_posts_refused_total{error}  per replica  the approvals channel refused an approval
                                                                        message (CHANNEL_ERRORS): no approver sees it
    impersonation_bot_audit_outbox_events                  database     audit events waiting for AUDIT_WEBHOOK_URL
    impersonation_bot_audit_outbox_oldest_seconds          database     how long the oldest of them has waited (0: none)
    impersonation_bot_audit_deliveries_total{outcome}      per replica  each POST to the intake (DELIVERY_OUTCOMES)
    impersonation_bot_audit_events_delivered_total         per replica  events the intake took
    impersonation_bot_outside_impersonations_total         per replica  impersonations Descope's audit shows outside
                                                                        the bot (each told once)
    impersonation_bot_database_errors_total                per replica  the database failed a transaction, or could not
                                                                        be reached

Labels are fixed enumerations and Slack method names, never a token, a user ID or a login ID: values outside
the enumerations are counted as ``other``. The code that counts knows only callables (the store's ``on_outcome``,
the ``DescopeClient`` and Slack client ``on_call`` hooks, the workflows' ``Observer``), not Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

#: A request's outcomes: ``submitted`` (stored pending), ``refused`` (the rules refused it before anyone saw it),
#: and each state a transition enters: approved, denied, expired, active, failed (Descope refused), stopped; and
#: ``break_glass`` (a session started at once, with no approver).
OUTCOMES = ("submitted", "refused", "approved", "denied", "expired", "active", "failed", "stopped", "break_glass")
#: Descope's calls: the management API's, and the step-up's (a code mailed, verified; the key set fetched).
DESCOPE_CALLS = ("impersonate", "stop", "logout", "refresh", "load_user", "otp_signin", "totp_verify", "email_verify",
                 "keys", "audit_search")
DESCOPE_RESULTS = ("ok", "refused", "unavailable", "error")
SLACK_RESULTS = ("ok", "error", "ratelimited")
#: A POST to the audit intake: taken (2xx), refused (4xx), failed (5xx or another answer), unreachable (no answer).
DELIVERY_OUTCOMES = ("delivered", "refused", "failed", "unreachable")
CHANNEL_ERRORS = ("not_in_channel", "channel_not_found", "is_archived", "restricted_action", "missing_scope")
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, float("inf"))
_SLACK_METHOD = re.compile(r"[a-z][a-zA-Z]*(\.[a-zA-Z]+)+")


def _known(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "other"


class ActiveSessions(Collector):
    """``impersonation_bot_sessions_active``: the count of active sessions, read from the database per scrape."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            count = self.count()
        except Exception:  # the database is down: the scrape still answers (its errors are counted), without it
            return
        gauge = GaugeMetricFamily("impersonation_bot_sessions_active",
                                  "Sessions active now (database-wide: the same on every replica)")
        gauge.add_metric([], float(count))
        yield gauge

    def describe(self) -> Iterator[GaugeMetricFamily]:  # no database read at registration
        yield GaugeMetricFamily("impersonation_bot_sessions_active", "Sessions active now")


class CountAndAge(Collector):
    """Two database-wide gauges read together at each scrape: how many of something there are, and how long the
    oldest has been so (0: none). The sessions overdue; the audit stream's backlog."""

    def __init__(self, read: Callable[[], tuple[int, float]], count: tuple[str, str], age: tuple[str, str]) -> None:
        self.read = read
        self.count = count  # (name, help)
        self.age = age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            count, age = self.read()
        except Exception:  # the database is down: the scrape still answers, without them
            return
        for (name, text), value in ((self.count, float(count)), (self.age, age)):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], value)
            yield gauge

    def describe(self) -> Iterator[GaugeMetricFamily]:  # no database read at registration
        for name, text in (self.count, self.age):
            yield GaugeMetricFamily(name, text)


OVERDUE = (("impersonation_bot_sessions_overdue",
            "Sessions still active though their stop fell due: their window ended, or a stop was asked "
            "(database-wide)"),
           ("impersonation_bot_sessions_overdue_seconds",
            "How long ago the stop of the longest overdue session fell due (database-wide; 0: none)"))
OUTBOX = (("impersonation_bot_audit_outbox_events", "Audit events waiting for AUDIT_WEBHOOK_URL (database-wide)"),
          ("impersonation_bot_audit_outbox_oldest_seconds",
           "How long the oldest waiting audit event has waited (database-wide; 0: none)"))


class Metrics:
    """This process's registry and the hooks that feed it."""

    def __init__(self, active_sessions: Callable[[], int] | None = None, *, multiprocess: bool = False,
                 outbox: Callable[[], tuple[int, float]] | None = None,
                 overdue: Callable[[], tuple[int, float]] | None = None) -> None:
        """``active_sessions``: the count of active sessions, read at each scrape (the gauge; none without it);
        ``multiprocess``: this replica serves with several processes (``bot.server.workers``), whose counts a scrape
        sums; ``outbox``: the audit stream's backlog (events, the oldest's wait in seconds), read at each scrape;
        ``overdue``: the sessions active past their window's end (how many, the longest's lateness in seconds)."""
        self.registry = CollectorRegistry()
        self.active_sessions = active_sessions
        self.outbox = outbox
        self.overdue = overdue
        self.multiprocess = multiprocess
        self.requests = Counter("impersonation_bot_requests", "Requests reaching an outcome (per replica)",
                                ["outcome"], registry=self.registry)
        self.stop_lateness = Histogram("impersonation_bot_stop_lateness_seconds",
                                       "How long after its window's end a session was stopped (per replica)",
                                       buckets=LATENESS_BUCKETS, registry=self.registry)
        self.descope_calls = Counter("impersonation_bot_descope_calls", "Descope API calls (per replica)",
                                     ["call", "result"], registry=self.registry)
        self.descope_limited = Counter("impersonation_bot_descope_rate_limited", "429s Descope answered (per "
                                       "replica)", ["call"], registry=self.registry)
        self.slack_calls = Counter("impersonation_bot_slack_calls", "Slack Web API calls (per replica)",
                                   ["method", "result"], registry=self.registry)
        self.posts_refused = Counter("impersonation_bot_approval_posts_refused",
                                     "Approval messages the approvals channel refused (per replica)", ["error"],
                                     registry=self.registry)
        self.deliveries = Counter("impersonation_bot_audit_deliveries", "POSTs to the audit intake (per replica)",
                                  ["outcome"], registry=self.registry)
        self.delivered = Counter("impersonation_bot_audit_events_delivered", "Audit events the intake took "
                                 "(per replica)", registry=self.registry)
        self.outside = Counter("impersonation_bot_outside_impersonations", "Impersonations outside the bot found "
                               "in Descope's audit (per replica)", registry=self.registry)
        self.database_errors = Counter("impersonation_bot_database_errors", "Transactions the database failed, or "
                                       "could not be reached for (per replica)", registry=self.registry)
        self._gauges(self.registry)

    # -- the hooks (plain callables for the code that counts)

    def request_outcome(self, outcome: str) -> None:
        self.requests.labels(outcome=_known(outcome, OUTCOMES)).inc()

    def stopped_late(self, seconds: float) -> None:
        self.stop_lateness.observe(max(seconds, 0.0))

    def descope_call(self, call: str, result: str) -> None:
        self.descope_calls.labels(call=_known(call, DESCOPE_CALLS), result=_known(result, DESCOPE_RESULTS)).inc()

    def descope_rate_limited(self, call: str) -> None:
        self.descope_limited.labels(call=_known(call, DESCOPE_CALLS)).inc()

    def approval_post_refused(self, error: str) -> None:
        self.posts_refused.labels(error=_known(error, CHANNEL_ERRORS)).inc()

    def slack_call(self, method: str, result: str) -> None:
        method = method if _SLACK_METHOD.fullmatch(method) and len(method) <= 64 else "other"
        self.slack_calls.labels(method=method, result=_known(result, SLACK_RESULTS)).inc()

    def audit_delivery(self, outcome: str, events: int = 0) -> None:
        self.deliveries.labels(outcome=_known(outcome, DELIVERY_OUTCOMES)).inc()
        if events:
            self.delivered.inc(events)

    def outside_impersonation(self) -> None:
        self.outside.inc()

    def database_error(self) -> None:
        self.database_errors.inc()

    # -- exposition

    def _gauges(self, registry: CollectorRegistry) -> None:
        """The database-wide gauges, read at each scrape."""
        if self.active_sessions is not None:
            registry.register(ActiveSessions(self.active_sessions))
        if self.overdue is not None:
            registry.register(CountAndAge(self.overdue, *OVERDUE))
        if self.outbox is not None:
            registry.register(CountAndAge(self.outbox, *OUTBOX))

    def render(self) -> tuple[bytes, str]:
        """The scrape body and its content type (several processes: their counts summed, read from their files)."""
        registry = self.registry
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            self._gauges(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def serve(self, port: int) -> None:
        """Socket Mode: serve ``/metrics`` on its own port, in a daemon thread."""
        from prometheus_client import start_http_server

        start_http_server(port, registry=self.registry)
