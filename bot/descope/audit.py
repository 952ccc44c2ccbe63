"""Descope's audit trail, searched (``POST /v1/mgmt/audit/search``): what the watch on Descope reads to account for
every impersonation, the bot's own and any other (the console, another script holding a management key).

``search`` asks for ``actions`` between two moments and reads each record into an ``AuditRecord``. Descope answers the
newest first, a page at a time (``PAGE`` records at most): a full page is followed by a search that ends where it
ended, until a page comes back short. Its limit, about 10 searches a minute, is Descope's 429 with ``Retry-After``,
honoured by the client's retries (``bot.descope.retry``). Searches reach back 30 days at most (``FURTHEST``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

AUDIT_SEARCH_PATH: Final = "/v1/mgmt/audit/search"
PAGE: Final = 1000
FURTHEST: Final = timedelta(days=30)
#: How Descope's audit names an impersonation: a successful login by this method, for the impersonated user.
LOGIN_SUCCEED, IMPERSONATE = "LoginSucceed", "Impersonate"


@dataclass(frozen=True)
class AuditRecord:
    """One record of Descope's audit: who it is about (``user_id``, their login IDs), what and how, when, and by whom
    where Descope says (``actor_id``)."""

    user_id: str
    action: str
    method: str
    occurred: datetime
    login_ids: tuple[str, ...] = ()
    actor_id: str | None = None

    @property
    def impersonation(self) -> bool:
        return self.action == LOGIN_SUCCEED and self.method == IMPERSONATE


def record_of(found: Mapping[str, Any]) -> AuditRecord | None:
    """A record as Descope answers it, read (``None`` when it has no user or no moment)."""
    try:
        occurred = datetime.fromtimestamp(float(found.get("occurred") or "") / 1000, UTC)
    except (TypeError, ValueError):
        return None
    user_id = str(found.get("userId") or "")
    if not user_id:
        return None
    logins = found.get("externalIds")
    return AuditRecord(user_id=user_id, action=str(found.get("action") or ""), method=str(found.get("method") or ""),
                       occurred=occurred,
                       login_ids=tuple(str(x) for x in logins) if isinstance(logins, list) else (),
                       actor_id=str(found["actorId"]) if found.get("actorId") else None)


def search(call: Callable[[dict[str, Any]], Mapping[str, Any]], actions: Sequence[str], since: datetime,
           until: datetime, *, methods: Sequence[str] | None = None) -> list[AuditRecord]:
    """Every record of ``actions`` (by ``methods``, when given) from ``since`` to ``until`` (``call`` posts one search
    body and answers Descope's JSON), paging back through full pages."""
    records: list[AuditRecord] = []
    to_ms = _ms(until)
    from_ms = _ms(since)
    while True:
        body: dict[str, Any] = {"actions": list(actions), "from": from_ms, "to": to_ms, "noTenants": False}
        if methods:
            body["methods"] = list(methods)
        answer = call(body)
        page = answer.get("audits")
        found = [r for r in (record_of(x) for x in page if isinstance(x, Mapping)) if r is not None] \
            if isinstance(page, list) else []
        records += found
        if not isinstance(page, list) or len(page) < PAGE or not found:
            return records
        oldest = min(_ms(r.occurred) for r in found)
        if oldest <= from_ms or oldest >= to_ms:
            return records
        to_ms = oldest  # the next page ends where this one did (a record at that very moment may come twice)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
