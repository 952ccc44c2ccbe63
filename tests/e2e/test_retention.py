"""``RETENTION`` on the real process: a request that ended longer ago than that is deleted with its audit rows
by the purge (at start, then every minute at most); a live one stays. The audit export states the retention in
force on its first line on stderr. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

from sqlalchemy import select

from bot.devtools.harness import APPROVER, OTHER_TARGET, ROOT, TENANT, Stack
from bot.store import RequestRow, make_engine

StackFactory = Callable[..., Stack]


def _audit(database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "audit"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url, **env}, timeout=60, check=True)


def _stored(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(RequestRow.id)).scalars())
    finally:
        engine.dispose()


def test_an_ended_request_older_than_the_retention_is_deleted_with_its_audit(make_stack: StackFactory,
                                                                            database_url: str) -> None:
    s = make_stack(RETENTION="2s")
    denied, ts = s.submit()
    s.click("deny", denied, APPROVER, ts)
    s.slack.wait_for(lambda: f"Denied by <@{APPROVER}>" in s.approval_text(ts), message="denied")
    s.slack.wait_for(lambda: any("denied your request" in t for t in s.dms()), message="DM")
    live, _ = s.submit(f"{OTHER_TARGET} 30m --tenant {TENANT} still waiting")
    assert _stored(database_url) == {denied, live}

    time.sleep(2.5)  # the denial is now older than RETENTION; the purge runs at start (then every minute)
    s.bot.stop()
    s.bot.restart()
    deadline = time.monotonic() + 20
    while denied in _stored(database_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _stored(database_url) == {live}
    assert "retention: deleted 1 ended requests" in s.bot.log()

    out = _audit(database_url, RETENTION="2s")
    assert out.stderr.splitlines()[0] == ("retention: 2s (requests ended more than 2s ago are deleted, "
                                          "with their audit rows)")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["request_id"] for r in rows} == {live}


def test_without_retention_everything_is_kept_and_the_export_says_so(make_stack: StackFactory,
                                                                     database_url: str) -> None:
    s = make_stack()
    denied, ts = s.submit()
    s.click("deny", denied, APPROVER, ts)
    s.slack.wait_for(lambda: any("denied your request" in t for t in s.dms()), message="DM")
    out = _audit(database_url)
    assert out.stderr.splitlines()[0] == "retention: none (everything kept)"
    assert {json.loads(line)["request_id"] for line in out.stdout.splitlines()} == {denied}
    assert _stored(database_url) == {denied}
