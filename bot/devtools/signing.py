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

__all__ = [
    "app_home_opened_body", "block_action_body", "block_action_payload", "home_action_body", "home_action_payload",
    "shortcut_body", "sign", "slash_command_body", "view_state", "view_submission_body", "view_submission_payload",
]

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


def _form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def shortcut_body(callback_id: str, *, user_id: str, team_id: str = "T0001", trigger_id: str | None = None) -> str:
    """``payload=<json>``, form-encoded, as Slack POSTs a global shortcut (no channel, no response_url)."""
    name = user_id.lower()
    return _form({
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "test-team"},
        "user": {"id": user_id, "username": name, "team_id": team_id},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or _trigger_id(),
    })


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    return list(element.get("options") or []) + [
        o for group in element.get("option_groups") or [] for o in group.get("options") or []]


def view_state(view: dict[str, Any], answers: dict[str, str | None]) -> dict[str, Any]:
    """``view.state`` as Slack sends it for ``view`` (as the app opened it) once filled in: ``answers`` maps an
    input's action_id to what the person typed or chose (``None``: left empty). An input not in ``answers`` holds
    its initial value or option, as Slack presets it. A plain_text_input's value is under ``value`` (``None``
    when empty); a static_select's under ``selected_option`` (the option with that value, or, for a crafted
    submission, one made up with it)."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or not element.get("action_id"):
            continue
        action_id, kind = element["action_id"], element.get("type")
        if kind == "checkboxes":
            ticked = answers.get(action_id)
            values[str(block.get("block_id"))] = {action_id: {"type": kind, "selected_options": [
                o for o in element.get("options") or [] if ticked and o.get("value") in ticked.split(",")]}}
            continue
        if kind == "static_select":
            if action_id in answers:
                chosen = answers[action_id]
                option = None if chosen is None else next(
                    (o for o in _options(element) if o.get("value") == chosen),
                    {"text": {"type": "plain_text", "text": chosen, "emoji": True}, "value": chosen})
            else:
                option = element.get("initial_option")
            state: dict[str, Any] = {"type": kind, "selected_option": option}
        else:
            value = answers[action_id] if action_id in answers else element.get("initial_value")
            state = {"type": kind, "value": value or None}
        values[str(block.get("block_id"))] = {action_id: state}
    return {"values": values}


def view_submission_payload(
    view: dict[str, Any],
    answers: dict[str, str | None],
    *,
    user_id: str,
    team_id: str = "T0001",
    view_id: str = "V0FORM",
) -> dict[str, Any]:
    """The ``view_submission`` payload of ``view`` (as the app opened it), submitted with ``answers``."""
    name = user_id.lower()
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "test-team"},
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": view_state(view, answers),
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": False,
            "notify_on_close": False,
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": API_APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": "BBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(view: dict[str, Any], answers: dict[str, str | None], *, user_id: str,
                         team_id: str = "T0001", view_id: str = "V0FORM") -> str:
    """``payload=<json>``, form-encoded, as Slack POSTs a modal's submission (``view_id``: the modal's, as
    ``views.open`` answered it)."""
    return _form(view_submission_payload(view, answers, user_id=user_id, team_id=team_id, view_id=view_id))
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
