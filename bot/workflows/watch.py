"""The watch on Descope: every impersonation Descope's audit shows is accounted for, the bot's own and any other.

Every ``RECONCILE_INTERVAL`` (``0``: never) one replica (the ``descope_watch`` duty: its lease, and its next turn on
the row, so however many replicas there are, one search per interval) searches Descope's audit for successful logins
(``LoginSucceed``) from its checkpoint, less ``OVERLAP``, to now (the first time, ``RECONCILE_LOOKBACK`` back; never
more than Descope's 30 days). Each impersonation (method ``Impersonate``) is matched against the bot's own sessions by
the impersonated user's Descope ID (or login, for sessions from before the ID was kept) and the moment the session
started, within ``MATCH``. One that matches none is kept once (unique by user and moment: the overlap and a restart
say nothing twice), audited (so it streams too), counted, and told in the approvals channel ("Jane Doe
(jane@acme.com) was impersonated at 14:02 outside this bot"). A search that fails changes nothing: the next covers
the same ground. Descope's limit (about 10 searches a minute) is honoured by the client's retries on its 429.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.descope import DescopeError, DescopeUnavailable
from bot.descope.audit import FURTHEST, IMPERSONATE, LOGIN_SUCCEED, AuditRecord
from bot.domain.outcomes import Outside
from bot.store.stream import DESCOPE_WATCH
from bot.workflows.context import Context

log = logging.getLogger("bot.workflows")

OVERLAP = timedelta(minutes=2)  # Descope's audit may show a record a little after it happened
MATCH = timedelta(minutes=2)  # a session of the bot and Descope's record of it: this close in time
#: A request the bot approved this long before Descope's record, that never started, is the bot's all the same: its
#: activation (retried, up to ``LONGEST_CALL``) may have minted a token it could not record.
ACTIVATING = timedelta(minutes=10)
TURN = timedelta(minutes=5)  # the duty's lease: a search and its pages, retried on Descope's 429


class DescopeWatch:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def look(self) -> int:
        """One search, if it is this replica's turn; how many impersonations outside the bot it found."""
        ctx = self.ctx
        interval = ctx.settings.reconcile_interval
        if not interval:
            return 0
        now = ctx.clock()
        duty = ctx.store.claim_duty(DESCOPE_WATCH, now, now + TURN)
        if duty is None:
            return 0
        found = 0
        try:
            since = duty.checkpoint - OVERLAP if duty.checkpoint else now - ctx.settings.reconcile_lookback
            since = max(since, now - FURTHEST + timedelta(minutes=1))
            try:
                records = ctx.descope.search_audit([LOGIN_SUCCEED], since, now, methods=[IMPERSONATE])
            except DescopeError as exc:
                retry_after = exc.retry_after if isinstance(exc, DescopeUnavailable) else None
                wait = max(timedelta(seconds=retry_after or 0), min(interval, timedelta(minutes=1)))
                log.warning("Descope's audit could not be searched (%s): the next search, in %s, covers the same "
                            "ground", exc, wait)
                ctx.store.put_off(DESCOPE_WATCH, now + wait, failures=duty.failures + 1)
                return 0
            for record in records:
                try:
                    if record.impersonation and self._outside(record):
                        found += 1
                except Exception:  # one record the store cannot keep must not blind the watch
                    log.exception("an impersonation in Descope's audit could not be kept; the others are")
            if not ctx.store.renew_duty(duty, ctx.clock() + TURN):  # the turn was lost: the new holder goes on
                log.warning("the watch on Descope's turn was lost (it overran its lease): another replica goes on")
                return found
            ctx.store.set_checkpoint(DESCOPE_WATCH, now)
            ctx.store.put_off(DESCOPE_WATCH, now + interval)
            self._tell()
        finally:
            ctx.store.release_duty(duty)
        return found

    def _outside(self, record: AuditRecord) -> bool:
        """Keep ``record`` if no session of the bot accounts for it; True when it is new."""
        ctx = self.ctx
        login = record.login_ids[0] if record.login_ids else None
        if ctx.store.sessions_around(record.user_id, record.login_ids, record.occurred, MATCH, ACTIVATING) or \
                ctx.store.outside_known(record.user_id, record.occurred):
            return False
        outside = Outside(user_id=record.user_id, occurred=iso(record.occurred), login_id=login,
                          name=self._name(login), actor=record.actor_id)
        if ctx.store.record_outside(outside, record.occurred, ctx.clock()) is None:
            return False
        log.warning("an impersonation of Descope user %s at %s was not this bot's", record.user_id,
                    record.occurred.isoformat())
        ctx.observer.outside_impersonation()
        return True

    def _name(self, login: str | None) -> str | None:
        """The user's name, as Descope has it (best effort: the alert goes without it)."""
        if not login:
            return None
        try:
            return self.ctx.descope.load_user(login, timeout=3).name
        except DescopeError:
            return None

    def _tell(self) -> None:
        """The approvals channel told of each outside impersonation not told yet (recorded as each is told)."""
        ctx = self.ctx
        for row in ctx.store.outside_unposted():
            outside = Outside(user_id=row.user_id, occurred=iso(row.occurred_at), login_id=row.login_id, name=row.name,
                              actor=row.actor)
            try:
                ts = ctx.notifier.post_outside(outside)
            except Exception as exc:
                log.warning("the approvals channel could not be told of an impersonation outside the bot (%s); "
                            "the next search tries again", type(exc).__name__)
                return
            ctx.store.outside_posted(row.id, ts)


def iso(moment: datetime) -> str:
    """A moment as the events write it: ISO 8601 in UTC, with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
