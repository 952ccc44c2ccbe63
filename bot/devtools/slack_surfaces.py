"""The fake Slack's answers about people, channels and views: ``conversations.*``, ``users.info``,
``usergroups.users.list``, ``views.open`` / ``views.update`` / ``views.publish``, and ``apps.connections.open``
(Socket Mode). A part of ``FakeSlack``, as Slack behaves (see ``slack_api``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from .signing import API_APP_ID
from .slack_wire import SocketModeEndpoint


class Surfaces:
    """``FakeSlack``'s handlers of those methods (the state is the fake's)."""

    _lock: threading.RLock
    team_id: str
    users: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]
    channels: dict[str, dict[str, Any]]
    views: list[dict[str, Any]]
    homes: dict[str, dict[str, Any]]
    scopes: list[str]
    socket_mode: SocketModeEndpoint | None
    _view_hashes: dict[str, str]
    _home_ids: dict[str, str]
    _used_triggers: set[str]

    def _conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = p.get("users")
        if isinstance(users, list):
            users = ",".join(str(u) for u in users)
        ids = [u.strip() for u in str(users or "").split(",") if u.strip()]
        if not ids:
            if p.get("channel"):
                return {"ok": True, "channel": {"id": str(p["channel"])}}
            return {"ok": False, "error": "users_list_not_supplied"}
        channel_id = "D" + ids[0] if len(ids) == 1 else "G" + "".join(ids)
        return {"ok": True, "channel": {"id": channel_id}}

    def _conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            channel = self.channels.get(str(p.get("channel") or ""))
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            needed = "groups:read" if channel["is_private"] else "channels:read"
            if needed not in self.scopes:
                return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(self.scopes)}
            return {"ok": True, "channel": dict(channel)}

    def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self.users.get(str(p.get("user") or ""))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": json.loads(json.dumps(user))}

    def _usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            members = self.groups.get(str(p.get("usergroup") or ""))
            if members is None:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": list(members)}

    def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        """As Slack: a ``trigger_id`` works once, for 3 seconds after the interaction that carried it (the
        fake reads its issue time from the ID the signing helpers mint: ``<epoch ms>.<random>.<hex>``)."""
        trigger, view = str(p.get("trigger_id") or ""), p.get("view")
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if len(str((view.get("title") or {}).get("text", ""))) > 24 or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        try:
            issued = int(trigger.split(".", 1)[0]) / 1000
        except ValueError:
            return {"ok": False, "error": "invalid_trigger_id"}
        with self._lock:
            if trigger in self._used_triggers:
                return {"ok": False, "error": "exchanged_trigger_id"}
            if time.time() - issued > 3.0:
                return {"ok": False, "error": "expired_trigger_id"}
            self._used_triggers.add(trigger)
            self.views.append(json.loads(json.dumps(view)))
            view_id = f"V{len(self.views)}"
            self._view_hashes[view_id] = f"{time.time():.6f}.h{len(self.views)}"
            return {"ok": True, "view": {**view, "id": view_id, "hash": self._view_hashes[view_id]}}

    def _views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        """As Slack: the modal ``view_id`` (from ``views.open``) becomes ``view`` (in :attr:`views`, in its place);
        with a ``hash``, only if the modal has not changed since (else ``hash_conflict``)."""
        view_id, view, given = str(p.get("view_id") or ""), p.get("view"), p.get("hash")
        if not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        if len(str((view.get("title") or {}).get("text", ""))) > 24 or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if view_id not in self._view_hashes:
                return {"ok": False, "error": "not_found"}
            if given and given != self._view_hashes[view_id]:
                return {"ok": False, "error": "hash_conflict"}
            self.views[int(view_id[1:]) - 1] = json.loads(json.dumps(view))
            self._view_hashes[view_id] = f"{time.time():.6f}.u{view_id}"
            return {"ok": True, "view": {**view, "id": view_id, "hash": self._view_hashes[view_id]}}

    def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        """As Slack: a ``home`` view of at most 100 blocks becomes that user's Home (kept in :attr:`homes`, with
        what Slack adds: the view's ID, one per user, and the ``app_id``/``bot_id`` that published it)."""
        user_id, view = str(p.get("user_id") or ""), p.get("view")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home" or len(view.get("blocks") or []) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            view_id = self._home_ids.setdefault(user_id, f"V{len(self._home_ids) + 1}")
            published: dict[str, Any] = {
                **json.loads(json.dumps(view)), "id": view_id, "team_id": self.team_id, "app_id": API_APP_ID,
                "bot_id": "BBOT", "app_installed_team_id": self.team_id, "root_view_id": view_id,
                "previous_view_id": None, "state": {"values": {}}, "hash": f"{time.time():.6f}.{view_id}"}
            self.homes[user_id] = published
            return {"ok": True, "view": json.loads(json.dumps(published))}

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home last published for ``user_id`` (as a click on it carries it), or ``None``."""
        with self._lock:
            found = self.homes.get(user_id)
            return json.loads(json.dumps(found)) if found is not None else None

    def _apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode is None:
            return {"ok": False, "error": "not_allowed_token_type"}  # no Socket Mode endpoint attached
        return {"ok": True, "url": self.socket_mode.connection_url()}
