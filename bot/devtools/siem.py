"""A fake SIEM intake on 127.0.0.1: where the bot's signed audit stream is delivered, in tests and the demo.

Point ``AUDIT_WEBHOOK_URL`` at :attr:`FakeIntake.url` and ``AUDIT_WEBHOOK_SECRET`` at :attr:`FakeIntake.secret`.

The wire, as the bot sends it and a security team's receiver checks it:

- ``POST <url>`` (any path is accepted; another verb answers 405), a JSON body ``{"events": [event, ...]}``.
- Two headers sign it, the scheme Slack uses for its own requests::

      X-Audit-Timestamp: <unix seconds>
      X-Audit-Signature: v0=<hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body)>

  The receiver recomputes the HMAC over the *raw* bytes it received (never a re-serialised JSON), compares it in
  constant time (``hmac.compare_digest``), and refuses a timestamp more than 5 minutes (:data:`TOLERANCE`) from its
  own clock, either way, so that a captured request cannot be replayed later. :func:`sign` and :func:`verify` are
  exactly that (README's "how a receiver verifies" mirrors them); :func:`signature_problem` says which check failed.

How this intake answers, in that order: an injected drop closes the connection without a word
(:meth:`FakeIntake.drop_next`); an injected failure answers its status and keeps nothing (:meth:`FakeIntake.fail_next`,
:meth:`FakeIntake.fail_always`, :meth:`FakeIntake.heal`); a missing, malformed, stale or wrong signature answers 401
and is kept as a rejection (:meth:`FakeIntake.rejections`); a body that is not ``{"events": [objects]}`` answers 400;
anything else answers 200 ``{"ok": true, "accepted": <n>}`` and the batch is kept (:meth:`FakeIntake.batches`,
:meth:`FakeIntake.events`, in arrival order; a batch delivered twice, as at-least-once delivery may, is kept twice:
:meth:`FakeIntake.unique_events` dedupes by ``id``). Every request, whatever its answer, is in
:attr:`FakeIntake.calls` with its raw headers and body. Latency: ``set_latency(ANY, seconds)`` delays every answer
(``set_latency(path, seconds)`` one path's), applied after the request is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from ._base import FakeServer, Request, Response, decode_json_object

__all__ = [
    "ANY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "VERSION",
    "FakeIntake",
    "IntakeCall",
    "sign",
    "signature_problem",
    "verify",
]

TIMESTAMP_HEADER: Final = "X-Audit-Timestamp"
SIGNATURE_HEADER: Final = "X-Audit-Signature"
VERSION: Final = "v0"
#: How far (seconds, either way) a request's timestamp may be from the receiver's clock.
TOLERANCE: Final = 300
#: The latency key that delays every answer, whatever the path.
ANY: Final = "*"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Audit-Signature`` value: ``v0=`` + hex HMAC-SHA256(secret, ``"v0:" + timestamp + ":" + body``)."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: float,
    tolerance: float = TOLERANCE,
) -> str | None:
    """Why the request's signature does not hold, or None when it does: ``"missing"`` (a header absent or empty),
    ``"malformed"`` (a timestamp that is not whole seconds), ``"stale"`` (more than ``tolerance`` seconds from
    ``now``), ``"mismatch"`` (the HMAC differs)."""
    if not timestamp or not signature:
        return "missing"
    if not timestamp.isascii() or not timestamp.isdigit():
        return "malformed"
    if abs(now - int(timestamp)) > tolerance:
        return "stale"
    expected = sign(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return "mismatch"
    return None


def verify(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: float,
    tolerance: float = TOLERANCE,
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` with ``secret``, and ``timestamp`` is within
    ``tolerance`` seconds of ``now``. A receiver, in full::

        ok = verify(secret, request.headers.get("X-Audit-Timestamp"), request.body,
                    request.headers.get("X-Audit-Signature"), now=time.time())
    """
    return signature_problem(secret, timestamp, body, signature, now=now, tolerance=tolerance) is None


