"""Who is who, asked of Slack: a user's profile email, whether their account is active, and user-group membership,
cached briefly. Slack's own failures and its rate limit are raised as ``SlackUnavailable`` (``slack.unavailable``).

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
from bot.slack.unavailable import unavailable_as_such

EMAIL_TTL = 600.0
GROUP_TTL = 60.0

V = TypeVar("V")


class SlackDirectory:
    def __init__(self, client: WebClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, tuple[str | None, bool]]] = {}  # user → (email, active)
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def email_of(self, user_id: str) -> str | None:
        return self._user(user_id)[0]

    def is_active(self, user_id: str) -> bool:
        """Whether the person's Slack account is active (not deactivated: ``users.info`` → ``deleted``)."""
        return self._user(user_id)[1]

    def enough_active(self, principals: Collection[str], besides: str, needed: int) -> bool:
        """Whether at least ``needed`` people other than ``besides`` among ``principals`` (users, and the members of
        groups) are active (asking Slack about no more of them than it takes to know)."""
        active: set[str] = set()
        for principal in principals:
            for member in self._group(principal) if is_group_id(principal) else (principal,):
                if member != besides and member not in active and self.is_active(member):
                    active.add(member)
                    if len(active) >= needed:
                        return True
        return False

    @unavailable_as_such
    def _user(self, user_id: str) -> tuple[str | None, bool]:
        cached = self._cached(self._users, user_id, EMAIL_TTL)
        if cached is not None:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") != "user_not_found":
                raise
            user = {"deleted": True}
        active = not user.get("deleted") and not user.get("is_bot")
        found = (user.get("profile", {}).get("email") if active else None, active)
        with self._lock:
            self._users[user_id] = (self.clock(), found)
        return found

    def is_member(self, user_id: str, principals: Collection[str]) -> bool:
        if user_id in principals:
            return True
        return any(user_id in self._group(p) for p in principals if is_group_id(p))

    @unavailable_as_such
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
