"""``Store``: the only code that reads or writes the tables, through methods named by what they do. One state change
= one call = one transaction with its audit row.

Every state change is a conditional ``UPDATE … WHERE id = :id AND state IN (…)`` (``lifecycle``: ``approve``,
``deny``, ``start_session``, ``end_session`` …): whichever caller's update matches wins, the rest see ``None``,
whether the race is two clicks, two threads or two replicas. Work that calls another system runs under a lease
(``claim_work``, ``claim_slack``, ``slack.Lease``): one worker at a time, and a crashed worker's lease simply runs
out. What Slack has been told is recorded by ``slack``.

Every write keeps ``next_due_at`` (``bot.domain.schedule.next_due`` of the row as written) never later than the
truth, in the same transaction: a write that moves the schedule writes it exactly; taking or renewing a lease
(which only delays work) leaves it early, and the tick that finds nothing due writes it afresh. ``due`` finds what
the sweep must do by that one indexed column.

``purge`` is the retention (``RETENTION``): ended requests older than the cut-off go, with their audit rows.

The machinery under the named methods (transactions, reads, new rows, the generic conditional writes) is
``core.StoreCore``.
"""

from __future__ import annotations

from bot.store.break_glass import BreakGlassRecords
from bot.store.due import DueRecords
from bot.store.lifecycle import Lifecycle
from bot.store.proofs import Proofs
from bot.store.slack import SlackRecords
from bot.store.stream import StreamRecords


class Store(Lifecycle, SlackRecords, Proofs, BreakGlassRecords, StreamRecords, DueRecords):
    """The database, by what the bot does with it (``lifecycle``: a request's state changes; ``slack``: what Slack
    was told, the leases; ``proofs``: second factors that did not pass; ``break_glass``: sessions started without an
    approver, reviewed after; ``stream``: the audit stream's outbox and the watch on Descope; ``due``: the schedule's
    index, read; ``core``: the reads and new rows)."""
