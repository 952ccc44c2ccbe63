"""Requests Slack would never send, answered with a 4xx and one log line: nothing posted, stored or called.

Two gates, both after the signature check (an unsigned request is a 401, whatever it holds):

* ``read(body, content_type)``: the raw body read once, as Slack meant it, and what makes it unfit if it is not what
  Slack sends (a ``payload`` that is not a JSON object, JSON that is not an object, a field Bolt's own reading of every
  request trips over, or any of the below). The WSGI app checks this before Bolt, which would fail parsing it (a 500
  and a traceback), and hands Bolt what it read (``ReadRequest``).
* ``WellFormed``: a Bolt middleware (first in the chain) that refuses a signed payload lacking what its kind
  always carries (a click without a user or an action, a form submission without a view, an event callback
  without its event, a command without its user) or holding a field of another type than Slack sends (a
  ``channel`` that is a string, not an object; a text input's value that is a number): every field a listener
  reads is checked here, once, against its kind's shape (``_SHAPES``), so no listener meets a surprise.

Well-formed requests no listener handles (an unknown action or view) are answered 404 by Bolt and logged in one
line by the app's error handler (``slack.app``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_bolt.request.internals import build_context

log = logging.getLogger("bot.slack")


class Reading(NamedTuple):
    body: dict[str, Any]  # as Slack meant it ({} when unfit)
    problem: str | None = None  # what makes it unfit for Bolt
    checked: bool = False  # found well formed here (``WellFormed`` need not look again)


def read(body: str, content_type: str | None) -> Reading:
    """The body as Slack meant it, and what makes it unfit for Bolt (``None`` when Bolt may have it): JSON (an event),
    the JSON of a form's ``payload`` field (a click, a form submission), or the form's fields (a command, Bolt's
    ``ssl_check``: checked by Bolt's middleware and ``WellFormed``). Unfit: a payload that is not a JSON object, one
    Bolt's own reading of every request trips over, or one of another type than Slack sends (``_malformed``). The
    caller answers 401 unless it is signed, else 400: Bolt never sees it.

    Read here once and handed to Bolt (``ReadRequest``): Bolt's reading of a form looks for the word ``payload``
    anywhere in the body, so it read a command whose text holds it as an empty request."""
    if not body:
        return Reading({})  # Bolt answers an empty body itself (no signature to check against: 401)
    try:
        if (content_type or "").startswith("application/json") or body.startswith("{"):
            parsed: Any = json.loads(body)
        else:
            params = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" not in params:
                return Reading(params)
            parsed = json.loads(params["payload"])
    except ValueError:
        return Reading({}, "its payload is not JSON")
    if not isinstance(parsed, dict):
        return Reading({}, "its payload is not a JSON object")
    try:  # what Bolt reads of every request (IDs of the team, user, channel …) before any listener or middleware
        build_context(BoltContext({"logger": log}), parsed)
    except Exception as exc:
        return Reading({}, f"a payload Bolt cannot read ({type(exc).__name__})")
    problem = _malformed(parsed)
    return Reading({} if problem else parsed, problem, checked=problem is None)


class ReadRequest(BoltRequest):
    """A Bolt request over HTTP whose body was read once, by ``read``: Bolt checks the signature against the raw body
    as ever, and reads the body as ``read`` did (Bolt's own reading would parse it again). ``checked``: ``read``
    already found it well formed (``WellFormed`` does not look again)."""

    def __init__(self, *, raw_body: str, body: dict[str, Any], query: str | dict[str, Sequence[str]],
                 headers: dict[str, str | Sequence[str]], checked: bool, context: dict[str, Any] | None = None) -> None:
        super().__init__(body=body, query=query, headers=headers, context=context, mode="socket_mode")  # a dict body
        self.raw_body = raw_body  # what the signature signs
        self.mode = "http"  # so that Bolt checks it
        self.checked = checked

    def to_copyable(self) -> ReadRequest:
        return ReadRequest(raw_body=self.raw_body, body=self.body, query=self.query,
                           headers=dict(self.headers), checked=self.checked, context=self.context.to_copyable())


class Each:
    """A shape for an object whose keys are not fixed (a form's blocks, a block's inputs): every value has ``shape``."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape


#: A field's shape: ``str`` (a string), a dict of the shapes of an object's keys (each optional, unknown keys
#: allowed), a one-element list (a list of that), or ``Each``. ``None`` (JSON ``null``) passes anywhere.
Shape = type | dict[str, "Shape"] | list["Shape"] | Each

_USER: Shape = {"id": str, "team_id": str, "username": str}
_TEAM: Shape = {"id": str, "domain": str}
_INPUTS: Shape = Each(Each({"type": str, "value": str, "selected_option": {"value": str}}))
_VIEW: Shape = {"id": str, "type": str, "callback_id": str, "private_metadata": str, "hash": str, "bot_id": str,
                "app_id": str, "team_id": str, "app_installed_team_id": str, "state": {"values": _INPUTS}}
_SHAPES: dict[str, Shape] = {
    "block_actions": {"user": _USER, "team": _TEAM, "api_app_id": str, "trigger_id": str, "response_url": str,
                      "actions": [{"action_id": str, "block_id": str, "value": str, "type": str}],
                      "channel": {"id": str}, "container": {"type": str, "channel_id": str, "message_ts": str},
                      "message": {"ts": str}, "view": _VIEW},
    "view_submission": {"user": _USER, "team": _TEAM, "api_app_id": str, "trigger_id": str, "view": _VIEW},
    "view_closed": {"user": _USER, "team": _TEAM, "view": _VIEW},
    "shortcut": {"user": _USER, "team": _TEAM, "callback_id": str, "trigger_id": str},
    "message_action": {"user": _USER, "team": _TEAM, "callback_id": str, "trigger_id": str, "response_url": str},
    "event_callback": {"team_id": str, "api_app_id": str, "event": {"type": str, "user": str, "tab": str}},
    "command": {"user_id": str, "team_id": str, "command": str, "text": str, "response_url": str,
                "trigger_id": str, "channel_id": str, "api_app_id": str},
}


def _misfit(value: Any, shape: Shape, path: str) -> str | None:
    """Where ``value`` differs from ``shape``: "<path> is not a string" (or an object, or a list), or ``None``."""
    if value is None:
        return None
    if isinstance(shape, dict | Each):
        if not isinstance(value, dict):
            return f"{path} is not an object"
        fields = value.items() if isinstance(shape, Each) else ((k, value.get(k)) for k in shape)
        for key, item in fields:
            inner = shape.shape if isinstance(shape, Each) else shape[key]
            problem = _misfit(item, inner, f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{path} is not a list"
        return next((p for i, item in enumerate(value) if (p := _misfit(item, shape[0], f"{path}[{i}]"))), None)
    return None if isinstance(value, shape) else f"{path} is not a {'string' if shape is str else shape.__name__}"


def _user_id(body: dict[str, Any]) -> Any:
    user = body.get("user")
    return user.get("id") if isinstance(user, dict) else None


def _malformed(body: dict[str, Any]) -> str | None:
    """What a payload of its kind always carries and this one lacks, or a field of another type than Slack
    sends; ``None`` when it is well formed."""
    kind = "command" if "command" in body and "type" not in body else body.get("type")
    shape = _SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is not None:
        misfit = _misfit(body, shape, "")
        if misfit:
            return f"a {kind} payload whose {misfit.lstrip('.')}"
    return _missing(kind, body)


def _missing(kind: Any, body: dict[str, Any]) -> str | None:
    """What a payload of its kind always carries and this one lacks, or ``None``."""
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict) \
                or not actions[0].get("action_id"):
            return "a click without an action"
        return None if _user_id(body) else "a click without a user"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict) or not view.get("callback_id") or not view.get("type"):
            return "a form submission without its view"
        return None if _user_id(body) else "a form submission without a user"
    if kind in ("shortcut", "message_action"):
        return None if body.get("callback_id") and _user_id(body) else "a shortcut without its id or user"
    if kind == "event_callback":
        event = body.get("event")
        return None if isinstance(event, dict) and event.get("type") else "an event callback without its event"
    if kind == "command":
        return None if body.get("user_id") and body.get("command") else "a command without its user"
    if kind is None:
        return "no kind of request Slack sends"
    return None  # other kinds (url_verification …) are Bolt's


class WellFormed(Middleware):
    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        if isinstance(req, ReadRequest) and req.checked:
            return next()
        problem = _malformed(req.body) if isinstance(req.body, dict) else "a body that is not an object"
        if problem is None:
            return next()
        log.warning("refused a malformed Slack request: %s", problem)
        return BoltResponse(status=400, body=json.dumps({"error": "malformed request", "why": problem}))
