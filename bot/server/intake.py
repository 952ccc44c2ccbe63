"""The audit intake over HTTP (``AUDIT_WEBHOOK_URL``): the ``Intake`` port the audit stream sends through.

Each batch is one POST of ``{"events": [...]}`` (compact JSON, UTF-8), signed as Slack signs its requests, with the
shared secret (``AUDIT_WEBHOOK_SECRET``)::

    X-Audit-Timestamp: <unix seconds>
    X-Audit-Signature: v0=<hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body)>

A receiver recomputes the signature over the raw body and compares in constant time, and refuses a timestamp more
than five minutes off (a replay). Any 2xx is taken; anything else raises ``IntakeFailed`` (the stream retries). No
redirect is followed: a signed body goes only where it was configured to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from bot.workflows.ports import IntakeFailed

TIMEOUT = 10.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=`` and the hex HMAC-SHA256 of ``v0:<timestamp>:<body>`` under ``secret``."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


class HttpIntake:
    def __init__(self, url: str, secret: str, *, transport: httpx.BaseTransport | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        self.url = url
        self._secret = secret
        self._wall = wall
        self._http = httpx.Client(timeout=httpx.Timeout(TIMEOUT), transport=transport, follow_redirects=False,
                                  headers={"Content-Type": "application/json", "User-Agent": "impersonation-bot"})

    def __repr__(self) -> str:  # the host only: the URL's path or query may hold a credential
        return f"HttpIntake(host={httpx.URL(self.url).host!r})"

    def send(self, events: Sequence[Mapping[str, Any]]) -> None:
        body = json.dumps({"events": list(events)}, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(self._wall()))
        headers = {"X-Audit-Timestamp": timestamp, "X-Audit-Signature": signature(self._secret, timestamp, body)}
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise IntakeFailed(None, type(exc).__name__) from None
        if not response.is_success:
            raise IntakeFailed(response.status_code, f"HTTP {response.status_code}")

    def close(self) -> None:
        self._http.close()
