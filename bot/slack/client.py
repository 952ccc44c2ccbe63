"""The Slack Web API client the bot uses everywhere: pointed at ``SLACK_API_URL``, with retries (``bot.slack.retries``:
rate limits and Slack's 5xx answers too, a post never sent again after Slack may have acted on it). A 429 holds its
method (a tier's limit is per method and workspace), or for ``chat.postMessage`` its channel, for every caller in every
serving process (``bot.transport.gate``, as for Descope): they wait their turn, or are told how long to wait without
calling, instead of each meeting the limit again.

A call's first attempt goes straight to the kept connections (``KeepAlive.post``): a 200, what nearly every call
gets, is the answer, without slack-sdk's ``Request`` and retry-handler objects around it (about a third of the
client's CPU per call, issue 28's profile), since none of the bot's retry handlers ever retries a 200. Anything else
(another status, an error, an answer that is no JSON object) is handed to slack-sdk's own retry loop as the outcome of
that first attempt, sent once: its handlers decide from there, as they did for every call.
"""

from __future__ import annotations

import email.message
import http.client
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
)

from bot.config import Settings
from bot.slack.retries import (
    ERRORS_ONLY,
    IN_THREAD_WAIT,
    handlers,
    rate_limited,
    retry_after,
    unheard,
)
from bot.transport.board import Board
from bot.transport.gate import Gate
from bot.transport.urllib_kept import KeepAlive, answer
from bot.workflows.ports import SlackUnavailable

#: Where a probe's client logs: nowhere (slack-sdk logs a failed request at ERROR; the caller says what failed, once).
_UNHEARD = unheard("bot.slack.probe")
_CHARSET = re.compile(r';\s*charset="?([^";\s]+)', re.IGNORECASE)  # a parameter of the type, as get_content_charset


