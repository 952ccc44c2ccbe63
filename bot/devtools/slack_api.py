"""A fake Slack Web API (plus a response_url sink) on 127.0.0.1, for end-to-end tests.

Point ``WebClient(base_url=fake.url)`` (or the bot's ``SLACK_API_URL``) at it. Every call is recorded
as a :class:`SlackCall`; the messages the bot posted are kept in :attr:`FakeSlack.messages` with
their current text and blocks (updated by ``chat.update``, removed by ``chat.delete``).

Behaviours worth knowing:

* ``chat.postMessage`` to a user ID (``U…``/``W…``) lands in the DM channel ``"D" + user_id``, the same
  ID ``conversations.open`` answers, as Slack posts such messages to the app's DM.
* ``chat.update``/``chat.delete`` of a message the fake never saw answer ``message_not_found``
  (as Slack does, e.g. when a user ID is passed instead of the ``D…`` channel ID).
* Calls with a bad token are recorded too, with ``params["_failed"] = True``, as are injected faults.
* ``views.publish`` keeps each user's Home (:meth:`FakeSlack.home`), refusing what Slack refuses (not a
  ``home`` view, more than 100 blocks).
* ``apps.connections.open`` takes the app-level token (``app_token``, not the bot token) and answers
  the URL of the Socket Mode fake attached with :meth:`FakeSlack.attach_socket_mode`
  (``tests/fakes/socket_mode.py``); with none attached it answers ``not_allowed_token_type``.
* Every answer to the bot token carries the ``x-oauth-scopes`` header, as Slack's do: :attr:`FakeSlack.scopes`
  (default: the manifest's bot scopes).
* ``conversations.info`` knows the channels added with :meth:`FakeSlack.add_channel` (``is_member`` per channel),
  needs ``channels:read`` (``groups:read`` for a private one) among the scopes, else ``missing_scope``, and
  answers ``channel_not_found`` for any other channel.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from bot.cli.check import MANIFEST, manifest_bot_scopes

from ._base import FakeServer, Request, Response, decode_json_object
from .signing import API_APP_ID

__all__ = ["TEXT_METHODS", "FakeSlack", "SlackCall", "collect_text"]

#: Methods whose text reaches people (what :meth:`FakeSlack.all_text_sent` looks at).
TEXT_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")

# Fields that may arrive as a JSON string inside a form body.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "user_auth_blocks")
# Structural keys skipped when collecting the text of blocks.
_NON_TEXT_KEYS = frozenset({"type", "block_id", "action_id", "style", "color", "callback_id"})

_TS_BASE_MICROS = 1_700_000_000 * 1_000_000
_TS_STEP_MICROS = 100


class SocketModeEndpoint(Protocol):
    """What :meth:`FakeSlack.attach_socket_mode` needs: a fresh WebSocket URL per call."""

    def connection_url(self) -> str: ...


@dataclass
class SlackCall:
    method: str  # e.g. "chat.postMessage", or "response_url"
    params: dict[str, Any]  # query + body merged; JSON-string blocks/attachments decoded
    at: float  # time.time() when received


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


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


def _params_text(params: dict[str, Any]) -> str:
    parts: list[str] = []
    text = params.get("text")
    if isinstance(text, str) and text:
        parts.append(text)
    for key in ("blocks", "attachments"):
        parts.extend(collect_text(params.get(key)))
    return "\n".join(parts)


class FakeSlack(FakeServer[SlackCall]):
    """Fake Slack Web API. ``with FakeSlack() as slack: WebClient(token=..., base_url=slack.url)``."""

    def __init__(
        self, bot_token: str = "xoxb-test-token", *, team_id: str = "T0001", app_token: str = "xapp-1-test"
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token  # the only token apps.connections.open accepts, as on Slack
        self.socket_mode: SocketModeEndpoint | None = None
        self.team_id = team_id
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, list[str]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._faults: dict[str, _Fault] = {}
        self._ts_counter = itertools.count(1)
        self._response_targets: dict[str, tuple[str | None, str | None]] = {}
        self.views: list[dict[str, Any]] = []  # modals opened with views.open, in order (as views.update left them)
        self._view_hashes: dict[str, str] = {}  # each modal's ID -> its current hash
        self.homes: dict[str, dict[str, Any]] = {}  # each user's Home, as last published with views.publish
        self._home_ids: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self.scopes: list[str] = manifest_bot_scopes(MANIFEST.read_text())  # sent as the x-oauth-scopes header
        self.channels: dict[str, dict[str, Any]] = {}

    # -- URLs ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Web API base URL, with the trailing slash slack_sdk needs: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.origin}/api/"

    def response_url(self, key: str, *, channel: str | None = None, message_ts: str | None = None) -> str:
        """A response_url that records what is POSTed to it as ``SlackCall("response_url", ...)``.

        Give ``channel`` (and, for block actions, the clicked message's ``message_ts``) to make
        ``replace_original``/``delete_original``/``in_channel`` answers act on :attr:`messages` and
        to attribute the text to that channel in :meth:`all_text_sent`.
        """
        with self._lock:
            self._response_targets[key] = (channel, message_ts)
        return f"{self.origin}/response/{key}"

    def attach_socket_mode(self, endpoint: SocketModeEndpoint | None) -> None:
        """Make ``apps.connections.open`` (with :attr:`app_token`) answer URLs of ``endpoint``
        (a :class:`bot.devtools.socket_mode.FakeSocketMode`); ``None`` detaches it."""
        self.socket_mode = endpoint

    # -- registries ----------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        email: str | None,
        name: str | None = None,
        *,
        real_name: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Register a user for ``users.info``. ``email=None`` leaves the profile without an email."""
        handle = name or (email.split("@", 1)[0] if email else user_id.lower())
        real = real_name or handle.replace(".", " ").title()
        profile: dict[str, Any] = {"real_name": real, "display_name": handle}
        if email is not None:
            profile["email"] = email
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle,
            "real_name": real,
            "deleted": deleted,
            "is_bot": is_bot,
            "profile": profile,
        }
        with self._lock:
            self.users[user_id] = user
        return user

    def add_group(self, group_id: str, members: Iterable[str]) -> None:
        """Register a user group (``S…``) for ``usergroups.users.list``."""
        with self._lock:
            self.groups[group_id] = list(members)

    def add_channel(self, channel_id: str, name: str = "approvals", *, is_member: bool = True,
                    is_private: bool = False, is_archived: bool = False) -> None:
        """Register a channel for ``conversations.info``; ``is_member``: whether the bot is in it (a post to a channel
        it is not in is refused with ``not_in_channel``, as Slack does for a bot without ``chat:write.public``);
        ``is_archived``: posts refused with ``is_archived``. Calling it again changes the channel (an invite)."""
        with self._lock:
            self.channels[channel_id] = {"id": channel_id, "name": name, "is_channel": True,
                                         "is_private": is_private, "is_member": is_member,
                                         "is_archived": is_archived}

    # -- fault injection -----------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error.

        429 → ``{"ok": false, "error": "ratelimited"}`` (plus ``Retry-After``); ``status=200,
        error="x"`` → HTTP 200 ``{"ok": false, "error": "x"}``; other statuses → that status with
        ``error`` (default ``"fatal_error"``). ``Retry-After`` is sent for any non-200 status when
        ``retry_after`` is not None.
        """
        with self._lock:
            self._faults[method] = _Fault(status, retry_after, error, count)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(method)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[method]
            return fault

    # -- queries -------------------------------------------------------------------------------
    def calls_of(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def wait_for_call(
        self,
        method: str,
        where: Callable[[SlackCall], bool] | None = None,
        timeout: float = 10.0,
    ) -> SlackCall:
        """The first recorded ``method`` call matching ``where``, waiting for it up to ``timeout``."""

        def find() -> SlackCall | None:
            for call in self.calls_of(method):
                if where is None or where(call):
                    return call
            return None

        label = method if where is None else f"{method} matching {getattr(where, '__name__', 'where')}"
        return self.wait_for(find, timeout=timeout, message=label)

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
            return _params_text(msg)

    def all_text_sent(self, exclude_channels_starting_with: str | None = None) -> list[tuple[str, str, str]]:
        """``(method, channel, text)`` of everything sent via postMessage/update/postEphemeral/response_url.

        Failed (rate-limited, bad-token) attempts are included: their text left the bot.
        ``channel`` of a message posted to a user ID is the DM ``"D" + user_id``; of a response_url it
        is the channel given to :meth:`response_url` or ``""`` when none was.
        """
        out: list[tuple[str, str, str]] = []
        for call in self.calls:
            if call.method not in TEXT_METHODS:
                continue
            if call.method == "response_url":
                with self._lock:
                    channel = self._response_targets.get(str(call.params.get("key")), (None, None))[0] or ""
            else:
                channel = _dm_channel(str(call.params.get("channel") or ""))
            if exclude_channels_starting_with and channel.startswith(exclude_channels_starting_with):
                continue
            out.append((call.method, channel, _params_text(call.params)))
        return out

    def _describe(self, call: SlackCall) -> str:
        return call.method + (" (failed)" if call.params.get("_failed") else "")

    # -- HTTP ----------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        with self._lock:
            micros = _TS_BASE_MICROS + next(self._ts_counter) * _TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/response/"):
            return self._handle_response_url(request, unquote(request.path[len("/response/") :]))
        if not request.path.startswith("/api/"):
            return Response(status=404, body=b"not found", content_type="text/plain")
        method = request.path[len("/api/") :]
        params = _parse_params(request)
        call = self._record(SlackCall(method=method, params=params, at=time.time()))

        token = _bearer(request.header("authorization")) or params.get("token")
        if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
            params["_failed"] = True
            wrong_kind = token in (self.bot_token, self.app_token)
            return Response.json({"ok": False, "error": "not_allowed_token_type" if wrong_kind else "invalid_auth"})

        fault = self._take_fault(method)
        if fault is not None:
            params["_failed"] = True
        self._sleep_latency(method)
        if fault is not None:
            return _fault_response(fault)
        return Response.json(self._answer(call), headers={"x-oauth-scopes": ",".join(self.scopes)})

    def _handle_response_url(self, request: Request, key: str) -> Response:
        body = decode_json_object(request.body) if request.content_type != "application/x-www-form-urlencoded" else None
        if body is None:
            body = _parse_params(request)
        params: dict[str, Any] = {"key": key, **body}
        _decode_json_fields(params)
        self._record(SlackCall(method="response_url", params=params, at=time.time()))
        fault = self._take_fault("response_url")
        if fault is not None:
            params["_failed"] = True
        self._sleep_latency("response_url")
        if fault is not None:
            return _fault_response(fault)

        with self._lock:
            channel, message_ts = self._response_targets.get(key, (None, None))
        if channel is not None:
            if params.get("delete_original") in (True, "true") and message_ts is not None:
                with self._lock:
                    self.messages.pop((channel, message_ts), None)
            elif params.get("replace_original") in (True, "true") and message_ts is not None:
                self._store_message(channel, message_ts, params, edited=True)
            elif params.get("response_type") == "in_channel":
                self._store_message(channel, self._next_ts(), params, edited=False)
        return Response.json({"ok": True})

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

    def _answer(self, call: SlackCall) -> dict[str, Any]:
        method, p = call.method, call.params
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": True}
        return handler(self, p)

    # -- method implementations (all return the JSON answer) -----------------------------------
    def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test-team.slack.com/",
            "team": "Test Team",
            "user": "impersonation-bot",
            "team_id": self.team_id,
            "user_id": "UBOT",
            "bot_id": "BBOT",
            "is_enterprise_install": False,
        }

    def _post_message(self, p: dict[str, Any]) -> dict[str, Any]:
        raw_channel = str(p.get("channel") or "")
        if not raw_channel:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            return {"ok": False, "error": "no_text"}
        channel = _dm_channel(raw_channel)
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


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "chat.delete": FakeSlack._delete,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "conversations.open": FakeSlack._conversations_open,
    "conversations.info": FakeSlack._conversations_info,
    "users.info": FakeSlack._users_info,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "views.open": FakeSlack._views_open,
    "views.update": FakeSlack._views_update,
    "views.publish": FakeSlack._views_publish,
    "apps.connections.open": FakeSlack._apps_connections_open,
}


def _dm_channel(channel: str) -> str:
    """Slack posts a message addressed to a user ID into that user's DM with the app."""
    return "D" + channel if channel[:1] in ("U", "W") else channel


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _parse_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if ctype == "application/json":
        body = decode_json_object(request.body)
        if body is not None:
            params.update(body)
    elif request.body and ctype in ("application/x-www-form-urlencoded", ""):
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    # multipart (files.upload) bodies are not parsed: the query string is all we keep.
    _decode_json_fields(params)
    return params


def _decode_json_fields(params: dict[str, Any]) -> None:
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)


def _fault_response(fault: _Fault) -> Response:
    error = fault.error or ("ratelimited" if fault.status == 429 else "fatal_error")
    headers: dict[str, str] = {}
    if fault.retry_after is not None and fault.status != 200:
        headers["Retry-After"] = str(fault.retry_after)
    return Response.json({"ok": False, "error": error}, status=fault.status, headers=headers)
