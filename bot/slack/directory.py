"""Who is who, asked of Slack: a user's profile email and user-group membership, cached briefly.

Approver and requester lists may name user groups (``S…``); membership is looked up when a person acts
(``usergroups.users.list``), cached for a minute so a burst of clicks costs one call, and never read
from anything the person sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import is_group_id

EMAIL_TTL = 600.0
GROUP_TTL = 60.0

V = TypeVar("V")


class SlackDirectory:
    def __init__(self, client: WebClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def email_of(self, user_id: str) -> str | None:
        cached = self._cached(self._emails, user_id, EMAIL_TTL)
        if cached is not None:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") != "user_not_found":
                raise
            user = {"deleted": True}
        email = None if user.get("deleted") or user.get("is_bot") else user.get("profile", {}).get("email")
        with self._lock:
            self._emails[user_id] = (self.clock(), email)
        return email

    def is_member(self, user_id: str, principals: Collection[str]) -> bool:
        if user_id in principals:
            return True
        return any(user_id in self._group(p) for p in principals if is_group_id(p))

    def _group(self, group_id: str) -> frozenset[str]:
        cached = self._cached(self._groups, group_id, GROUP_TTL)
        if cached is not None:
            return cached[1]
        members = frozenset(self.client.usergroups_users_list(usergroup=group_id)["users"])
        with self._lock:
            self._groups[group_id] = (self.clock(), members)
        return members

    def _cached(self, cache: dict[str, tuple[float, V]], key: str, ttl: float) -> tuple[float, V] | None:
        with self._lock:
            hit = cache.get(key)
        if hit is not None and self.clock() - hit[0] < ttl:
            return hit
        return None