class CountingWebClient(WebClient):
    """A ``WebClient`` that tells ``on_call`` (method, result) once per Web API call, after its retries:
    ``ok``, ``ratelimited`` (still 429 after them) or ``error``; that sends its calls over kept connections
    (``bot.transport.urllib_kept``, shared with its forks), the first attempt without slack-sdk's machinery (above).
    ``fork`` makes one for a Bolt request."""

    def __init__(self, *args: Any, on_call: Callable[[str, str], None] | None = None,
                 transport: KeepAlive | None = None, gate: Gate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_call = on_call
        self.transport = transport or KeepAlive(timeout=self.timeout, context=self.ssl)
        self.gate = gate
        # ``outcome``: the first attempt's, for slack-sdk's loop to take over; ``turns``: the call's place at the gate
        self._first = threading.local()

    def _perform_urllib_http_request(self, *, url: str, args: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """slack-sdk's, its first attempt made here: a 200 answers; anything else is that attempt's outcome in
        slack-sdk's own loop (``_perform_urllib_http_request_internal`` gives it back instead of sending)."""
        if (self.proxy is not None or not url.lower().startswith("http") or args["data"]
                or not all(type(handler) in ERRORS_ONLY for handler in self.retry_handlers)):
            whole: dict[str, Any] = super()._perform_urllib_http_request(url=url, args=args)
            return whole
        headers = args["headers"]
        body: bytes | None = None
        if args["json"]:  # what slack-sdk sends, as it sends it
            body = json.dumps(args["json"]).encode("utf-8")
            headers["Content-Type"] = "application/json;charset=utf-8"
        elif args["params"]:
            body = urlencode(args["params"]).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        sent = {name.capitalize(): value for name, value in headers.items()}  # as urllib's Request names them, once
        outcome: dict[str, Any] | Exception
        try:
            resp, data = self.transport.post(url, body, sent)
            self._heard(resp.status, resp.headers)
            if resp.status == 200 and (answered := _answered(resp, data)) is not None:
                return answered
            outcome = answer(url, resp, data)
        except Exception as exc:
            outcome = exc
        self._first.outcome = outcome
        try:
            result: dict[str, Any] = super()._perform_urllib_http_request(url=url, args=args)
            return result
        finally:
            self._first.outcome = None

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        first: dict[str, Any] | Exception | None = getattr(self._first, "outcome", None)
        if first is not None:  # the first attempt, made already: its outcome, not a second sending
            self._first.outcome = None
            if isinstance(first, Exception):
                raise first
            return first
        if self.proxy is not None or not url.lower().startswith("http"):  # through slack-sdk's urllib (a proxy)
            try:
                sent: dict[str, Any] = super()._perform_urllib_http_request_internal(url, req)
            except HTTPError as exc:
                self._heard(exc.code, exc.headers)
                raise
            self._heard(sent["status"], sent["headers"])
            return sent
        resp, data = self.transport.post(req.full_url, req.data if isinstance(req.data, bytes) else None,
                                         dict(req.header_items()))
        self._heard(resp.status, resp.headers)
        return answer(req.full_url, resp, data)

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        """The call, after its turn at Slack's rate limit (``gate``: a 429 holds its method, or its channel's posts,
        in every serving process): a turn further off than ``IN_THREAD_WAIT`` is not waited for, the call not made
        (``SlackUnavailable`` with the wait left, as for a 429)."""
        turns = None if self.gate is None else turns_of(api_method, kwargs)
        if turns is not None and self.gate is not None and self.gate.turn(turns, at_most=IN_THREAD_WAIT) is None:
            if self.on_call is not None:
                self.on_call(api_method, "ratelimited")
            wait = self.gate.left(turns)
            raise SlackUnavailable(f"{api_method} is rate-limited: Slack asked to wait {wait:.0f} s",
                                   retry_after=wait)
        self._first.turns = turns
        result = "error"
        try:
            response = super().api_call(api_method, *args, **kwargs)
            result = "ok"
            return response
        except SlackApiError as exc:
            result = "ratelimited" if rate_limited(exc) else "error"
            raise
        finally:
            self._first.turns = None
            if self.on_call is not None:
                self.on_call(api_method, result)

    def held_for(self, api_method: str) -> float:
        """How long until a call of ``api_method`` (to no channel) gets its turn (0: now): a caller that must not act
        on a call Slack would not take (the token shown, audited, then no modal) asks first."""
        turns = None if self.gate is None else turns_of(api_method, {})
        return 0.0 if turns is None or self.gate is None else self.gate.left(turns)

    def _heard(self, status: int, headers: Mapping[str, Any] | email.message.Message) -> None:
        """One attempt's answer, told to the gate: a 429 holds the call's turns, anything else Slack answered passed."""
        turns: str | None = getattr(self._first, "turns", None)
        if turns is None or self.gate is None:
            return
        if status == 429:
            self.gate.refused(turns, retry_after(dict(headers.items())))
        elif status < 500:
            self.gate.passed(turns)

    def fork(self, team_id: str | None) -> CountingWebClient:
        """A copy for one Bolt request (Bolt builds a plain ``WebClient`` per request otherwise)."""
        return CountingWebClient(token=self.token, base_url=self.base_url, timeout=self.timeout, ssl=self.ssl,
                                 proxy=self.proxy, headers=self.headers, team_id=team_id, logger=self.logger,
                                 retry_handlers=list(self.retry_handlers), on_call=self.on_call,
                                 transport=self.transport, gate=self.gate)


#: Methods whose calls share one rate limit per workspace (Slack's tiers), paced by the gate as one path each.
_TIERED = frozenset({"chat.update", "conversations.open", "views.open", "views.update", "views.publish",
                     "users.info", "usergroups.users.list"})


def turns_of(api_method: str, kwargs: Mapping[str, Any]) -> str | None:
    """The path at the gate a call takes its turn on: its method (a tier's limit is per method and workspace), or for
    a post to a channel, the channel (``chat.postMessage``: about one a second per channel; a DM's channel is one
    person's, its own limit never met in practice: not paced); ``None``: not paced."""
    if api_method in _TIERED:
        return f"slack:{api_method}"
    if api_method == "chat.postMessage":
        sent = kwargs.get("json") or kwargs.get("params") or {}
        channel = str(sent.get("channel") or "")
        if channel[:1] in ("C", "G"):
            return f"slack:chat.postMessage:{channel}"
    return None


def _answered(resp: http.client.HTTPResponse, data: bytes) -> dict[str, Any] | None:
    """A 200's answer as slack-sdk's loop returns it (its headers a plain dict, the first of each name, as
    ``dict(headers)`` makes it; the JSON object parsed), or ``None`` when it is not a JSON object (slack-sdk's loop
    says what it is instead)."""
    headers: dict[str, str] = {}
    for name, value in resp.headers.raw_items():
        headers.setdefault(name, value)
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    if content_type.lower().startswith("application/gzip"):
        return None
    found = _CHARSET.search(content_type)
    try:
        text = data.decode(found.group(1) if found else "utf-8")
        parsed = json.loads(text) if text.startswith("{") else None
    except (LookupError, ValueError):  # an unknown charset, undecodable bytes, or no JSON
        return None
    if not isinstance(parsed, dict):
        return None
    return {"status": 200, "headers": headers, "body": text, "parsed_body": parsed}


def make_client(settings: Settings, on_call: Callable[[str, str], None] | None = None,
                turns: Board | None = None) -> WebClient:
    """The bot's client; ``turns``: the board of the gate its calls wait their turn at (the serving processes'
    shared one), or none: not paced."""
    return CountingWebClient(
        on_call=on_call,
        gate=None if turns is None else Gate(board=turns),
        token=settings.slack_bot_token.get(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=handlers(),
    )


def probe_client(settings: Settings, token: str | None = None) -> WebClient:
    """A client for the questions asked before the bot runs (``serve``'s start, ``check``): 10 s at most per call,
    rate limits waited out, but no retry of a connection error and no log line of its own: the one who asks says
    what failed. ``token``: another than the bot token (the app-level token)."""
    return WebClient(token=token or settings.slack_bot_token.get(), base_url=settings.slack_api_url, timeout=10,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)], logger=_UNHEARD)
