"""``StoreCore``: the store's machinery under its named methods (``Store``): transactions, the reads, new rows, and
the generic conditional writes (``_transition``, ``_record``, ``_set``) that only the store's own modules call.

SQLite allows one writer at a time. Writes queue in ``engine.Writers`` (this machine's writers, threads and
processes) and then take SQLite's lock with ``BEGIN IMMEDIATE``; reads open a plain deferred transaction, which WAL
lets run beside a writer. Every statement runs through the driver (``write()``, ``db.read()``: ``bot.store.sql``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine

from bot.domain import RequestView, State, check_transition
from bot.domain.audit import Action, AuditEntry
from bot.domain.proof import Mfa
from bot.store.engine import Writers
from bot.store.models import RequestRow, as_view, row_of
from bot.store.rows import (
    add_audit,
    claim,
    holds,
    insert_row,
    live_rows,
    load,
    new_request,
    pending_count,
    rewrite,
    unposted,
    update_row,
    viewers_of,
)
from bot.store.sql import SELECT_AUDIT, Cond, Db, Lease, Row, Tx, lease_free, select_rows, where
from bot.store.watchdog import Watchdog


class SlackWork(NamedTuple):
    """Slack work under the request's Slack lease: the row as it is, its audit rows not yet in the thread, and (when
    asked for, in the same read) who opened the App Home since then: whose Home to publish again once Slack is done."""

    row: RequestRow
    unposted: list[AuditEntry]
    viewers: list[str] | None = None


class SlackHeld(NamedTuple):
    """The Slack lease a change took in its own transaction, held until ``until``, and the Slack work as that
    transaction left it (read in it): the first pass's, without a read of its own (``Projection.sync_slack``;
    ``None``: read it afresh)."""

    until: datetime
    work: SlackWork | None


class Filed(NamedTuple):
    """A request just stored (``Store.insert``): its row as written, and the Slack lease it was born with (if asked)."""

    row: RequestRow
    slack: SlackHeld | None


def slack_work_of(tx: Tx, row: RequestRow | None, viewers_since: datetime | None) -> SlackWork | None:
    if row is None:
        return None
    return SlackWork(row, unposted(tx, row), None if viewers_since is None else viewers_of(tx, viewers_since))


def held_of(tx: Tx, row: RequestRow, until: datetime, viewers_since: datetime | None) -> SlackHeld:
    """The Slack lease ``row`` was just given (until ``until``), with its Slack work read in ``tx``."""
    return SlackHeld(until, slack_work_of(tx, row, viewers_since))


class StoreCore:
    def __init__(self, engine: Engine, on_outcome: Callable[[str], None] = lambda outcome: None, *,
                 outbox: bool = False, on_error: Callable[[], None] | None = None,
                 watchdog: Watchdog | None = None) -> None:
        self.engine = engine
        self.db = Db(engine, watchdog)  # PostgreSQL: a transaction left unanswered too long is cut (``watchdog``)
        self.db.outbox = outbox  # every audit row also to deliver to AUDIT_WEBHOOK_URL
        if on_error is not None:  # told of each failure of the database (the metrics)
            self.db.on_error = on_error
        # SQLite: writers queue here (see the module docstring).
        self._writers: AbstractContextManager[Any] = (
            Writers(engine.url.database) if engine.dialect.name == "sqlite" else nullcontext())
        #: Told each outcome a request reaches, after its commit: ``submitted``, ``refused``, or the state a
        #: transition entered (``bot.server.metrics`` counts them). Must not raise.
        self.on_outcome = on_outcome

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A transaction that may write, through the driver (``sql.Db``): the hot paths'."""
        try:
            self._writers.__enter__()
        except sqlite3.OperationalError:  # the queue not left in time (bot.store.patience): counted as a failure
            self.db.on_error()
            raise
        try:
            with self.db.write() as tx:
                yield tx
        finally:
            self._writers.__exit__(None, None, None)

    def ping(self) -> None:
        """The database answers; SQLite's can be written too (its write lock taken and given back, outside the
        writers' queue: a file someone else holds locked answers reads, not the bot's writes)."""
        with self.db.read() if self.db.postgres else self.db.write() as s:
            s.one("SELECT 1")

    def database_now(self) -> datetime | None:
        """The database server's own clock (PostgreSQL ``clock_timestamp()``); ``None`` for SQLite, which serves
        one process on this machine: that process's clock is the database's."""
        if not self.db.postgres:
            return None
        with self.db.read() as s:
            found = s.one("SELECT clock_timestamp()")
        assert found is not None
        moment: datetime = found[0]
        return moment.astimezone(UTC)

    # -- writes -----------------------------------------------------------------------------

    def insert(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
               reason: str, pending_until: datetime, now: datetime, target: dict[str, str | None] | None = None,
               remind_at: datetime | None = None, rule_name: str | None = None, approvals_needed: int = 1,
               extends_id: str | None = None, detail: str | None = None, slack_lease_until: datetime | None = None,
               approval_mfa: Mfa = Mfa.NONE, reveal_mfa: Mfa = Mfa.NONE, escalate_at: datetime | None = None,
               viewers_since: datetime | None = None,
               guard: Callable[[list[RequestView], int], None] = lambda live, pending: None) -> Filed:
        """Store a new pending request with its audit row (``detail`` on it); the row as written (its alarm is set from
        it, ``Context.arm``). In the same transaction, and serialised per requester, ``guard`` is shown the requester's
        open requests for the same target (a session and its extension at most) and how many requests they have pending;
        it raises to refuse, and then nothing is stored. So two commands sent at once cannot both slip under a cap.
        ``target``: the pre-flight's columns; ``rule_name``, ``approvals_needed`` and the second factors asked of the
        approvers (``approval_mfa``) and of the requester before Show token (``reveal_mfa``): what the policy decided;
        ``escalate_at``: when first to look at escalating it;
        ``extends_id``: the session an extension extends; ``slack_lease_until``: the row is born with the Slack lease,
        held until then by whoever posts its approval message (``Projection.sync_held``), without a write of its own to
        claim it, nor a read of the work: answered with the row (``Filed.slack``), read in this transaction (with who
        opened the Home since ``viewers_since``)."""
        with self.write() as s:
            if self.db.postgres:  # SQLite: BEGIN IMMEDIATE already serialises
                s.one("SELECT pg_advisory_xact_lock(hashtext(?))", ("impersonation-requester:" + requester_id,))
            live = live_rows(s, requester_id, login_id, tenant)
            guard([as_view(row) for row in live], pending_count(s, requester_id))
            values = new_request(requester_id=requester_id, login_id=login_id, tenant=tenant, duration=duration,
                                 reason=reason, state=State.PENDING, created_at=now, pending_until=pending_until,
                                 remind_at=remind_at, rule_name=rule_name, approvals_needed=approvals_needed,
                                 extends_id=extends_id, slack_lease_until=slack_lease_until,
                                 approval_mfa=approval_mfa.value if approval_mfa.needed else None,
                                 reveal_mfa=reveal_mfa.value if reveal_mfa.needed else None, escalate_at=escalate_at,
                                 **(target or {}))
            row = insert_row(s, values, actor=requester_id, action=Action.REQUESTED, detail=detail)
            held = None if slack_lease_until is None else held_of(s, row, slack_lease_until, viewers_since)
        self.on_outcome("submitted")
        return Filed(row, held)

    def insert_refused(self, *, requester_id: str, login_id: str, tenant: str | None, duration: timedelta,
                       reason: str, now: datetime, failure: str) -> RequestView:
        """Keep a request the rules refused before anyone saw it: ``failed`` at once, with its audit row
        (``refused``), nothing owed to Slack and nothing due."""
        with self.write() as s:
            values = new_request(requester_id=requester_id, login_id=login_id, tenant=tenant, duration=duration,
                                 reason=reason, state=State.FAILED, created_at=now, pending_until=now,
                                 failure=failure, slack_version=1, end_notified_at=now)
            row = insert_row(s, values, actor=requester_id, action=Action.REFUSED, detail=failure)
        self.on_outcome("refused")
        return as_view(row)

    def _transition(self, request_id: str, sources: Sequence[State], target: State, *, actor: str,
                   action: Action, now: datetime, detail: str | None = None,
                   where: Sequence[Cond] = (), requires: tuple[str, Sequence[Cond]] | None = None,
                   **values: Any) -> RequestView | None:
        """Move ``request_id`` from one of ``sources`` to ``target`` if, and only if, it is still
        there (and ``where`` holds). Writes the audit row in the same transaction. ``None`` = lost.
        ``requires``: another request and conditions on it, which must hold too; that row is locked first, so a
        change to it (a stop) and this move happen one after the other, never both unseen.
        A move the state machine forbids (``domain.TRANSITIONS``) raises ``InvalidTransition``."""
        moved = self._transition_row(request_id, sources, target, actor=actor, action=action, now=now, detail=detail,
                                    where=where, requires=requires, **values)
        return None if moved is None else as_view(moved[0])

    def _transition_row(self, request_id: str, sources: Sequence[State], target: State, *, actor: str,
                       action: Action, now: datetime, detail: str | None = None,
                       where: Sequence[Cond] = (), requires: tuple[str, Sequence[Cond]] | None = None,
                       slack_lease_until: datetime | None = None, viewers_since: datetime | None = None,
                       **values: Any) -> tuple[RequestRow, SlackHeld | None] | None:
        """``transition``, answering the whole row as written (for the workflows' own use: it holds the secrets). With
        ``slack_lease_until``, the Slack lease too (held until then), in the same transaction, unless another worker
        holds it; ``SlackHeld`` when it did (the Slack work read in the transaction, with who opened the Home since
        ``viewers_since``): whoever moved the request then brings Slack up to date at once, without a write of its
        own to claim the lease nor a read of the work (``Projection.sync_slack(…, work=…)``). ``None``: the lease is
        someone else's, and they catch up with this change."""
        for source in sources:
            check_transition(source, target)
        in_sources = Cond(f"state IN ({', '.join('?' * len(sources))})", *(x.value for x in sources))
        held = None
        with self.write() as s:
            if requires is not None and not holds(s, *requires):
                return None
            written = rewrite(s, request_id, [in_sources, *where],
                              {**values, "state": target.value}, bump=True)
            if written is None:
                return None
            before, after = written
            add_audit(s, request_id, at=now, actor=actor, action=action, from_state=before["state"],
                      to_state=target.value, detail=detail)
            row = row_of(after)
            if slack_lease_until is not None:
                leased = claim(s, request_id, [lease_free(Lease.SLACK, now)],
                               slack_lease_until=slack_lease_until)
                if leased is not None:
                    row, held = leased, held_of(s, leased, slack_lease_until, viewers_since)
        self.on_outcome(target.value)
        return row, held

    def _record(self, request_id: str, *, actor: str, action: Action, now: datetime, detail: str | None = None,
               where: Sequence[Cond] = (), requires: tuple[str, Sequence[Cond]] | None = None,
               values_of: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None, **values: Any) -> bool:
        """Change fields without a state change (e.g. a stop request), with an audit row; conditional (``requires``:
        on another request too, as in ``transition``). ``values_of``: the fields chosen from the row as read under
        its lock (``None``: nothing written, no audit row), instead of ``values``."""
        with self.write() as s:
            if requires is not None and not holds(s, *requires):
                return False
            written = rewrite(s, request_id, where, values_of or values, bump=True)
            if written is None:
                return False
            state = written[0]["state"]
            add_audit(s, request_id, at=now, actor=actor, action=action, from_state=state, to_state=state,
                      detail=detail)
            return True

    def _set(self, request_id: str, *, where: Sequence[Cond] = (), **values: Any) -> bool:
        """Bookkeeping that is not an event (message timestamps, leases). Conditional."""
        with self.write() as s:
            return update_row(s, request_id, *where, **values)

    def claim_work(self, request_id: str, state: State, now: datetime, lease: timedelta) -> RequestRow | None:
        """Take the work lease on a request in ``state``: the row as it is with the lease, or ``None`` if another
        worker holds it."""
        with self.write() as s:
            return claim(s, request_id, [Row.state == state.value, lease_free(Lease.WORK, now)],
                         lease_until=now + lease)

    def reschedule(self, request_id: str) -> None:
        """Write ``next_due_at`` afresh (rows carried over from before it existed, or a changed schedule)."""
        with self.write() as s:
            rewrite(s, request_id, (), {})

    # -- reads ------------------------------------------------------------------------------

    def get(self, request_id: str) -> RequestView | None:
        row = self.get_row(request_id)
        return as_view(row) if row else None

    def get_row(self, request_id: str) -> RequestRow | None:
        """The full row, secrets included: for the workflows' own use only."""
        with self.db.read() as s:
            return load(s, request_id)

    def work_leased_until(self, request_id: str) -> datetime | None:
        """Until when a worker holds the request's work lease (``claim_work``), if one was taken."""
        row = self.get_row(request_id)
        return None if row is None else row.lease_until

    def slack_work(self, request_id: str, *, viewers_since: datetime | None = None) -> SlackWork | None:
        """The row, and its audit rows not yet in the thread (and, with ``viewers_since``, who opened the Home since
        then). Progress is kept on the row (``thread_posted_id``): the audit table is append-only and never edited."""
        with self.db.read() as s:
            return slack_work_of(s, load(s, request_id), viewers_since)

    def list_requests(self, *, requester_id: str | None = None, states: Sequence[State] | None = None,
                      extends: str | None = None, limit: int = 20) -> list[RequestView]:
        conds: list[Cond] = []
        if requester_id is not None:
            conds.append(Row.requester_id == requester_id)
        if extends is not None:
            conds.append(Row.extends_id == extends)
        if states is not None:
            conds.append(Row.state.in_([x.value for x in states]))
        with self.db.read() as s:
            return [as_view(row) for row in s.rows(*select_rows(conds, order="created_at DESC", limit=limit))]

    def count_active(self) -> int:
        """Sessions active now (the metrics' gauge)."""
        with self.db.read() as s:
            found = s.one("SELECT count(*) FROM requests WHERE state = ?", (State.ACTIVE.value,))
            return int(found[0]) if found else 0

    def audit(self, *, since: datetime | None = None, request_id: str | None = None) -> list[AuditEntry]:
        """The audit rows, oldest first: since a moment, of one request, or all."""
        conds: list[Cond] = []
        if since is not None:
            conds.append(Cond("at >= ?", since))
        if request_id is not None:
            conds.append(Cond("request_id = ?", request_id))
        sql, params = where(conds)
        with self.db.read() as s:
            return s.entries(f"{SELECT_AUDIT}{' WHERE ' + sql if sql else ''} ORDER BY id", params)
