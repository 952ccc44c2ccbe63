"""A database outage (issue 28, part 3): PostgreSQL stopped under the running bot, then started again (and SQLite's
file locked by another program, then let go). Meanwhile a
command gets an answer within Slack's 3 seconds saying the bot cannot reach its database (nothing stored), a click
the same, ``/healthz`` answers 503 and ``/metrics`` counts the errors; the process stays up. Once the server is back
the bot carries on without a restart, and a session whose window ended during the outage is stopped within
``SWEEP_INTERVAL`` plus a few seconds.

A PostgreSQL server of the test's own (``initdb`` in a temporary folder, its own port), so stopping it touches no
other test; always started again (and removed) whatever happens. Skipped where the suite cannot run one (no server
binaries, or no unprivileged user to run them as)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.devtools import FakeDescope, FakeSlack
from bot.devtools.descope_api import STOP_IMPERSONATION
from bot.devtools.harness import APPROVER, BotProcess, Stack, bot_env, free_port, populate
from bot.store import Store, make_engine

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@dataclass
class Server:
    """A PostgreSQL server of this test's own."""

    folder: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, f"{BINARIES[-1]}/pg_ctl", "-D", str(self.folder / "data"), *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self.ctl("-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "-l",
                 str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "-w", "stop")

    def postmaster(self) -> int:
        """The server's first process (its PID file's first line), which starts every other."""
        return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

    def children(self, postmaster: int) -> list[int]:
        """Every process the postmaster started."""
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.split("/")[2]))
        return children

    @contextmanager
    def hung(self) -> Iterator[None]:
        """Every process of the server stopped (SIGSTOP) inside: connections stay open and the kernel still takes
        what is sent, but nothing answers, as with a server wedged or cut off behind a proxy. Always let go."""
        postmaster = self.postmaster()
        os.kill(postmaster, signal.SIGSTOP)  # first: it starts no process from now on
        frozen = [postmaster, *self.children(postmaster)]
        for pid in frozen[1:]:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in frozen:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def running(self) -> bool:
        return subprocess.run([*self.run_as, f"{BINARIES[-1]}/pg_ctl", "-D", str(self.folder / "data"), "status"],
                              capture_output=True, timeout=30).returncode == 0


def _runner() -> list[str] | None:
    """How to run the server's binaries: as ourselves, unless we are root (PostgreSQL refuses root), then as the
    ``postgres`` user; ``None`` when neither can."""
    if not BINARIES:
        return None
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") and subprocess.run(["id", "postgres"], capture_output=True).returncode == 0:
        return ["runuser", "-u", "postgres", "--"]
    return None


