"""End-to-end harness: the real bot as a child process, talking to fake Slack and Descope on loopback.

``BotProcess`` starts ``python -m bot`` with an environment pointing at the fakes, waits for
``/healthz``, and sends requests signed exactly as Slack signs them. ``Stack`` bundles the fakes and
the bot with the people the tests use.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.signing import block_action_body, sign, slash_command_body
from bot.slack.views.ids import SHOW_TOKEN

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "test-signing-secret"
APPROVAL_CHANNEL = "C0APPROVE"
REQUESTER = "UREQ1"
APPROVER = "UAPPR1"
GROUP_APPROVER = "UAPPR2"  # an approver through the user group below
APPROVER_GROUP = "SOPS1"
OUTSIDER = "UOUT1"
TARGET = "jane@acme.com"
TENANT = "acme-eu"
OTHER_TARGET = "bob@acme.com"
#: The PostgreSQL server whose throw-away databases the tests (and benchmarks) use.
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


#: Ports handed to bots, below Linux's ephemeral range (32768 and up: what the OS picks for the stand-ins and for
#: clients), a thousand for each parallel test worker (``PYTEST_XDIST_WORKER``): a port found free here is not taken by
#: another worker's bot before this one binds it.
PORTS_FROM, PORTS_PER_WORKER = 20000, 1000


def free_port() -> int:
    """A port nothing listens on, from this test worker's own range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = PORTS_FROM + PORTS_PER_WORKER * (int(worker) if worker.isdigit() else 0)
    for port in random.sample(range(low, low + PORTS_PER_WORKER), 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{low + PORTS_PER_WORKER - 1}")


@dataclass
class Reply:
    status: int
    body: str

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body)) if self.body else {}

    @property
    def text(self) -> str:
        return str(self.json.get("text", "")) if self.body.startswith("{") else self.body


@contextlib.contextmanager
def postgres_database(prefix: str = "bot_test") -> Iterator[str]:
    """A fresh database on the ``POSTGRES_ADMIN`` server, dropped (connections and all) afterwards."""
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def healthy(url: str) -> bool:
    """Whether ``GET <url>/healthz`` answers 200 now."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class BotProcess:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: What start() waits for instead of ``/healthz`` (which Socket Mode does not serve), e.g.
    #: ``lambda: socket_mode.current is not None``; checked every 50 ms while the bot runs.
    ready: Callable[[], bool] | None = None
    #: False: the bot gets only ``env`` and the few variables a process needs (the demo: none of the
    #: operator's own settings leak in).
    inherit: bool = True
    #: The command that starts it (``python -m bot``; a test may start the bot its own way, e.g. with another clock).
    argv: list[str] = field(default_factory=lambda: [sys.executable, "-m", "bot"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> BotProcess:
        base = os.environ if self.inherit else {k: v for k, v in os.environ.items()
                                                if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")}
        env = {**base, **self.env, "PORT": str(self.port)}
        for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
            if name not in self.env:
                env.pop(name, None)
        log = self.log_path.open("ab")
        logged_before = self.log_path.stat().st_size
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=log, stderr=log)

        def all_serving() -> bool:
            """Healthy, and with several serving processes (WEB_CONCURRENCY), every one of them started: a test
            then sees none of their start-up (its log lines, its calls to Slack) as something it caused."""
            if not healthy(self.url):
                return False
            started = self.log_path.read_bytes()[logged_before:]
            return b" serving processes" not in started or b"serving with " in started

        ready = self.ready or all_serving
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bot exited with {self.proc.returncode}:\n{self.log()}")
            if ready():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"bot did not become {'ready' if self.ready else 'healthy'}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self, timeout: float = 30.0) -> BotProcess:
        """Start the bot again after ``kill()``/``stop()``: same environment, database, port and log."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the bot is still running: kill() or stop() it first")
        return self.start(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, body: str, headers: dict[str, str] | None = None, path: str = "/slack/events") -> Reply:
        secret = self.env.get("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        req = urllib.request.Request(self.url + path, data=body.encode(), method="POST",
                                     headers=headers if headers is not None else sign(secret, body))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return Reply(r.status, r.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode())


