"""Requests Slack would never send, answered with a 4xx and one log line: nothing posted, stored or called.

Two gates, both after the signature check (an unsigned request is a 401, whatever it holds):

* ``unreadable(body, content_type)``: the raw body is not what Slack sends (a ``payload`` that is not a JSON
  object, JSON that is not an object). The WSGI app checks this before Bolt, which would fail parsing it.
* ``WellFormed``: a Bolt middleware (first in the chain) that refuses a signed payload lacking what its kind
  always carries: a click without a user or an action, a form submission without a view, an event callback
  without its event, a command without its user.

Well-formed requests no listener handles (an unknown action or view) are answered 404 by Bolt and logged in one
line by the app's error handler (``slack.app``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

log = logging.getLogger("bot.slack")


def unreadable(body: str, content_type: str | None) -> str | None:
    """What makes a raw request body unreadable as Slack's, or ``None`` when it reads."""
    if not body:
        return None  # Bolt answers an empty body itself (no signature to check against: 401)
    try:
        if (content_type or "").startswith("application/json") or body.startswith("{"):
            parsed: Any = json.loads(body)
        else:
            params = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" not in params:
                return None
            parsed = json.loads(params["payload"])
    except ValueError:
        return "its payload is not JSON"
    return None if isinstance(parsed, dict) else "its payload is not a JSON object"


def _user_id(body: dict[str, Any]) -> Any:
    user = body.get("user")
    return user.get("id") if isinstance(user, dict) else None


def _malformed(body: dict[str, Any]) -> str | None:
    """What a payload of its kind always carries and this one lacks, or ``None``."""
    kind = body.get("type")
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
    if "command" in body:
        return None if body.get("user_id") and body.get("command") else "a command without its user"
    if kind is None:
        return "no kind of request Slack sends"
    return None  # other kinds (url_verification …) are Bolt's


class WellFormed(Middleware):
    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        problem = _malformed(req.body) if isinstance(req.body, dict) else "a body that is not an object"
        if problem is None:
            return next()
        log.warning("refused a malformed Slack request: %s", problem)
        return BoltResponse(status=400, body=json.dumps({"error": "malformed request", "why": problem}))