@dataclass
class IntakeCall:
    """One request the intake received, raw, and what it answered."""

    verb: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes  # the raw body, as signed
    at: float  # time.time() when received
    status: int | None = None  # None while pending, or when dropped
    #: accepted | failed (injected) | dropped (injected) | unsigned | malformed | stale | mismatch (401s)
    #: | bad_body (400) | not_allowed (405) | pending
    outcome: str = "pending"
    events: list[dict[str, Any]] = field(default_factory=list)  # the batch, when accepted

    @property
    def timestamp(self) -> str | None:
        return self.headers.get(TIMESTAMP_HEADER.lower())

    @property
    def signature(self) -> str | None:
        return self.headers.get(SIGNATURE_HEADER.lower())

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not)."""
        return json.loads(self.body)


@dataclass
class _Failure:
    status: int
    remaining: int | None  # None: until heal()
    retry_after: int | None = None
    drop: bool = False


_REJECTED: Final = frozenset({"unsigned", "malformed", "stale", "mismatch"})


class FakeIntake(FakeServer[IntakeCall]):
    """Fake SIEM intake. ``with FakeIntake() as siem: ...; siem.wait_for_events(3)``."""

    def __init__(self, secret: str | None = None, *, path: str = "/audit", tolerance: float = TOLERANCE) -> None:
        super().__init__()
        self.secret = secret if secret is not None else secrets.token_hex(32)
        self.path = path
        self.tolerance = tolerance
        self.clock: Callable[[], float] = time.time  # the receiver's clock, for the timestamp's freshness
        self._failures: list[_Failure] = []  # the next answers' faults, in order (fail_next, drop_next)
        self._always: _Failure | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/audit``: what ``AUDIT_WEBHOOK_URL`` names."""
        return self.origin + self.path

    def signed_headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        """The headers a correct sender sends with ``body`` (timestamp: ``clock()`` by default)."""
        ts = timestamp if timestamp is not None else str(int(self.clock()))
        return {"Content-Type": "application/json", TIMESTAMP_HEADER: ts,
                SIGNATURE_HEADER: sign(self.secret, ts, body)}

    # -- fault injection -----------------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, *, retry_after: int | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 500, 503, 400), keeping no batch; with
        ``retry_after``, a ``Retry-After`` header. Queued after faults already pending."""
        with self._lock:
            self._failures.append(_Failure(status, count, retry_after))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection without answering the next ``count`` requests (queued after pending faults)."""
        with self._lock:
            self._failures.append(_Failure(0, count, drop=True))

    def fail_always(self, status: int, *, retry_after: int | None = None) -> None:
        """Answer every request with ``status`` until :meth:`heal` (after any ``fail_next``/``drop_next`` pending)."""
        with self._lock:
            self._always = _Failure(status, None, retry_after)

    def heal(self) -> None:
        """Forget every injected fault: the next request is judged on its signature and body."""
        with self._lock:
            self._failures.clear()
            self._always = None

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            if self._failures:
                failure = self._failures[0]
                assert failure.remaining is not None
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
                return failure
            return self._always

    # -- queries -------------------------------------------------------------------------------
    def batches(self) -> list[list[dict[str, Any]]]:
        """The accepted batches' events, in arrival order (a batch delivered twice is here twice)."""
        with self._lock:
            return [list(c.events) for c in self._calls if c.outcome == "accepted"]

    def events(self) -> list[dict[str, Any]]:
        """Every accepted event, flattened, in arrival order (duplicates included)."""
        return [event for batch in self.batches() for event in batch]

    def unique_events(self) -> list[dict[str, Any]]:
        """The accepted events, the first arrival of each ``id`` (events without one are all kept)."""
        seen: set[str] = set()
        unique = []
        for event in self.events():
            key = event.get("id")
            if isinstance(key, str):
                if key in seen:
                    continue
                seen.add(key)
            unique.append(event)
        return unique

    def rejections(self) -> list[IntakeCall]:
        """The requests refused 401 for their signature (``outcome`` says why), oldest first."""
        return [c for c in self.calls if c.outcome in _REJECTED]

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` distinct events (by ``id``) were accepted; returns them all."""

        def enough() -> list[dict[str, Any]] | None:
            unique = self.unique_events()
            return unique if len(unique) >= count else None

        return self.wait_for(enough, timeout=timeout, message=f"{count} distinct event(s)")

    def _describe(self, call: IntakeCall) -> str:
        answered = call.status if call.status is not None else "dropped/pending"
        return f"{call.verb} {call.path} -> {answered} {call.outcome} ({len(call.events)} event(s))"

    # -- HTTP ----------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        call = self._record(IntakeCall(request.verb, request.path, dict(request.headers), request.body, time.time()))
        response, outcome, events = self._answer(request)
        with self._lock:
            call.status = None if response.drop else response.status
            call.outcome, call.events = outcome, events
        return response

    def _answer(self, request: Request) -> tuple[Response, str, list[dict[str, Any]]]:
        self._sleep_latency(ANY)
        self._sleep_latency(request.path)
        if request.verb != "POST":
            return _json({"ok": False, "error": "method_not_allowed"}, 405, {"Allow": "POST"}), "not_allowed", []
        failure = self._take_failure()
        if failure is not None:
            if failure.drop:
                return Response.dropped(), "dropped", []
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return _json({"ok": False, "error": _phrase(failure.status)}, failure.status, headers), "failed", []
        problem = signature_problem(
            self.secret,
            request.header(TIMESTAMP_HEADER),
            request.body,
            request.header(SIGNATURE_HEADER),
            now=self.clock(),
            tolerance=self.tolerance,
        )
        if problem is not None:
            outcome = "unsigned" if problem == "missing" else problem
            return _json({"ok": False, "error": "invalid_signature", "reason": problem}, 401), outcome, []
        parsed = decode_json_object(request.body) if request.body.strip() else None
        events = parsed.get("events") if parsed is not None else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return _json({"ok": False, "error": "bad_body", "reason": 'expected {"events": [objects]}'}, 400), \
                "bad_body", []
        return _json({"ok": True, "accepted": len(events)}, 200), "accepted", events


def _json(obj: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response.json(obj, status=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        return "error"
