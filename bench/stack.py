"""What every benchmark section stands on: the fakes (indexed for fast waiting), the bot and the bare
Bolt app as real processes, an HTTP client that keeps its connections, and the full user flow.

Times compared across processes are wall-clock (``time.time()``): the fakes stamp each call they
receive with it (``SlackCall.at``, ``DescopeCall.at``), and the driver stamps what it sends with it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, insert, text

from bot.devtools import FakeDescope, FakeSlack, SlackCall, decode_claims
from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    POSTGRES_ADMIN,
    ROOT,
    BotProcess,
    bot_env,
    free_port,
    healthy,
    populate,
    request_id_of,
)
from bot.devtools.signing import block_action_body, sign, slash_command_body

#: Requesters used by the benchmark (several, so MAX_PENDING_PER_REQUESTER is never the limit).
REQUESTERS = tuple(f"UBENCH{i:02d}" for i in range(8))
BARE_SECRET = "bare-bolt-signing-secret"
DESCOPE_LATENCY = 0.050  # injected on the impersonate and stop paths; subtracted where it matters


class NoDelayConnection(http.client.HTTPConnection):
    """``http.client`` sends headers and body in two writes too: same stall on a kept-alive connection."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_DM_REQUEST = re.compile(r"approved request `([A-Z0-9]+)`")
_DM_TOKEN = "Impersonation token"  # in the token DM's blocks once the token is there (TOKEN_DELIVERY=dm)
_DM_READY = "Show token"  # the session DM's button (TOKEN_DELIVERY=reveal, the default)
_SUBMITTED = re.compile(r"Request `([A-Z0-9]+)`")


# -- the fakes ------------------------------------------------------------------------------------