@pytest.fixture
def server() -> Iterator[Server]:
    run_as = _runner()
    if run_as is None:
        pytest.skip("no PostgreSQL server binaries, or no unprivileged user to run them as")
    folder = Path(tempfile.mkdtemp(prefix="bot-outage-"))
    try:
        if run_as:
            shutil.chown(folder, "postgres")
        subprocess.run([*run_as, f"{BINARIES[-1]}/initdb", "-D", str(folder / "data"), "-A", "trust", "-U",
                        "postgres"], check=True, capture_output=True, timeout=120)
        found = Server(folder, free_port(), run_as)
        found.start()
        try:
            yield found
        finally:
            if found.running():
                found.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def metric(s: Stack, name: str) -> float:
    with urllib.request.urlopen(s.bot.url + "/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


@dataclass
class Running:
    """The bot with a session whose window ends in 4 s (its approval message ``ts``) and a request waiting for an
    approver (``waiting``, its approval message ``waiting_ts``)."""

    s: Stack
    bot: BotProcess
    ts: str
    waiting: str
    waiting_ts: str


@contextmanager
def _running(database_url: str, tmp_path: Path) -> Iterator[Running]:
    """The bot on ``database_url`` (a sweep every second), a session and a waiting request whose approval message is
    recorded; stopped afterwards."""
    with FakeSlack() as slack, FakeDescope() as descope:
        populate(slack, descope)
        bot = BotProcess(bot_env(slack, descope, database_url, SWEEP_INTERVAL="1s", RECONCILE_INTERVAL="0"),
                         tmp_path / "bot.log")
        bot.start()
        s = Stack(slack, descope, bot)
        try:
            request_id, ts = s.submit("jane@acme.com 4s --tenant acme-eu checking invoice SUP-123")
            assert s.click("approval.approve", request_id, APPROVER, ts).status == 200
            s.slack.wait_for(lambda: s.session_dm(request_id), message="the session DM")
            waiting, waiting_ts = s.submit("bob@acme.com 30m --tenant acme-eu a second look")
            store = Store(make_engine(database_url))  # its approval message recorded, not only posted: no work
            s.slack.wait_for(lambda: (found := store.get(waiting)) is not None and found.channel_ts == waiting_ts,
                             message="the approval message recorded")  # on a connection when the outage begins
            store.engine.dispose()
            yield Running(s, bot, ts, waiting, waiting_ts)
        finally:
            bot.stop()


def test_a_database_outage_is_answered_survived_and_caught_up(server: Server, tmp_path: Path) -> None:
    with _running(server.url, tmp_path) as r:
        assert status(r.bot.url + "/healthz") == 200
        server.stop()  # the session's window ends while the database is down
        assert "nothing stored" in _answered_in_time_that_it_cannot(r)
        assert metric(r.s, "impersonation_bot_database_errors_total") > 0
        time.sleep(5)  # past the window: its stop falls due during the outage
        assert r.bot.proc is not None and r.bot.proc.poll() is None  # the process stays up
        assert not r.s.descope.calls_to(STOP_IMPERSONATION)

        server.start()
        _stop_goes_out_within_a_sweep(r, time.monotonic(), "the stop that fell due during the outage")
        r.s.slack.wait_for(lambda: status(r.bot.url + "/healthz") == 200, message="healthy again")
        _carries_on(r)  # no restart


def test_a_hung_database_is_answered_in_time_and_survived(server: Server, tmp_path: Path) -> None:
    """PostgreSQL that takes what is sent and never answers (its processes stopped: a wedged server, a proxy or a
    network that holds the connection open): a command and a click are answered in time all the same, ``/healthz``
    answers 503, nothing waits on it for ever; once it answers again the stop that fell due meanwhile goes out."""
    with _running(server.url, tmp_path) as r:
        with server.hung():  # the session's window ends while the database hangs
            _answered_in_time_that_it_cannot(r)
            time.sleep(5)  # past the window: its stop falls due while it hangs
            assert r.bot.proc is not None and r.bot.proc.poll() is None
            assert not r.s.descope.calls_to(STOP_IMPERSONATION)
            _answered_in_time_that_it_cannot(r)  # still, with every connection tried
        _stop_goes_out_within_a_sweep(r, time.monotonic(), "the stop that fell due while the database hung")
        r.s.slack.wait_for(lambda: status(r.bot.url + "/healthz") == 200, message="healthy again")
        _carries_on(r)
    said = r.bot.log_path.read_text()
    assert "Traceback" not in said, said[said.find("Traceback") - 300:][:4000]
    assert "the database did not answer in time" in said
    assert "maximum number of running instances" not in said  # a sweep that waited is not a line a second


def test_a_sqlite_database_locked_by_another_program_is_answered_in_time_and_survived(tmp_path: Path) -> None:
    """SQLite's file held locked by another program (a ``sqlite3`` shell left in a transaction, a backup): a command
    and a click are answered within Slack's 3 seconds that the database cannot be reached, ``/healthz`` answers
    503; once the lock is let go the stop that fell due meanwhile goes out, and the bot carries on."""
    database = tmp_path / "bot.db"
    with _running(f"sqlite:///{database}", tmp_path) as r:
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        try:
            holder.execute("BEGIN IMMEDIATE")  # the session's window ends while the file is locked
            _answered_in_time_that_it_cannot(r)
            time.sleep(5)  # past the window: its stop falls due while locked
            assert not r.s.descope.calls_to(STOP_IMPERSONATION)

            holder.rollback()
            _stop_goes_out_within_a_sweep(r, time.monotonic(), "the stop that fell due while the file was locked")
            assert status(r.bot.url + "/healthz") == 200
            _carries_on(r)
        finally:
            holder.close()


def _stop_goes_out_within_a_sweep(r: Running, since: float, what: str) -> None:
    """The stop that fell due while the database could not be reached goes out within ``SWEEP_INTERVAL`` (1 s)
    plus a few seconds of ``since`` (when it could be again)."""
    r.s.slack.wait_for(lambda: r.s.descope.calls_to(STOP_IMPERSONATION), timeout=15, message=what)
    assert time.monotonic() - since < 1 + 5


def _carries_on(r: Running) -> None:
    """The channel hears the session ended, and a new command is taken: the bot carries on without a restart."""
    r.s.slack.wait_for(lambda: "Session ended" in r.s.approval_text(r.ts), message="the session ended")
    again = r.s.command("jane@acme.com 30m --tenant acme-eu another look").text
    assert "waiting for a second admin" in again, again


def _answered_in_time_that_it_cannot(r: Running) -> str:
    """While the database cannot be reached: a command and a click on ``waiting``'s approval message are answered
    within Slack's 3 seconds that the bot cannot reach its database, and ``/healthz`` answers 503. The command's
    answer."""
    s, bot = r.s, r.bot
    began = time.monotonic()
    answer = s.command("jane@acme.com 30m --tenant acme-eu another look")
    assert time.monotonic() - began < 3.0 and answer.status == 200
    assert "cannot reach its database" in answer.text, answer.text
    assert status(bot.url + "/healthz") == 503  # not ready: the balancer sends Slack to another replica
    assert status(bot.url + "/livez") == 200  # but alive: nothing restarts the bot, which outlives the outage
    assert s.click("approval.approve", r.waiting, APPROVER, r.waiting_ts).status == 200  # acked at once
    assert "cannot reach its database" in s.ephemeral_after_click()
    return answer.text
