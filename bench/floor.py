"""What one ``/impersonate`` must cost at the least: the work the bot cannot leave out, each part measured alone.

An acknowledged request is stored (a durable insert), its target is looked up in Descope first (the pre-flight),
and its approval message is posted and recorded. Each part runs here through the bot's own code (its
``DescopeClient`` over httpx, its ``Store`` on SQLite, its ``SlackNotifier`` over slack_sdk) against the fakes,
one call at a time, and the CPU of the calling thread alone is counted (``time.thread_time``): nothing the fakes
spend, no waiting, no contention. Their sum is a floor under what the bot spends per command under load; with
what bare Bolt spends on an ack, and what the fakes and the load generator spend per command in the same run, it
bounds the throughput, hence the mean latency, that two cores allow at 16 commands in flight (``bound``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.stack import fakes
from bot.devtools.harness import APPROVAL_CHANNEL

#: The parts, in the order the bot does them (each name as the report shows it).
LOOK_UP = "pre-flight: Descope user look-up (`DescopeClient.load_user`, httpx)"
INSERT = "the insert with its audit row (`Store.insert`, SQLite, durable commit)"
POST = "the approval message (`SlackNotifier.post_request`: `chat.postMessage`, slack_sdk)"
RECORD = "recording it (`Store.slack_caught_up`)"
WARMUP = 50


def _per_call(part: Callable[[int], object], count: int) -> float:
    """CPU milliseconds of this thread per call of ``part(i)``, after ``WARMUP`` calls not counted."""
    for i in range(count, count + WARMUP):
        part(i)
    started = time.thread_time()
    for i in range(count):
        part(i)
    return (time.thread_time() - started) / count * 1e3


def measure(count: int) -> dict[str, float]:
    """Each part's CPU per call (ms), ``count`` calls each."""
    from bot.descope import DescopeClient
    from bot.slack.client import CountingWebClient
    from bot.slack.notifier import SlackNotifier
    from bot.store import Progress, RequestRow, Store, as_view, make_engine
    from bot.store.migrate import migrate

    parts: dict[str, float] = {}
    with fakes() as (slack, descope), tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        slack.add_channel(APPROVAL_CHANNEL)
        for i in range(count + WARMUP):
            descope.add_user(f"floor-{i}@bench.example")
        client = DescopeClient(descope.project_id, descope.management_key, descope.url)
        parts[LOOK_UP] = _per_call(lambda i: client.load_user(f"floor-{i}@bench.example"), count)
        client.close()

        engine = make_engine(f"sqlite:///{Path(tmp) / 'floor.db'}")
        migrate(engine)
        store = Store(engine)
        now = datetime.now(UTC)
        rows: list[RequestRow] = []
        parts[INSERT] = _per_call(lambda i: rows.append(store.insert(
            requester_id=f"UFLOOR{i % 8}", login_id=f"floor-{i}@bench.example", tenant=None,
            duration=timedelta(minutes=30), reason="benchmark: the floor", pending_until=now + timedelta(hours=1),
            now=now, slack_lease_until=now + timedelta(seconds=4), viewers_since=now - timedelta(days=7)).row), count)

        notifier = SlackNotifier(CountingWebClient(token="xoxb-test-token", base_url=slack.url, timeout=10),
                                 APPROVAL_CHANNEL)
        views = [as_view(row) for row in rows]
        parts[POST] = _per_call(lambda i: notifier.post_request(views[i]), count)
        parts[RECORD] = _per_call(lambda i: store.slack_caught_up(
            rows[i].id, rows[i].version, Progress(channel_id=APPROVAL_CHANNEL, channel_ts=f"1700000000.{i:06d}")),
            count)
        engine.dispose()
    return parts


def bound(floor_ms: float, ack_ms: float, others_ms: float, cores: int, concurrency: int = 16) -> tuple[float, float]:
    """The best a bot doing only the floor's work could do back to back on ``cores`` shared cores: (commands/s,
    mean latency in seconds). ``ack_ms``: bare Bolt's CPU per ack (the HTTP server and Bolt, which the bot needs
    too); ``others_ms``: the fakes' and the load generator's CPU per command in the bot's run. With ``concurrency``
    commands always in flight the mean latency is concurrency ÷ throughput (Little's law; the load generator's own
    time between two commands, well under a millisecond, aside)."""
    per_second = cores * 1e3 / (floor_ms + ack_ms + others_ms)
    return per_second, concurrency / per_second
