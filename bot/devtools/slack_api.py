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
  (``bot/devtools/socket_mode.py``); with none attached it answers ``not_allowed_token_type``.
* Every answer to the bot token carries the ``x-oauth-scopes`` header, as Slack's do: :attr:`FakeSlack.scopes`
  (default: the manifest's bot scopes).
* ``rate_limit`` plays Slack's rate limits (per method, or per method and channel): beyond, 429 ``ratelimited`` with
  ``Retry-After``.
* ``conversations.info`` knows the channels added with :meth:`FakeSlack.add_channel` (``is_member`` per channel),
  needs ``channels:read`` (``groups:read`` for a private one) among the scopes, else ``missing_scope``, and
  answers ``channel_not_found`` for any other channel.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from bot.slack.manifest import MANIFEST, bot_scopes

from ._base import FakeServer, Request, Response, decode_json_object
from .slack_messages import Messages
from .slack_surfaces import Surfaces
from .slack_wire import (
    TEXT_METHODS,
    Fault,
    RateLimits,
    SlackCall,
    SocketModeEndpoint,
    bearer,
    collect_text,
    decode_json_fields,
    dm_channel,
    fault_response,
    params_text,
    parse_params,
)

__all__ = ["TEXT_METHODS", "FakeSlack", "SlackCall", "collect_text"]



class FakeSlack(Messages, Surfaces, FakeServer[SlackCall]):
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
        self._faults: dict[str, Fault] = {}
        self._rates = RateLimits()
        self._ts_counter = itertools.count(1)
        self._response_targets: dict[str, tuple[str | None, str | None]] = {}
        self.views: list[dict[str, Any]] = []  # modals opened with views.open, in order (as views.update left them)
        self._view_hashes: dict[str, str] = {}  # each modal's ID -> its current hash
        self.homes: dict[str, dict[str, Any]] = {}  # each user's Home, as last published with views.publish
        self._home_ids: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self.scopes: list[str] = bot_scopes(MANIFEST.read_text())  # sent as the x-oauth-scopes header
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
            self._faults[method] = Fault(status, retry_after, error, count)

    def rate_limit(self, method: str, calls: int | None, *, window: float = 1.0, per_channel: bool = False) -> None:
        """Allow ``method`` at most ``calls`` in any ``window`` seconds (``None``: no limit), per channel with
        ``per_channel``, as Slack's limits do (``RateLimits``; ``limited`` counts the calls refused, by method)."""
        self._rates.set(method, calls, window, per_channel)

    @property
    def limited(self) -> dict[str, int]:
        return self._rates.counted()

    def drop_next(self, method: str, count: int = 1) -> None:
        """Close the connection without answering the next ``count`` calls of ``method`` (a network that fails)."""
        with self._lock:
            self._faults[method] = Fault(0, None, None, count, drop=True)

    def _take_fault(self, method: str) -> Fault | None:
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
                channel = dm_channel(str(call.params.get("channel") or ""))
            if exclude_channels_starting_with and channel.startswith(exclude_channels_starting_with):
                continue
            out.append((call.method, channel, params_text(call.params)))
        return out

    def _describe(self, call: SlackCall) -> str:
        return call.method + (" (failed)" if call.params.get("_failed") else "")

    # -- HTTP ----------------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        if request.path.startswith("/response/"):
            return self._handle_response_url(request, unquote(request.path[len("/response/") :]))
        if not request.path.startswith("/api/"):
            return Response(status=404, body=b"not found", content_type="text/plain")
        method = request.path[len("/api/") :]
        params = parse_params(request)
        call = self._record(SlackCall(method=method, params=params, at=time.time()))

        token = bearer(request.header("authorization")) or params.get("token")
        if token != (self.app_token if method == "apps.connections.open" else self.bot_token):
            params["_failed"] = True
            wrong_kind = token in (self.bot_token, self.app_token)
            return Response.json({"ok": False, "error": "not_allowed_token_type" if wrong_kind else "invalid_auth"})

        fault = self._take_fault(method)
        wait = self._rates.refuse(method, str(params.get("channel") or "")) if fault is None else None
        if wait is not None:
            fault = Fault(429, wait, None, 1)
        if fault is not None:
            params["_failed"] = True
        self._sleep_latency(method)
        if fault is not None:
            return fault_response(fault)
        return Response.json(self._answer(call), headers={"x-oauth-scopes": ",".join(self.scopes)})

    def _handle_response_url(self, request: Request, key: str) -> Response:
        body = decode_json_object(request.body) if request.content_type != "application/x-www-form-urlencoded" else None
        if body is None:
            body = parse_params(request)
        params: dict[str, Any] = {"key": key, **body}
        decode_json_fields(params)
        self._record(SlackCall(method="response_url", params=params, at=time.time()))
        fault = self._take_fault("response_url")
        if fault is not None:
            params["_failed"] = True
        self._sleep_latency("response_url")
        if fault is not None:
            return fault_response(fault)

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
