"""``impersonation-bot demo``: the whole flow in under a minute, with no accounts, no configuration and no network.

The real bot (``python -m bot``, a child process, a throw-away SQLite database) runs against the local stand-ins
of Slack and Descope the package ships (``bot.devtools``: loopback HTTP servers that behave as the real services
document; the tests and the benchmark drive the same). The demo then plays the people, signing each request as
Slack does: a requester asks, an approver approves, the requester opens the token, then stops the session early; and
it prints, step by step, what the requester, the approvers and Descope see.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

DEMO_TARGET = "jane@acme.com"
WIDTH = 100  # the text column; longer lines wrap under it
#: The people the demo plays, as Slack would name them (their Descope logins are their Slack emails).
REQUESTER_NAME, APPROVER_NAME = "Riley Chen", "Sam Ortiz"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("demo", help="play the whole flow against local stand-ins of Slack and Descope (no accounts)",
                        description="Start the real bot against local stand-ins of Slack and Descope and play a "
                                    "request, its approval, the token and an early stop, printing what each person "
                                    "sees. Needs no account, no configuration and no network.")


def run(args: argparse.Namespace | None = None, out: TextIO = sys.stdout) -> int:
    from bot.cli.slack_text import readable, wrapped
    from bot.devtools import FakeDescope, FakeSlack
    from bot.devtools.harness import (
        APPROVAL_CHANNEL,
        APPROVER,
        REQUESTER,
        TENANT,
        BotProcess,
        Stack,
        bot_env,
        populate,
    )

    people: dict[str, str] = {}

    def say(who: str, text: str) -> None:
        for i, line in enumerate(wrapped(readable(text, people, {APPROVAL_CHANNEL: "approvals"}), WIDTH)):
            print(f"{who if i == 0 else '':>10} │ {line}", file=out, flush=True)

    def step(title: str) -> None:
        print(f"\n── {title} " + "─" * max(0, 66 - len(title)), file=out, flush=True)

    def descope_calls(s: Stack, since: int) -> int:
        for call in s.descope.calls[since:]:
            say("Descope", f"{call.verb} {call.path} → {call.status}")
        return len(s.descope.calls)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bot-demo-") as tmp, FakeSlack() as slack, FakeDescope() as descope:
        populate(slack, descope)
        for uid, name in ((REQUESTER, REQUESTER_NAME), (APPROVER, APPROVER_NAME)):
            email = f"{name.split()[0].lower()}@corp.example"
            slack.add_user(uid, email, name.split()[0].lower(), real_name=name)
            descope.add_user(email, email=email, can_impersonate=True)
            people[uid] = name
        env = bot_env(slack, descope, f"sqlite:///{Path(tmp) / 'demo.db'}", REMINDER_INTERVAL="0")
        bot = BotProcess(env, Path(tmp) / "bot.log", inherit=False)  # none of the operator's settings
        step("the bot starts against local stand-ins of Slack and Descope")
        bot.start()
        s = Stack(slack, descope, bot)
        seen = 0
        try:
            step(f"{REQUESTER_NAME} asks for access")
            text = f"{DEMO_TARGET} 10m --tenant {TENANT} checking invoice SUP-123"
            say("requester", f"/impersonate {text}")
            request_id, ts = s.submit(text)
            mine = [line for line in s.command("list").text.splitlines() if request_id in line]
            say("requester", "(/impersonate list) " + (mine[0] if mine else request_id))
            seen = descope_calls(s, seen)
            for line in _shown(slack.message(APPROVAL_CHANNEL, ts)):
                say("approvers", line)

            step(f"{APPROVER_NAME} approves in #approvals")
            s.click("approval.approve", request_id, APPROVER, ts)
            slack.wait_for(lambda: s.session_dm(request_id), message="session DM")
            slack.wait_for(lambda: "active until" in s.approval_text(ts), message="active")
            seen = descope_calls(s, seen)
            say("approvers", _status(slack.message(APPROVAL_CHANNEL, ts)))
            dm_ts = s.session_dm(request_id) or ""
            for line in _shown(slack.message("D" + REQUESTER, dm_ts)):
                say("requester", line)

            step("the requester clicks Show token: a modal only they see")
            token = s.show_token(request_id)
            say("requester", f"modal with the token: {(token or '')[:12]}… (never the text of a message)")
            seen = descope_calls(s, seen)

            step("the requester stops the session early")
            say("requester", f"/impersonate stop {request_id}")
            say("requester", s.command(f"stop {request_id}").text)
            slack.wait_for(lambda: "stopped early" in s.approval_text(ts), timeout=20, message="stopped")
            time.sleep(0.3)
            seen = descope_calls(s, seen)
            if token:
                say("Descope", f"refresh with the token now → {descope.refresh(token)} (revoked)")
            say("approvers", _status(slack.message(APPROVAL_CHANNEL, ts)))
            say("requester", "(the session DM, edited) " + " ".join(_shown(slack.message("D" + REQUESTER, dm_ts))))
            say("requester", " ".join(_shown(slack.message(*list(slack.messages)[-1]))))
        finally:
            bot.stop()
        step(f"done in {time.monotonic() - started:.1f} s")
    return 0


def _shown(message: dict[str, Any] | None) -> list[str]:
    """What a person sees of a message: the text of its blocks, one line each (buttons by their labels)."""
    lines: list[str] = []
    for block in (message or {}).get("blocks") or []:
        texts = [block.get("text") or {}, *(block.get("fields") or []), *(block.get("elements") or [])]
        words = [str(t["text"]) if isinstance(t.get("text"), str) else str((t.get("text") or {}).get("text", ""))
                 for t in texts if isinstance(t, dict)]
        label = " · ".join(w for w in words if w)
        if label:
            lines.append(f"[{label}]" if block.get("type") == "actions" else label)
    return lines


def _status(message: dict[str, Any] | None) -> str:
    """The approval message's status line (its last context block)."""
    contexts = [b for b in (message or {}).get("blocks") or [] if b.get("type") == "context"]
    return _shown({"blocks": contexts[-1:]})[0] if contexts else ""
