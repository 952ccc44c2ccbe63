"""Build and sign requests exactly as Slack sends them, for end-to-end tests over HTTP.

``text`` arguments are passed through as Slack would deliver them: with the command's escaping on,
a test should pass ``<mailto:a@b.com|a@b.com>`` and ``&amp;`` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

__all__ = ["app_home_opened_body", "block_action_body", "block_action_payload", "home_action_body",
           "home_action_payload", "sign", "slash_command_body"]

JSON = "application/json"

FORM = "application/x-www-form-urlencoded"

#: Default response_url: a loopback port nothing listens on, so a stray reply fails fast and
#: never leaves the machine. Pass ``FakeSlack.response_url(key)`` to record replies.
UNROUTED_RESPONSE_URL = "http://127.0.0.1:9/response/unset"

API_APP_ID = "A0TESTAPP"
VERIFICATION_TOKEN = "verification-token-unused"


def sign(
    secret: str,
    body: bytes | str,
    timestamp: int | None = None,
    *,
    content_type: str = FORM,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: ``v0=`` + hex HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    ts = int(time.time()) if timestamp is None else timestamp
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(ts).encode("ascii") + b":" + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def _trigger_id() -> str:
    """Shaped like Slack's; the first part is the issue time in epoch ms, which the fake's views.open reads
    to refuse a trigger older than Slack's 3 seconds."""
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def slash_command_body(
    text: str,
    *,
    user_id: str = "U_REQ",
    command: str = "/impersonate",
    team_id: str = "T0001",
    channel_id: str = "C_SUPPORT",
    response_url: str = UNROUTED_RESPONSE_URL,
    user_name: str | None = None,
    channel_name: str | None = None,
    trigger_id: str | None = None,
) -> str:
    """The form body of a slash command, with every field Slack sends, in Slack's order."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "test-team",
        "channel_id": channel_id,
        "channel_name": channel_name
        or ("directmessage" if channel_id.startswith("D") else channel_id.lower().removeprefix("c_")),
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }
    return urlencode(fields)


def block_action_payload(
    action_id: str,
    value: str,
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = "T0001",
    block_id: str = "decision",
    button_text: str | None = None,
    message_text: str = "",
    user_name: str | None = None,
) -> dict[str, Any]:
    """The ``block_actions`` payload of a button click on a message the bot posted."""
    name = user_name or user_id.lower()
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": "test-team"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": {
            "ts": message_ts,
            "text": message_text,
            "type": "message",
            "user": "UBOT",
            "bot_id": "BBOT",
            "blocks": [],
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
                "text": {
                    "type": "plain_text",
                    "text": button_text or action_id.replace("_", " ").title(),
                    "emoji": True,
                },
            }
        ],
    }


def block_action_body(
    action_id: str,
    value: str,
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    team_id: str = "T0001",
    block_id: str = "decision",
    button_text: str | None = None,
    message_text: str = "",
) -> str:
    """``payload=<json>``, form-encoded, as Slack POSTs a button click."""
    payload = block_action_payload(
        action_id,
        value,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        response_url=response_url,
        team_id=team_id,
        block_id=block_id,
        button_text=button_text,
        message_text=message_text,
    )
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def app_home_opened_body(user_id: str, *, tab: str = "home", team_id: str = "T0001",
                         view: dict[str, Any] | None = None) -> str:
    """The JSON body of an ``app_home_opened`` event, as Slack POSTs it (sign it with ``content_type=JSON``).
    ``view``: the Home the user had (absent the first time)."""
    event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id, "tab": tab,
                             "event_ts": f"{time.time():.6f}"}
    if view is not None:
        event["view"] = view
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": "UBOT", "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    return json.dumps(body, separators=(",", ":"))


def home_action_payload(action_id: str, value: str, *, user_id: str, view: dict[str, Any], team_id: str = "T0001",
                        block_id: str = "home", user_name: str | None = None) -> dict[str, Any]:
    """The ``block_actions`` payload of a button click on an App Home: the container is the view, the whole
    ``view`` (as ``FakeSlack.home`` keeps it: ``id``, ``type`` home, ``bot_id``, ``app_id`` …) comes along,
    and there is no channel, message or response URL."""
    name = user_name or user_id.lower()
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": "test-team"},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id.rsplit(".", 1)[-1].title(), "emoji": True},
            }
        ],
    }


def home_action_body(action_id: str, value: str, *, user_id: str, view: dict[str, Any], **kw: Any) -> str:
    """``payload=<json>``, form-encoded, as Slack POSTs a click on an App Home."""
    payload = home_action_payload(action_id, value, user_id=user_id, view=view, **kw)
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