@dataclass
class Stack:
    slack: FakeSlack
    descope: FakeDescope
    bot: BotProcess

    def command(self, text: str, user_id: str = REQUESTER, **kw: Any) -> Reply:
        return self.bot.post(slash_command_body(text, user_id=user_id,
                                                response_url=self.slack.response_url(f"cmd-{user_id}"), **kw))

    def submit(self, text: str = f"{TARGET} 30m --tenant {TENANT} checking invoice SUP-123",
               user_id: str = REQUESTER) -> tuple[str, str]:
        """Send a request; return (request ID, ts of its approval message) once it is posted."""
        before = {ts for (ch, ts) in list(self.slack.messages) if ch == APPROVAL_CHANNEL}
        reply = self.command(text, user_id)
        assert reply.status == 200, reply
        ts: str = self.slack.wait_for(
            lambda: next((t for (ch, t), m in list(self.slack.messages.items())
                          if ch == APPROVAL_CHANNEL and t not in before and not m.get("thread_ts")
                          and request_id_of(m) in reply.text), None),
            message=f"approval message for {reply.text!r}")
        return request_id_of(self.slack.messages[(APPROVAL_CHANNEL, ts)]), ts

    def click(self, action: str, request_id: str, user_id: str, message_ts: str,
              channel_id: str = APPROVAL_CHANNEL, key: str | None = None, **kw: Any) -> Reply:
        key = key or f"click-{user_id}-{request_id}-{time.monotonic_ns()}"
        body = block_action_body(action, request_id, user_id=user_id, channel_id=channel_id,
                                 message_ts=message_ts, response_url=self.slack.response_url(key), **kw)
        self.last_click_key = key
        return self.bot.post(body)

    def ephemeral_after_click(self, key: str | None = None) -> str:
        key = key or self.last_click_key
        call = self.slack.wait_for_call("response_url", where=lambda c: c.params.get("key") == key)
        return str(call.params.get("text", ""))

    def approval_text(self, ts: str) -> str:
        return self.slack.message_text(APPROVAL_CHANNEL, ts)

    def has_buttons(self, ts: str) -> bool:
        msg = self.slack.message(APPROVAL_CHANNEL, ts) or {}
        return any(b.get("type") == "actions" for b in msg.get("blocks") or [])

    def dms(self, user_id: str = REQUESTER) -> list[str]:
        return [self.slack.message_text(ch, ts) for (ch, ts) in list(self.slack.messages)
                if ch == "D" + user_id]

    def session_dm(self, request_id: str, user_id: str = REQUESTER) -> str | None:
        """The ts of the requester's DM with the Show token button for ``request_id``, once posted."""
        for (ch, ts), msg in list(self.slack.messages.items()):
            if ch == "D" + user_id and any(
                    e.get("action_id") == SHOW_TOKEN and e.get("value") == request_id
                    for b in msg.get("blocks") or [] if b.get("type") == "actions" for e in b.get("elements") or []):
                return ts
        return None

    def show_token(self, request_id: str, user_id: str = REQUESTER, *, owner: str = REQUESTER) -> str | None:
        """Click Show token on ``owner``'s session DM as ``user_id``: the token the modal showed, or ``None``
        (then ``ephemeral_after_click()`` says why)."""
        ts = self.slack.wait_for(lambda: self.session_dm(request_id, owner), message="the session DM")
        opened = len(self.slack.views)
        reply = self.click(SHOW_TOKEN, request_id, user_id, ts, channel_id="D" + owner)
        assert reply.status == 200, reply
        key = self.last_click_key
        self.slack.wait_for(lambda: len(self.slack.views) > opened or any(
            c.params.get("key") == key for c in self.slack.calls_of("response_url")), message="modal or answer")
        return modal_token(self.slack.views[-1]) if len(self.slack.views) > opened else None


def modal_token(view: dict[str, Any]) -> str:
    """The text of the preformatted block of a token modal."""
    for block in view.get("blocks") or []:
        if block.get("type") == "rich_text":
            for element in block.get("elements") or []:
                if element.get("type") == "rich_text_preformatted":
                    return "".join(str(e.get("text", "")) for e in element.get("elements") or [])
    raise AssertionError(f"no preformatted token in {view}")


def request_id_of(message: dict[str, Any]) -> str:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            return str(block["elements"][0]["value"])
        text = (block.get("text") or {}).get("text", "")
        if "`" in text:
            return str(text.split("`")[1])
    return ""


def bot_env(slack: FakeSlack, descope: FakeDescope, database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
        "APPROVERS": f"{APPROVER},{APPROVER_GROUP}",
        "REQUESTERS": f"{REQUESTER},{APPROVER},{GROUP_APPROVER}",
        "DESCOPE_PROJECT_ID": descope.project_id,
        "DESCOPE_MANAGEMENT_KEY": descope.management_key,
        "DESCOPE_BASE_URI": descope.url,
        "DATABASE_URL": database_url,
        "MIN_DURATION": "1s",
        "SWEEP_INTERVAL": "1s",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


def populate(slack: FakeSlack, descope: FakeDescope) -> None:
    for uid in (REQUESTER, APPROVER, GROUP_APPROVER, OUTSIDER):
        slack.add_user(uid, f"{uid.lower()}@corp.example")
    slack.add_group(APPROVER_GROUP, [GROUP_APPROVER])
    slack.add_channel(APPROVAL_CHANNEL)
    descope.add_user(TARGET, tenants=[TENANT], name="Jane Doe")
    descope.add_user(OTHER_TARGET, tenants=[TENANT])
    for uid in (REQUESTER, APPROVER, GROUP_APPROVER):
        descope.add_user(f"{uid.lower()}@corp.example", email=f"{uid.lower()}@corp.example", can_impersonate=True)
