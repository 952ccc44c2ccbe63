"""The fake Slack's messages: ``chat.postMessage``, ``chat.update``, ``chat.delete`` and ``chat.postEphemeral``, kept
as Slack keeps them (an edit is marked and counted; an update with text and no blocks drops the blocks; a bot not in
a channel, or an archived one, is refused). A part of ``FakeSlack`` (see ``slack_api``)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from .slack_wire import dm_channel, params_text

# Slack message timestamps: seconds.micros, unique and increasing per workspace.
_TS_BASE_MICROS = 1_700_000_000 * 1_000_000
_TS_STEP_MICROS = 100


class Messages:
    """``FakeSlack``'s messages (the state is the fake's)."""

    _lock: threading.RLock
    _ts_counter: itertools.count[int]
    messages: dict[tuple[str, str], dict[str, Any]]
    channels: dict[str, dict[str, Any]]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            msg = self.messages.get((channel, ts))
            return dict(msg) if msg is not None else None

    def message_text(self, channel: str, ts: str) -> str:
        """Current ``text`` of a posted message plus every text string in its blocks/attachments."""
        with self._lock:
            msg = self.messages.get((channel, ts))
            if msg is None:
                raise KeyError(f"no message ({channel!r}, {ts!r}); known: {sorted(self.messages)}")
            return params_text(msg)

    def _next_ts(self) -> str:
        with self._lock:
            micros = _TS_BASE_MICROS + next(self._ts_counter) * _TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _store_message(self, channel: str, ts: str, params: dict[str, Any], *, edited: bool) -> dict[str, Any]:
        with self._lock:
            previous = self.messages.get((channel, ts), {})
            msg = {
                "channel": channel,
                "ts": ts,
                "text": params.get("text", "") or "",
                # chat.update with text but no blocks removes the blocks, as on Slack.
                "blocks": params.get("blocks") or [],
                "attachments": params.get("attachments") or [],
                "user": "UBOT",
                "thread_ts": params.get("thread_ts", previous.get("thread_ts")),
                "edited": edited,
                "edits": int(previous.get("edits", -1)) + 1,
            }
            self.messages[(channel, ts)] = msg
            return msg

    def _post_message(self, p: dict[str, Any]) -> dict[str, Any]:
        raw_channel = str(p.get("channel") or "")
        if not raw_channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            return {"ok": False, "error": "no_text"}
        channel = dm_channel(raw_channel)
        with self._lock:
            known = self.channels.get(channel)
        if known is not None and not known["is_member"]:  # the bot has chat:write, not chat:write.public
            return {"ok": False, "error": "not_in_channel"}
        if known is not None and known.get("is_archived"):
            return {"ok": False, "error": "is_archived"}
        msg = self._store_message(channel, self._next_ts(), p, edited=False)
        return {
            "ok": True,
            "channel": channel,
            "ts": msg["ts"],
            "message": {
                "type": "message",
                "text": msg["text"],
                "blocks": msg["blocks"],
                "ts": msg["ts"],
                "user": "UBOT",
                "bot_id": "BBOT",
            },
        }

    def _update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        with self._lock:
            if (channel, ts) not in self.messages:
                return {"ok": False, "error": "message_not_found"}
        msg = self._store_message(channel, ts, p, edited=True)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg["text"],
            "message": {"text": msg["text"], "blocks": msg["blocks"], "user": "UBOT", "bot_id": "BBOT"},
        }

    def _delete(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        with self._lock:
            if self.messages.pop((channel, ts), None) is None:
                return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _post_ephemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}
