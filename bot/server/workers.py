"""Serving with several processes (``WEB_CONCURRENCY``, default: the usable cores; HTTP mode only).

One Python process uses one core at a time; the bot's answers are CPU-bound (issue 13). So ``python -m bot`` becomes
a parent that serves nothing itself and forks that many workers, each a full replica (its own ``Runtime``: Bolt,
scheduler, pools) on the shared database, the way gunicorn runs WSGI apps:

* The parent binds ``PORT`` once; the workers accept on that one socket (the kernel hands each connection to one).
* It migrates the database once and imports everything the workers run before forking, so their code is shared
  (and frozen out of the garbage collector's sight, ``gc.freeze``, so that the workers' collections do not copy it).
* The first worker starts alone: a setting Slack or the database refuses (``build`` says why and gives an exit
  code) is said once, and the bot exits with that code. The others start once it serves.
* SIGTERM or SIGINT: passed on to every worker, each of which finishes its in-flight work; the parent exits when all
  have. A worker that dies otherwise is replaced after ``RESPAWN_DELAY``.
* If the parent dies, even by SIGKILL, its workers die with it (Linux ``PR_SET_PDEATHSIG``; elsewhere a thread that
  watches the parent's PID): never a worker left serving without it, never two generations at once.
* Descope's and Slack's rate limits: the workers share their turns at a limited path
  (``bot.transport.board.Board.shared``, made by the caller before the fork, so a replacement shares it too): a 429
  one meets holds the path in all.
* Metrics: prometheus-client's multiprocess mode (``bot.server.metrics``), in a directory made for this run (removed
  at the end).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from bot.config import Settings

if TYPE_CHECKING:
    from bot.server.runtime import Runtime

log = logging.getLogger(__name__)

RESPAWN_DELAY = 1.0  # seconds before a worker that died is replaced
_STOPS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1

#: Builds a worker's runtime for its shard, or says why it cannot and gives the exit code.
Build = Callable[[tuple[int, int]], "Runtime | int"]


def serve(settings: Settings, build: Build, listening: socket.socket) -> int:
    """Run ``settings.processes`` workers on ``listening`` (bound to ``PORT`` by the caller) until SIGTERM/SIGINT; the
    exit code."""
    count = settings.processes
    metrics = tempfile.mkdtemp(prefix="impersonation-bot-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    import bot.server.runtime  # noqa: F401  (imported once, here: the workers share these pages)

    workers: dict[int, int] = {}  # pid -> index
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            log.info("received %s: stopping %d workers", signal.Signals(signum).name, len(workers))
        stopping.set()
        for pid in list(workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def start(index: int) -> int:
        """Fork worker ``index``, known to ``on_signal`` before any signal can reach either process; the read end
        of the pipe it says "serving" on."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        try:
            pid, ready = _fork(build, listening, index, count)
            workers[pid] = index
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        return ready

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        log.info("starting %d serving processes", count)
        if not _serves(start(0)):  # it could not start (and said why), or was stopped first
            _, status = os.waitpid(next(iter(workers)), 0)
            return 0 if stopping.is_set() else abs(os.waitstatus_to_exitcode(status)) or 1
        others = [start(index) for index in range(1, count) if not stopping.is_set()]
        if all([_serves(ready) for ready in others]):
            log.info("serving with %d processes", count)
        code = 0
        while workers:
            pid, status = os.wait()
            index = workers.pop(pid, -1)
            if index < 0:
                continue
            exit_code = os.waitstatus_to_exitcode(status)
            if stopping.is_set():  # stopped before it could wind down by itself (-SIGTERM) is stopped all the same
                code = max(code, 0 if exit_code == -signal.SIGTERM else abs(exit_code))
                continue
            log.error("worker %d (pid %d) exited with %d; starting another", index, pid, exit_code)
            time.sleep(RESPAWN_DELAY)
            if not stopping.is_set():
                os.close(start(index))
        log.info("stopped")
        return code
    finally:
        listening.close()
        shutil.rmtree(metrics, ignore_errors=True)


def _fork(build: Build, listening: socket.socket, index: int, count: int) -> tuple[int, int]:
    """Start worker ``index``; its PID and the read end of the pipe it says "serving" on (once it has started)."""
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    # What the parent imported stays shared only if no one writes to its pages: the workers' garbage collections
    # would (they mark every object they examine), so the parent's objects are moved out of the collector's sight
    # first (the ``gc.freeze`` recipe for servers that fork): a fifth less memory with 10,000 sessions scheduled.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _worker(build, listening, (index, count), write)
    os.close(write)
    return pid, read


def _serves(ready: int) -> bool:
    """Whether the worker said it serves (rather than exiting first)."""
    try:
        return os.read(ready, 1) == b"1"
    finally:
        os.close(ready)


def _worker(build: Build, listening: socket.socket, shard: tuple[int, int], ready: int) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)  # blocked by the parent around the fork
        _die_with_parent(os.getppid())
        runtime = build(shard)
        if isinstance(runtime, int):
            code = runtime
        else:
            def serving() -> None:
                with contextlib.suppress(OSError):  # a replacement's parent is not listening
                    os.write(ready, b"1")
                    os.close(ready)

            runtime.serve(listening, serving)
            code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d of %d failed", *shard)
    finally:
        logging.shutdown()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux); elsewhere, watch the parent's PID."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the call took effect
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
