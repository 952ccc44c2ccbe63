"""What every benchmark section stands on: the fakes (indexed for fast waiting), the bot and the bare
Bolt app as real processes, an HTTP client that keeps its connections, and the full user flow.

Times compared across processes are wall-clock (``time.time()``): the fakes stamp each call they
receive with it (``SlackCall.at``, ``DescopeCall.at``), and the driver stamps what it sends with it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.devtools import FakeDescope, FakeSlack, SlackCall
from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION
from bot.devtools.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
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
