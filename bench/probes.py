"""What the benchmark measures with: the database (its version, its commit count, the load seeded into it, the times
the bot stored), the bot's processes (memory, CPU), the fakes' records of the calls that matter (impersonate,
stop), and percentiles.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from bench.stack import REQUESTERS
from bot.devtools import FakeDescope, decode_claims
from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION
from bot.devtools.harness import APPROVAL_CHANNEL, APPROVER, POSTGRES_ADMIN

# -- databases ------------------------------------------------------------------------------------

def postgres_version() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
        finally:
            engine.dispose()
    except Exception:
        return None


def seed_long_sessions(database_url: str, count: int, management_key: str, window: timedelta) -> float:
    """Write ``count`` active, delivered, Slack-synced sessions that end ``window`` from now (a second apart, over ten
    minutes) through the store (the bot schedules them all when it starts). Returns the seconds it took."""
    now = datetime.now(UTC)
    # A made-up, unsigned stand-in ({"alg":"HS256"}.{"sub":"bench"}."signature"): these sessions are never stopped
    # during the benchmark, so no real token is needed, only something the bot can unseal.
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl"
    return seed_sessions_ending(database_url, management_key,
                                [(f"long-{i}@bench.example", token, now + window + timedelta(seconds=i % 600))
                                 for i in range(count)], now)


def seed_sessions_ending(database_url: str, management_key: str, sessions: Sequence[tuple[str, str, datetime]],
                         now: datetime | None = None, *, first: int = 0,
                         messages: Sequence[tuple[str, str]] | None = None,
                         token_expires_at: datetime | None = None) -> float:
    """Write running sessions, each (login ID, its token, when it ends), as a whole approved, delivered and posted flow
    leaves them, through the store (``bot.store.seeding``): the bot schedules them all when it starts. Returns the
    seconds it took. ``first``: the number of the first (their messages' ts differ from those seeded before).
    ``messages``: each session's approval message and DM, (ts, ts), posted to the fake Slack (``post_seeded``) for
    the bot to update when the session ends; without, made-up ts no Slack has (sessions that never end here).
    ``token_expires_at``: when the tokens die at Descope, if not at their sessions' ends."""
    from bot.store import Store, make_engine
    from bot.store.migrate import migrate
    from bot.store.sealing import Sealer
    from bot.store.seeding import SeededSession, seed_sessions

    started = time.perf_counter()
    engine = make_engine(database_url)
    try:
        migrate(engine)
        sealer = Sealer(management_key)
        sealed: dict[str, str] = {}
        seeded = [
            SeededSession(requester_id=(requester := REQUESTERS[i % len(REQUESTERS)]), login_id=login_id,
                          impersonator=f"{requester.lower()}@corp.example", approver=APPROVER, ends_at=ends_at,
                          token_sealed=sealed.get(token) or sealed.setdefault(token, sealer.seal(token)),
                          channel_id=APPROVAL_CHANNEL,
                          channel_ts=messages[i - first][0] if messages else f"1600000000.{i:06d}",
                          dm_channel="D" + requester,
                          dm_ts=messages[i - first][1] if messages else f"1600000001.{i:06d}",
                          token_expires_at=token_expires_at)
            for i, (login_id, token, ends_at) in enumerate(sessions, start=first)]
        seed_sessions(Store(engine), seeded, now or datetime.now(UTC))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def post_seeded(slack_url: str, count: int, first: int = 0) -> list[tuple[str, str]]:
    """For ``count`` seeded sessions (numbered from ``first``, as ``seed_sessions_ending`` gives them requesters), an
    approval message and a DM posted to the fake Slack: (their ts), for the bot to update as it would its own."""
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-test-token", base_url=slack_url)
    out = []
    for i in range(first, first + count):
        approval = client.chat_postMessage(channel=APPROVAL_CHANNEL, text="seeded session")
        dm = client.chat_postMessage(channel=REQUESTERS[i % len(REQUESTERS)], text="seeded session")
        out.append((str(approval["ts"]), str(dm["ts"])))
    return out


def read_times(database_url: str, request_ids: Sequence[str]) -> dict[str, float]:
    """When each request's session ends, as the bot stored it (epoch seconds; those with no end are left out)."""
    from bot.store import Store, make_engine

    engine = make_engine(database_url)
    try:
        store = Store(engine)
        return {rid: view.ends_at.timestamp() for rid in request_ids
                if (view := store.get(rid)) is not None and view.ends_at is not None}
    finally:
        engine.dispose()


def read_leases(database_url: str, request_ids: Sequence[str]) -> dict[str, float]:
    """Until when a worker holds each request's work lease (epoch seconds; those with none are left out)."""
    from bot.store import Store, make_engine

    engine = make_engine(database_url)
    try:
        store = Store(engine)
        return {rid: lease.timestamp() for rid in request_ids if (lease := store.work_leased_until(rid)) is not None}
    finally:
        engine.dispose()


# -- processes ------------------------------------------------------------------------------------

def family(pid: int) -> list[int]:
    """A process and its children: the bot's parent and its serving processes (``WEB_CONCURRENCY``)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{pid}/children") as f:
        return [pid, *(int(child) for child in f.read().split())]
    return [pid]


def proc_status(pid: int) -> dict[str, int]:
    """Summed over the process and its children (kB): VmRSS, VmHWM (each one's peak), the thread count, and Pss
    (proportional set size: each shared page counted once across them, the fair total of several processes)."""
    out: dict[str, int] = {}
    for member in family(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    out[key] = out.get(key, 0) + int(value.split()[0])
        with contextlib.suppress(OSError), open(f"/proc/{member}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "Pss":
                    out["Pss"] = out.get("Pss", 0) + int(value.split()[0])
    return out


def each_process(pid: int) -> dict[str, tuple[int, int]]:
    """The bot's processes one by one ("parent", "serving 1", …): each one's Pss (kB) and open file descriptors."""
    out: dict[str, tuple[int, int]] = {}
    for n, member in enumerate(family(pid)):
        pss = 0
        with contextlib.suppress(OSError), open(f"/proc/{member}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "Pss":
                    pss = int(value.split()[0])
        fds = 0
        with contextlib.suppress(OSError):
            fds = len(os.listdir(f"/proc/{member}/fd"))
        out["parent" if n == 0 else f"serving {n}"] = (pss, fds)
    return out


def postgres_commits(database_url: str) -> int | None:
    """Transactions committed in the database so far (PostgreSQL's ``pg_stat_database.xact_commit``: its own count,
    which does not drift with the machine's speed); ``None`` for SQLite."""
    if not database_url.startswith("postgresql"):
        return None
    name = database_url.rsplit("/", 1)[-1]
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(conn.execute(text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name"),
                                    {"name": name}).scalar_one())
    finally:
        admin.dispose()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process, its live children and those it has reaped have used so far."""
    ticks = 0
    for member in family(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if member == pid else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_calls(descope: FakeDescope) -> dict[str, float]:
    """Request ID -> time of the first stop-impersonation call for its token."""
    first: dict[str, float] = {}
    for call in descope.calls_to(STOP_IMPERSONATION):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            rid = str(decode_claims(str(call.body["jwt"]))["nsec"]["impersonationRequest"])
            first[rid] = min(call.at, first.get(rid, math.inf))
    return first


def impersonate_calls(descope: FakeDescope) -> dict[str, tuple[float, int]]:
    """Request ID -> (time of its impersonate call, refreshDuration)."""
    out: dict[str, tuple[float, int]] = {}
    for call in descope.calls_to(IMPERSONATE):
        claims = call.body.get("customClaims") or {}
        if "impersonationRequest" in claims:
            out[str(claims["impersonationRequest"])] = (call.at, int(call.body.get("refreshDuration") or 0))
    return out


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# -- statistics -----------------------------------------------------------------------------------

def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