class BenchSlack(FakeSlack):
    """``FakeSlack`` plus an index of what the benchmark waits for, so that waiting for one request's
    approval message or token DM costs a dictionary look-up, not a scan of every call so far."""

    def __init__(self) -> None:
        super().__init__()
        self.approval_ts: dict[str, str] = {}  # request ID -> ts of its approval message
        self.token_dm_at: dict[str, float] = {}  # request ID -> when the token DM arrived
        self._events: dict[tuple[str, str], threading.Event] = {}

    def _event(self, kind: str, request_id: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault((kind, request_id), threading.Event())

    def _answer(self, call: SlackCall) -> dict[str, Any]:
        answer = super()._answer(call)
        if not answer.get("ok"):
            return answer
        channel = str(answer.get("channel", ""))
        if call.method == "chat.postMessage" and channel == APPROVAL_CHANNEL and not call.params.get("thread_ts"):
            request_id = request_id_of({"blocks": call.params.get("blocks") or []})
            with self._lock:
                self.approval_ts[request_id] = str(answer["ts"])
            self._event("approval", request_id).set()
        elif channel.startswith("D"):  # the session DM (reveal), or an edit putting the token in (dm)
            blocks = json.dumps(call.params.get("blocks") or [])
            found = _DM_REQUEST.search(blocks)
            if found and (_DM_TOKEN in blocks or _DM_READY in blocks):
                with self._lock:
                    self.token_dm_at[found.group(1)] = call.at
                self._event("dm", found.group(1)).set()
        return answer

    def wait_approval(self, request_id: str, timeout: float = 60.0) -> str:
        if not self._event("approval", request_id).wait(timeout):
            raise TimeoutError(f"no approval message for {request_id} within {timeout}s")
        return self.approval_ts[request_id]

    def wait_dm(self, request_id: str, timeout: float = 60.0) -> float:
        if not self._event("dm", request_id).wait(timeout):
            raise TimeoutError(f"no token DM for {request_id} within {timeout}s")
        return self.token_dm_at[request_id]

    def approvals_posted(self) -> int:
        with self._lock:
            return len(self.approval_ts)


@contextlib.contextmanager
def fakes() -> Iterator[tuple[BenchSlack, FakeDescope]]:
    with BenchSlack() as slack, FakeDescope() as descope:
        populate(slack, descope)
        for uid in REQUESTERS:
            email = f"{uid.lower()}@corp.example"
            slack.add_user(uid, email)
            descope.add_user(email, email=email, can_impersonate=True)
        descope.set_latency(IMPERSONATE, DESCOPE_LATENCY)
        descope.set_latency(STOP_IMPERSONATION, DESCOPE_LATENCY)
        yield slack, descope


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
    """Insert ``count`` active, delivered, Slack-synced sessions that end ``window`` from now, straight
    into the database through the bot's own models (the bot schedules them all when it starts).
    Returns the seconds it took."""
    from bot.store import AuditRow, RequestRow, Store, make_engine, new_request_id
    from bot.store.migrate import migrate
    from bot.store.sealing import Sealer

    started = time.perf_counter()
    engine = make_engine(database_url)
    try:
        migrate(engine)
        store = Store(engine)
        # A made-up, unsigned stand-in ({"alg":"HS256"}.{"sub":"bench"}."signature"): these sessions are never
        # stopped during the benchmark, so no real token is needed, only something the bot can unseal.
        sealed = Sealer(management_key).seal("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl")
        now = datetime.now(UTC)
        request_columns = set(RequestRow.__table__.columns.keys())
        audit_columns = set(AuditRow.__table__.columns.keys())
        rows: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for i in range(count):
            rid = new_request_id()
            requester = REQUESTERS[i % len(REQUESTERS)]
            ends = now + window + timedelta(seconds=i % 600)
            row = dict(
                id=rid, requester_id=requester, login_id=f"long-{i}@bench.example", tenant=None,
                duration_s=int((ends - now).total_seconds()), reason="benchmark: long session", state="active",
                version=3, created_at=now, pending_until=now + timedelta(minutes=30), decided_by=APPROVER,
                decided_at=now, impersonator=f"{requester.lower()}@corp.example", started_at=now, ends_at=ends,
                token_expires_at=ends, token_sealed=sealed, stop_attempts=0, channel_id=APPROVAL_CHANNEL,
                channel_ts=f"1600000000.{i:06d}", dm_channel="D" + requester, dm_ts=f"1600000001.{i:06d}",
                delivered_at=now, slack_version=3, thread_posted_id=0, next_due_at=ends,
            )
            rows.append({k: v for k, v in row.items() if k in request_columns})
            for action, to_state in (("requested", "pending"), ("approved", "approved"), ("activated", "active")):
                audit = dict(request_id=rid, at=now, actor=APPROVER, action=action, from_state=None,
                             to_state=to_state, detail=None, posted=True)
                audits.append({k: v for k, v in audit.items() if k in audit_columns})
        with store.tx() as s:
            for chunk in range(0, len(rows), 2000):
                s.execute(insert(RequestRow), rows[chunk:chunk + 2000])
            for chunk in range(0, len(audits), 2000):
                s.execute(insert(AuditRow), audits[chunk:chunk + 2000])
            if "thread_posted_id" in request_columns:  # the thread already shows every audit row
                s.execute(text("UPDATE requests SET thread_posted_id = "
                               "(SELECT max(id) FROM audit WHERE audit.request_id = requests.id) "
                               "WHERE state = 'active' AND thread_posted_id = 0"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def read_times(database_url: str, request_ids: Sequence[str], column: str = "ends_at") -> dict[str, float]:
    """A time column of each request as the bot stored it (epoch seconds; requests where it is null are
    left out): ``ends_at``, or ``lease_until`` (the work lease a worker holds on the row)."""
    from sqlalchemy import select

    from bot.store import RequestRow, Store, make_engine

    engine = make_engine(database_url)
    try:
        with Store(engine).tx() as s:
            found: dict[str, float] = {}
            ids = list(request_ids)
            for chunk in range(0, len(ids), 500):
                for rid, at in s.execute(select(RequestRow.id, getattr(RequestRow, column))
                                         .where(RequestRow.id.in_(ids[chunk:chunk + 500]))):
                    if at is not None:
                        found[rid] = at.timestamp()
            return found
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


def start_bot(slack: FakeSlack, descope: FakeDescope, database_url: str, log_path: Path,
              **overrides: str) -> BotProcess:
    env = bot_env(slack, descope, database_url, REQUESTERS=",".join(REQUESTERS), MAX_PENDING_PER_REQUESTER="1000",
                  SWEEP_INTERVAL="5s", LOG_LEVEL="INFO")
    env.update(overrides)
    return BotProcess(env, log_path).start(timeout=120)


@dataclass
class BareBolt:
    """The bare Bolt app (bench/bare_bolt.py) as a child process."""

    slack_url: str
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> BareBolt:
        env = {**os.environ, "PORT": str(self.port), "SLACK_API_URL": self.slack_url,
               "SLACK_SIGNING_SECRET": BARE_SECRET, "SLACK_BOT_TOKEN": "xoxb-test-token"}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bare_bolt"], cwd=ROOT, env=env,
                                     stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bare Bolt app exited with {self.proc.returncode}: see {self.log_path}")
            if healthy(self.url):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"bare Bolt app did not come up: see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_load(url: str, secret: str, *, count: int, concurrency: int, prefix: str, warmup: int = 5,
             interval: float = 0.0) -> dict[str, Any]:
    """Run bench/load.py in its own process and return what it measured."""
    spec = {"url": url + "/slack/events", "secret": secret, "count": count, "concurrency": concurrency,
            "prefix": prefix, "requesters": list(REQUESTERS), "warmup": warmup, "interval": interval}
    out = subprocess.run([sys.executable, "-m", "bench.load", json.dumps(spec)], cwd=ROOT, check=True,
                         capture_output=True, timeout=600)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- talking to the bot ----------------------------------------------------------------------------

class Client:
    """Signed POSTs to one server over keep-alive connections, one per thread."""

    def __init__(self, base_url: str, secret: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.secret = secret
        self._local = threading.local()

    def post(self, body: str) -> tuple[int, str]:
        for attempt in range(2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = NoDelayConnection(self.host, self.port, timeout=30)
            try:
                conn.request("POST", "/slack/events", body=body.encode(), headers=sign(self.secret, body))
                resp = conn.getresponse()
                return resp.status, resp.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


@dataclass
class Flow:
    request_id: str
    submitted_at: float  # before the slash command was sent
    click_at: float  # before the approve click was sent
    dm_at: float  # when the token DM reached the fake Slack

    @property
    def approve_to_dm(self) -> float:
        return self.dm_at - self.click_at


class Driver:
    """The user side of the full flow: ``/impersonate`` → approval message → Approve → token DM."""

    def __init__(self, slack: BenchSlack, descope: FakeDescope, bot: BotProcess) -> None:
        self.slack = slack
        self.descope = descope
        self.client = Client(bot.url, bot.env["SLACK_SIGNING_SECRET"])

    def submit(self, login_id: str, duration_s: int, requester: str) -> str:
        body = slash_command_body(f"{login_id} {duration_s}s benchmark flow", user_id=requester,
                                  response_url=self.slack.response_url(f"cmd-{login_id}"))
        status, reply = self.client.post(body)
        found = _SUBMITTED.search(reply)
        if status != 200 or not found:
            raise RuntimeError(f"submit of {login_id} refused: {status} {reply[:300]}")
        return found.group(1)

    def approve(self, request_id: str, think: float = 0.0) -> float:
        ts = self.slack.wait_approval(request_id)
        if think:
            time.sleep(think)  # a person reads the message before clicking
        body = block_action_body("approve", request_id, user_id=APPROVER, channel_id=APPROVAL_CHANNEL,
                                 message_ts=ts, response_url=self.slack.response_url(f"click-{request_id}"))
        click_at = time.time()
        status, reply = self.client.post(body)
        if status != 200:
            raise RuntimeError(f"approve of {request_id} answered {status} {reply[:300]}")
        return click_at

    def flow(self, login_id: str, duration_s: int, requester: str, think: float = 0.0) -> Flow:
        self.descope.add_user(login_id)
        submitted_at = time.time()
        request_id = self.submit(login_id, duration_s, requester)
        click_at = self.approve(request_id, think)
        return Flow(request_id, submitted_at, click_at, self.slack.wait_dm(request_id))

    def flows(self, count: int, concurrency: int, plan: Callable[[int], tuple[str, int]],
              think: float = 0.0) -> tuple[list[Flow], float]:
        """``count`` full flows, ``concurrency`` at a time; ``plan(i)`` gives flow i's login ID and window
        (called when flow i starts); ``think`` is the pause between the approval message and the click.
        Returns the flows and the seconds the batch took."""

        def one(i: int) -> Flow:
            login_id, duration_s = plan(i)
            return self.flow(login_id, duration_s, REQUESTERS[i % len(REQUESTERS)], think)

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="flow") as pool:
            done = list(pool.map(one, range(count)))
        return done, time.perf_counter() - started


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
