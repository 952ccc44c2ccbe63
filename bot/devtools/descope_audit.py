"""The fake Descope's audit trail: the records it keeps and its search, as Descope documents them. A part of
``FakeDescope`` (its HTTP plumbing, management-key check and faults are ``descope_api``'s).

- ``POST /v1/mgmt/audit/search`` (management key), body ``{"actions", "from", "to", "userIds", "methods",
  "externalIds", "tenants", "text", "noTenants"}``, every field optional → ``{"audits": [record, ...]}``. A record:
  ``{"projectId", "userId", "action", "occurred": "<unix ms as a string>", "device", "method", "geo",
  "remoteAddress", "externalIds": [login IDs], "tenants": [...], "data": {...}, "actorId"}``.
- Filters: a record is answered when it matches every filter given (an absent, ``null`` or empty list filters
  nothing). ``actions``, ``userIds``, ``methods``: the record's field is one of them; ``externalIds``, ``tenants``:
  the record has one of them (login IDs case-insensitively); ``noTenants: true``: the record has no tenant;
  ``text``: a case-insensitive substring of the user ID, action, method, login IDs, tenants, actor or ``data``.
  ``from`` and ``to`` are Unix milliseconds, both inclusive (absent, ``null`` or 0: 30 days ago, and now).
- Order: newest first (by ``occurred``; records of the same millisecond, the later recorded first), as Descope
  answers in practice. At most :data:`AUDIT_PAGE` records per answer and no cursor: a caller pages by asking again
  with ``to`` narrowed to the oldest ``occurred`` it was answered (inclusive, so that millisecond comes again: dedupe)
  or one millisecond before it (which loses same-millisecond records past the cap).
- Refusals: ``from`` older than 30 days (:data:`AUDIT_RETENTION_DAYS`, by the fake's clock when it answers: a caller
  asking for exactly 30 days is refused, as it would be by a real clock a moment later), ``from`` after ``to``, a
  field of the wrong type: 400 ``E011004``. Over the rate limit (``audit_rate_limit`` searches, default
  :data:`AUDIT_RATE_LIMIT`, per rolling ``audit_rate_window`` seconds, default 60): 429 ``E130429`` with
  ``Retry-After`` (whole seconds until a slot frees, at least 1). A search counts toward the limit once it passes the
  management key and any injected fault, whatever it is answered (a 429 does not count).

What the fake records (:meth:`Audit.audit_records`): every impersonation its ``POST /v1/mgmt/impersonate`` minted
(``LoginSucceed``, method ``Impersonate``, ``userId`` the target's, ``actorId`` the impersonator's user ID, ``data``
``{"impersonator": <impersonatorId as sent>}``); every good step-up code (``LoginSucceed``, method ``totp`` or
``otp``, ``actorId`` the user's own ID); and what a test adds with :meth:`Audit.record_login`: an impersonation made
outside the bot (the console, another script holding a management key).

Times: ``occurred``, the 30-day limit and the rate window all follow ``audit_clock`` (default ``time.time``), which
a test may replace to move time.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from ._base import Response
from .descope_wire import DescopeUser, Refusal

__all__ = [
    "AUDIT_PAGE",
    "AUDIT_RATE_LIMIT",
    "AUDIT_RATE_WINDOW",
    "AUDIT_RETENTION_DAYS",
    "AUDIT_SEARCH",
    "INVALID_ARGUMENTS",
    "RATE_LIMITED",
    "Audit",
]

AUDIT_SEARCH: Final = "/v1/mgmt/audit/search"
#: The most records one search answers (no cursor: page by narrowing ``to``).
AUDIT_PAGE: Final = 1000
#: How far back a search may reach.
AUDIT_RETENTION_DAYS: Final = 30
#: Default searches allowed per rolling window, and the window in seconds ("about 10 requests a minute").
AUDIT_RATE_LIMIT: Final = 10
AUDIT_RATE_WINDOW: Final = 60.0
#: Descope's rate-limit errorCode (429), and the code of a search refused for its arguments (400).
RATE_LIMITED: Final = "E130429"
INVALID_ARGUMENTS: Final = "E011004"

_DAY_MS: Final = 86_400_000
_LIST_FILTERS: Final = ("actions", "userIds", "methods", "externalIds", "tenants")


class Audit:
    """``FakeDescope``'s audit trail and its search (the state is the fake's; ``_init_audit`` makes it)."""

    _lock: threading.RLock
    project_id: str
    _by_login: Callable[[str], DescopeUser | None]
    find_user: Callable[[str], DescopeUser | None]

    def _init_audit(self) -> None:
        self.audit_clock: Callable[[], float] = time.time  # occurred, the 30-day limit, the rate window
        self.audit_rate_limit: int | None = AUDIT_RATE_LIMIT  # searches per window; None: no limit
        self.audit_rate_window: float = AUDIT_RATE_WINDOW
        self._audits: list[dict[str, Any]] = []  # in recording order
        self._audit_searches: deque[float] = deque()  # audit_clock() of the searches counted in the window

    # -- knobs and queries ---------------------------------------------------------------------
    def audit_records(self) -> list[dict[str, Any]]:
        """Every record kept, in recording order (oldest recorded first), as copies."""
        with self._lock:
            return [_copy(r) for r in self._audits]

    def set_audit_rate_limit(self, limit: int | None, window: float = AUDIT_RATE_WINDOW) -> None:
        """Allow ``limit`` searches per rolling ``window`` seconds (``None``: no limit); forgets the searches made."""
        with self._lock:
            self.audit_rate_limit, self.audit_rate_window = limit, window
            self._audit_searches.clear()

    def reset_audit_rate(self) -> None:
        """Forget the searches counted so far: the next ``audit_rate_limit`` searches are answered."""
        with self._lock:
            self._audit_searches.clear()

    def record_login(
        self,
        login_id: str,
        *,
        method: str = "Impersonate",
        at: float | None = None,
        actor: str = "console-admin@acme.com",
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Record a ``LoginSucceed`` of the user ``login_id`` (added with ``add_user``), as made outside the bot:
        by default an impersonation from the console. ``at`` is Unix seconds (default: ``audit_clock()``);
        ``actor`` is recorded as ``actorId`` (its user ID when it names a known user, else as given) and, for an
        impersonation, as ``data.impersonator``. Returns the record (a copy)."""
        with self._lock:
            user = self._by_login(login_id)
        if user is None:
            raise KeyError(f"no user {login_id!r}: add_user() first")
        known = self.find_user(actor)
        data = {"impersonator": actor} if method == "Impersonate" else {}
        return self._record_audit(user, method=method, actor_id=known.user_id if known else actor, data=data,
                                  tenant=tenant, at=at)

    # -- recording -----------------------------------------------------------------------------
    def _record_audit(
        self,
        user: DescopeUser,
        *,
        method: str,
        actor_id: str,
        data: dict[str, Any] | None = None,
        tenant: str | None = None,
        at: float | None = None,
        action: str = "LoginSucceed",
    ) -> dict[str, Any]:
        occurred = int((self.audit_clock() if at is None else at) * 1000)
        record: dict[str, Any] = {
            "projectId": self.project_id,
            "userId": user.user_id,
            "action": action,
            "occurred": str(occurred),
            "device": "Bot" if method == "Impersonate" else "Desktop",
            "method": method,
            "geo": "IL",
            "remoteAddress": "127.0.0.1",
            "externalIds": [user.login_id],
            "tenants": [tenant] if tenant else [],
            "data": dict(data or {}),
            "actorId": actor_id,
        }
        with self._lock:
            self._audits.append(record)
            return _copy(record)

    def _audit_impersonation(self, target: DescopeUser, actor: DescopeUser, impersonator_id: str,
                             tenant: str | None) -> None:
        """What a minted impersonation leaves in the trail (called by the impersonate endpoint)."""
        self._record_audit(target, method="Impersonate", actor_id=actor.user_id,
                           data={"impersonator": impersonator_id}, tenant=tenant)

    def _audit_stepup(self, user: DescopeUser, method: str) -> None:
        """What a good step-up code leaves in the trail (``method``: ``totp`` or ``email``, recorded ``otp``)."""
        self._record_audit(user, method="otp" if method == "email" else method, actor_id=user.user_id)

    # -- HTTP ----------------------------------------------------------------------------------
    def _audit_rate_limited(self) -> Response | None:
        """The 429 answer when the window is full; else None, the search counted."""
        with self._lock:
            now, limit, window = self.audit_clock(), self.audit_rate_limit, self.audit_rate_window
            while self._audit_searches and self._audit_searches[0] <= now - window:
                self._audit_searches.popleft()
            if limit is not None and len(self._audit_searches) >= limit:
                oldest = self._audit_searches[0] if self._audit_searches else now
                wait = max(1, math.ceil(oldest + window - now))
                return Response.json(
                    {"errorCode": RATE_LIMITED, "errorDescription": "Rate limit exceeded",
                     "errorMessage": f"Too many audit searches: at most {limit} per {window:g} s"},
                    status=429,
                    headers={"Retry-After": str(wait)},
                )
            self._audit_searches.append(now)
        return None

    def _audit_search(self, body: dict[str, Any]) -> dict[str, Any]:
        now_ms = int(self.audit_clock() * 1000)
        oldest_ms = now_ms - AUDIT_RETENTION_DAYS * _DAY_MS
        start = _millis(body, "from", oldest_ms)
        end = _millis(body, "to", now_ms)
        if start < oldest_ms:
            raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments",
                          f"'from' is older than {AUDIT_RETENTION_DAYS} days: searches reach back "
                          f"{AUDIT_RETENTION_DAYS} days at most")
        if start > end:
            raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments", "'from' is after 'to'")
        filters = {name: _strings(body, name) for name in _LIST_FILTERS}
        logins = {x.lower() for x in filters["externalIds"]}
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments", "'text' must be a string")
        no_tenants = body.get("noTenants")
        if no_tenants is not None and not isinstance(no_tenants, bool):
            raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments", "'noTenants' must be a boolean")

        def matches(r: dict[str, Any]) -> bool:
            return (
                start <= int(r["occurred"]) <= end
                and (not filters["actions"] or r["action"] in filters["actions"])
                and (not filters["userIds"] or r["userId"] in filters["userIds"])
                and (not filters["methods"] or r["method"] in filters["methods"])
                and (not logins or any(x.lower() in logins for x in r["externalIds"]))
                and (not filters["tenants"] or any(t in filters["tenants"] for t in r["tenants"]))
                and (not no_tenants or not r["tenants"])
                and (not text or text.lower() in _haystack(r))
            )

        with self._lock:
            indexed = [(i, r) for i, r in enumerate(self._audits) if matches(r)]
        indexed.sort(key=lambda ir: (int(ir[1]["occurred"]), ir[0]), reverse=True)
        return {"audits": [_copy(r) for _, r in indexed[:AUDIT_PAGE]]}


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in record.items()}


def _haystack(record: dict[str, Any]) -> str:
    parts = [record["userId"], record["action"], record["method"], record["actorId"], *record["externalIds"],
             *record["tenants"], json.dumps(record["data"])]
    return "\n".join(str(p) for p in parts).lower()


def _millis(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments", f"'{name}' must be Unix milliseconds (an integer)")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise Refusal(400, INVALID_ARGUMENTS, "Invalid arguments", f"'{name}' must be a list of strings")
    return list(value)
