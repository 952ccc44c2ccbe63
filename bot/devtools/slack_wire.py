"""The fake Slack's wire: what a call carries (``SlackCall``), what it answers with a fault, how a request's parameters
are read (form or JSON, with Slack's JSON-encoded fields), and the text a message shows (``collect_text``)."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from ._base import Request, Response, decode_json_object

#: Methods whose text reaches people (what :meth:`FakeSlack.all_text_sent` looks at).
TEXT_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")

# Fields that may arrive as a JSON string inside a form body.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "user_auth_blocks")
# Structural keys skipped when collecting the text of blocks.
_NON_TEXT_KEYS = frozenset({"type", "block_id", "action_id", "style", "color", "callback_id"})


class SocketModeEndpoint(Protocol):
    """What :meth:`FakeSlack.attach_socket_mode` needs: a fresh WebSocket URL per call."""

    def connection_url(self) -> str: ...


@dataclass
class SlackCall:
    method: str  # e.g. "chat.postMessage", or "response_url"
    params: dict[str, Any]  # query + body merged; JSON-string blocks/attachments decoded
    at: float  # time.time() when received


@dataclass
class Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int
    drop: bool = False  # close the connection without an answer


def collect_text(value: Any) -> list[str]:
    """Every human-visible string inside a block/attachment structure (recursive walk)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if node:
                out.append(node)
        elif isinstance(node, dict):
            for key, child in node.items():
                if key in _NON_TEXT_KEYS and isinstance(child, str):
                    continue
                walk(child)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)

    walk(value)
    return out


def params_text(params: dict[str, Any]) -> str:
    parts: list[str] = []
    text = params.get("text")
    if isinstance(text, str) and text:
        parts.append(text)
    for key in ("blocks", "attachments"):
        parts.extend(collect_text(params.get(key)))
    return "\n".join(parts)


def dm_channel(channel: str) -> str:
    """Slack posts a message addressed to a user ID into that user's DM with the app."""
    return "D" + channel if channel[:1] in ("U", "W") else channel


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def parse_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if ctype == "application/json":
        body = decode_json_object(request.body)
        if body is not None:
            params.update(body)
    elif request.body and ctype in ("application/x-www-form-urlencoded", ""):
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    # multipart (files.upload) bodies are not parsed: the query string is all we keep.
    decode_json_fields(params)
    return params


def decode_json_fields(params: dict[str, Any]) -> None:
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)


def fault_response(fault: Fault) -> Response:
    if fault.drop:
        return Response.dropped()
    error = fault.error or ("ratelimited" if fault.status == 429 else "fatal_error")
    headers: dict[str, str] = {}
    if fault.retry_after is not None and fault.status != 200:
        headers["Retry-After"] = str(fault.retry_after)
    return Response.json({"ok": False, "error": error}, status=fault.status, headers=headers)


class RateLimits:
    """Slack's rate limits as the fake plays them: per method (a tier's limit is per method and workspace), or per
    method and channel (``chat.postMessage``: about one a second per channel), at most ``calls`` in any ``window``
    seconds; beyond, the call is refused 429 ``ratelimited`` with ``Retry-After`` (whole seconds until one may go
    again, at least 1). ``counted`` says how many calls of each method were refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, tuple[int, float, bool]] = {}  # method -> (calls, window, per channel)
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self.refused: dict[str, int] = {}

    def set(self, method: str, calls: int | None, window: float, per_channel: bool) -> None:
        with self._lock:
            if calls is None:
                self._limits.pop(method, None)
            else:
                self._limits[method] = (calls, window, per_channel)

    def counted(self) -> dict[str, int]:
        with self._lock:
            return dict(self.refused)

    def refuse(self, method: str, channel: str) -> int | None:
        """The ``Retry-After`` of a call refused now, or ``None``: it goes (and counts)."""
        with self._lock:
            limit = self._limits.get(method)
            if limit is None:
                return None
            calls, window, per_channel = limit
            now = time.monotonic()
            hits = self._hits.setdefault((method, channel if per_channel else ""), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) < calls:
                hits.append(now)
                return None
            self.refused[method] = self.refused.get(method, 0) + 1
            return max(1, math.ceil(hits[0] + window - now))
