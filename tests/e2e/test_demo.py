"""``python -m bot demo``: the whole flow against the shipped stand-ins, with no configuration and no network,
in under a minute, and a transcript that shows what each person and Descope see."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bot.devtools.harness import ROOT


def test_the_demo_plays_the_whole_flow_and_says_what_each_side_sees() -> None:
    # An operator's own settings in the environment (e.g. a loaded .env) must not change the demo.
    env = {**os.environ, "SLACK_APP_TOKEN": "xapp-1-real-app", "TOKEN_DELIVERY": "dm", "MAX_DURATION": "5m",
           "DATABASE_URL": "postgresql://nowhere:1/none", "LOG_FORMAT": "json", "RETENTION": "1s"}
    done = subprocess.run([sys.executable, "-m", "bot", "demo"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stderr
    transcript = done.stdout
    unwrapped = re.sub(r"\n {10} │ ", " ", transcript)  # a long line's continuations joined back
    in_order = [
        "requester │ /impersonate jane@acme.com 10m --tenant acme-eu checking invoice SUP-123",
        "Descope │ GET /v1/mgmt/user → 200",  # the pre-flight
        "approvers │ In Descope: Jane Doe",
        "approvers │ [Approve · Deny]",
        "Descope │ POST /v1/mgmt/impersonate → 200",
        "approvers │ ✅ Approved by @Sam Ortiz: active until ",
        "requester │ [Show token]",
        "requester │ modal with the token: eyJ",
        "requester │ /impersonate stop",
        "You get a DM when it has ended.",  # said to the requester, who stopped it
        "Descope │ POST /v1/mgmt/stop/impersonation → 200",
        "Descope │ POST /v1/auth/logout → 200",
        "refresh with the token now → 401 (revoked)",
        "(stopped early by",
        "has ended: its token can no longer be shown.",
    ]
    at = 0
    for line in in_order:
        found = unwrapped.find(line, at)
        assert found >= 0, (line, transcript)
        at = found
    seconds = float(re.search(r"done in ([\d.]+) s", transcript).group(1))  # type: ignore[union-attr]
    assert seconds < 60
    assert not re.search(r"eyJ[\w-]{20,}\.[\w-]+\.[\w-]+", transcript)  # the token itself is never printed
    # What people read in Slack: names and times, not Slack's markup; whole sentences, wrapped, not clipped.
    assert "<@" not in transcript and "<!date" not in transcript and "`" not in transcript, transcript
    assert re.search(r"expires \d\d:\d\d\)", transcript), transcript
    assert [line for line in transcript.splitlines() if line.endswith("…")] == [], transcript
