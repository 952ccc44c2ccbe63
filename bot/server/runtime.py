"""Wiring: build every part from ``Settings`` and run them together, and stop them cleanly.

``Runtime`` is what ``python -m bot`` starts and what the tests could start in-process: the store
(migrated), the Descope client, the Slack client, directory and notifier, the workflows, the
scheduler, and the Bolt app. With ``WEB_CONCURRENCY`` above one, each serving process runs one (``bot.server.workers``),
on the listening socket it inherited.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.descope import DescopeClient
from bot.server.clock import DatabaseClock
from bot.server.intake import HttpIntake
from bot.server.metrics import Metrics
from bot.server.scheduler import Duty, Scheduler
from bot.slack.app import build_app
from bot.slack.client import make_client
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.slack.reply import PutOff
from bot.store import Store, make_engine, utcnow
from bot.store.migrate import migrate
from bot.store.patience import BUSY_TIMEOUT_MS
from bot.store.sealing import Sealer
from bot.store.watchdog import Watchdog
from bot.transport.board import Board
from bot.workflows import Workflows
from bot.workflows.leases import Leases

log = logging.getLogger(__name__)

#: How often each serving process offers to deliver the audit stream and to search Descope's audit: the duties'
#: leases and turns (``bot_state``) keep it to one delivery at a time and one search per RECONCILE_INTERVAL.
STREAM_EVERY = timedelta(seconds=1)
WATCH_EVERY = timedelta(seconds=15)
#: How long the bot's own work (nobody waiting on it) waits for PostgreSQL to answer a transaction before its
#: connection is cut (``bot.store.watchdog``): as long as it waits for SQLite's lock.
HUNG_AFTER = BUSY_TIMEOUT_MS / 1000


class Runtime:
    def __init__(self, settings: Settings, shard: tuple[int, int] = (0, 1), *,
                 wall_clock: Callable[[], datetime] = utcnow, turns: Board | None = None) -> None:
        """``shard``: (this serving process's index, how many there are); ``wall_clock``: this process's own clock
        (the system's; a test may give another); ``turns``: the turns at Descope's and Slack's rate-limited paths this
        process shares with the bot's other serving processes (``bot.transport.gate``; by default its own)."""
        self.settings = settings
        watchdog = Watchdog(HUNG_AFTER)  # PostgreSQL: a server that takes what is sent and never answers
        self.engine = make_engine(settings.database_url, watchdog=watchdog)
        migrate(self.engine)
        # Every part gets what it needs when it is made (the metrics read the store only at a scrape).
        streaming = settings.audit_webhook_url is not None and settings.audit_webhook_secret is not None
        self.metrics = Metrics(lambda: self.store.count_active(), multiprocess=shard[1] > 1,
                               outbox=self._backlog if streaming else None, overdue=self._overdue)
        self.store = Store(self.engine, on_outcome=self.metrics.request_outcome, outbox=streaming,
                           on_error=self.metrics.database_error, watchdog=watchdog)
        self.descope = DescopeClient(settings.descope_project_id, settings.descope_management_key.get(),
                                     settings.descope_base_uri, on_call=self.metrics.descope_call,
                                     on_limited=self.metrics.descope_rate_limited, keep_alive=not settings.proxied,
                                     gate=turns)
        self.client = make_client(settings, on_call=self.metrics.slack_call, turns=turns or Board.local())
        key = settings.token_encryption_key or settings.descope_management_key
        self.clock = DatabaseClock(self.store, local=wall_clock)
        self.clock.measure()
        leases = Leases(self.store, self.clock)
        self.scheduler = Scheduler(self.clock, leases, settings.sweep_interval,
                                   retention=settings.retention is not None, shard=shard)
        self.intake = HttpIntake(settings.audit_webhook_url, settings.audit_webhook_secret.get()) \
            if settings.audit_webhook_url is not None and settings.audit_webhook_secret is not None else None
        self.workflows = Workflows.build(settings, self.store, self.descope, SlackDirectory(self.client),
                                         SlackNotifier(self.client, settings.approval_channel), Sealer(key.get()),
                                         clock=self.clock, leases=leases, timers=self.scheduler, observer=self.metrics,
                                         intake=self.intake)
        self.put_off = PutOff()  # replies Slack's rate limit put off (given up at shutdown)
        self.app = build_app(settings, self.workflows, self.client, self.put_off)
        self._stopped = threading.Event()

    def serve(self, listening: socket.socket | None = None, serving: Callable[[], None] = lambda: None) -> None:
        """Run until SIGTERM/SIGINT, then finish in-flight work and exit. ``listening``: a socket already bound
        to ``PORT`` (several serving processes share it), else one is opened here; ``serving`` is told when HTTP
        requests are about to be served."""
        self.scheduler.start(self.workflows.ticker, self._duties())
        if self.settings.socket_mode:
            self._serve_socket_mode()
        else:
            self._serve_http(listening, serving)

    def _duties(self) -> list[Duty]:
        """The audit stream (every ``STREAM_EVERY``) and the watch on Descope (each its own turn, across replicas)."""
        duties: list[Duty] = []
        if self.workflows.stream is not None:
            duties.append(Duty("audit_stream", self.workflows.stream.deliver, STREAM_EVERY))
        if self.settings.reconcile_interval:
            duties.append(Duty("descope_watch", self.workflows.watch.look, WATCH_EVERY))
        return duties

    def _backlog(self) -> tuple[int, float]:
        """The audit stream's backlog for the metrics: events waiting, and the oldest's wait in seconds."""
        count, oldest = self.store.outbox_backlog()
        return count, (max(0.0, (self.clock() - oldest).total_seconds()) if oldest else 0.0)

    def _overdue(self) -> tuple[int, float]:
        """The sessions active past their window's end, for the metrics: how many, and the longest's lateness."""
        now = self.clock()
        count, oldest = self.store.overdue_sessions(now)
        return count, (max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def _serve_http(self, listening: socket.socket | None, serving: Callable[[], None]) -> None:
        from waitress.server import create_server

        from bot.server.web import make_wsgi

        secret = self.settings.slack_signing_secret.get() if self.settings.slack_signing_secret else ""
        wsgi = make_wsgi(self.app, self.store, secret, self.metrics, self.scheduler.stopped)
        where: dict[str, Any] = {"sockets": [listening]} if listening else {"host": "0.0.0.0",
                                                                               "port": self.settings.port}
        server = create_server(wsgi, threads=16, connection_limit=1000, backlog=1024, channel_timeout=30,
                               ident="impersonation-bot", **where)

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: finishing in-flight work", signal.Signals(signum).name)
            signal.signal(signal.SIGTERM, self._ignore_repeat)  # a second signal must not cut the wind-down
            signal.signal(signal.SIGINT, self._ignore_repeat)
            raise SystemExit(0)  # waitress's run() catches it, then waits for in-flight requests

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        log.info("serving Slack on port %d at /slack/events (health: /healthz)", self.settings.port)
        serving()
        try:
            server.run()
        finally:
            self.shutdown()

    def _serve_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert self.settings.slack_app_token is not None
        handler = SocketModeHandler(self.app, self.settings.slack_app_token.get())

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: finishing in-flight work", signal.Signals(signum).name)
            self._stopped.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port)
            log.info("serving metrics on port %d at /metrics", self.settings.metrics_port)
        try:
            handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            self.shutdown()
            raise SystemExit(f"Slack refused the Socket Mode connection ({exc.response.get('error')}): "
                             "check SLACK_APP_TOKEN (an xapp- token with connections:write)") from None
        if handler.client.is_connected():
            log.info("connected to Slack in Socket Mode")
        else:
            log.warning("Socket Mode connection not established yet; the client keeps retrying")
        # Woken every second: a signal the kernel hands to another thread is run by this one only once it runs
        # Python again, which a wait with no end would never do (SIGTERM then went unanswered until SIGKILL).
        while not self._stopped.wait(1.0):
            pass
        handler.close()  # type: ignore[no-untyped-call]
        self.shutdown()

    @staticmethod
    def _ignore_repeat(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s again: still finishing in-flight work", signal.Signals(signum).name)

    def shutdown(self) -> None:
        """Finish in-flight work, then let go. Order matters: button clicks still running (an approval
        waiting on Descope) finish first and may hand work to the scheduler, whose running jobs then
        finish too; the lease keeper runs until the very end."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)
        self.put_off.give_up()  # each reply still waiting for Slack's time: said lost
        self.scheduler.shutdown(wait=True)
        self.descope.close()
        if self.intake is not None:
            self.intake.close()
        self.engine.dispose()
        log.info("stopped")
