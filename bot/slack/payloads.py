"""Every click, form submission and shortcut Slack sends, parsed once into a typed value.

The guard (``bot.slack.guard``) has already refused a payload whose fields are not of the types Slack sends; these
parsers read what the listeners need and nothing else, and raise ``Malformed`` (a ``ValueError``) for a payload that
lacks what its kind must carry (a click without a clicker or an action).

    Click        a button: who, which action and value (a request ID), where it was (a message in a channel, or a
                 view: the App Home, a modal), its trigger and response URL
    Submission   a modal's submission: who, which form (``callback_id``), its ``private_metadata``, every input's value
    Command      the slash command: who typed it, and what after ``/impersonate``
    trigger_of   the trigger of a shortcut or a slash command (what opens a modal)

``click_or_none`` is ``click`` for a listener that ignores a malformed click: it says so in one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("bot.slack")


class Malformed(ValueError):
    """A payload lacking what its kind always carries."""


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _user(body: Mapping[str, Any]) -> str:
    user = _object(body.get("user")).get("id")
    if not user:
        raise Malformed("without a user")
    return str(user)


@dataclass(frozen=True)
class Click:
    """A button clicked: ``value`` is what the button carries (a request ID); ``channel_id`` and ``message_ts`` say on
    which message it was (``None``: not on a message); ``view_*`` which view (the App Home) and whose."""

    user_id: str
    action_id: str
    value: str
    channel_id: str | None = None
    message_ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    on_home: bool = False  # the container is a view, and the view a Home
    view_bot_id: str | None = None  # the bot and app that published the view
    view_app_id: str | None = None
    view_owner: str | None = None  # whose Home the view is (its ``private_metadata``, as the Home builder sets it)
    app_id: str | None = None  # the app Slack sent the click to (``api_app_id``): this one
    view_id: str | None = None  # the view the button is on (a modal's, to update it)

    @property
    def request_id(self) -> str:
        return self.value

    def from_home_of(self, bot_id: str | None) -> bool:
        """Whether the click came from the clicker's own Home as published by the bot ``bot_id``."""
        return (self.on_home and bool(bot_id) and self.view_bot_id == bot_id and bool(self.app_id)
                and self.view_app_id == self.app_id and self.view_owner == self.user_id)


def click(body: Mapping[str, Any]) -> Click:
    """A ``block_actions`` payload. Raises ``Malformed`` without a clicker or an action."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
    if action is None or not action.get("action_id"):
        raise Malformed("a click without an action")
    user_id = _user(body)
    container, view = _object(body.get("container")), _object(body.get("view"))
    channel = _object(body.get("channel")).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or _object(body.get("message")).get("ts")
    return Click(user_id=user_id, action_id=str(action["action_id"]), value=str(action.get("value") or ""),
                 channel_id=_text(channel), message_ts=_text(message_ts), trigger_id=_text(body.get("trigger_id")),
                 response_url=_text(body.get("response_url")),
                 on_home=container.get("type") == "view" and view.get("type") == "home",
                 view_bot_id=_text(view.get("bot_id")), view_app_id=_text(view.get("app_id")),
                 view_owner=_text(view.get("private_metadata")), app_id=_text(body.get("api_app_id")),
                 view_id=_text(view.get("id")))


def click_or_none(body: Mapping[str, Any], what: str) -> Click | None:
    """``click(body)``, or ``None`` once a malformed one is logged (``what``: which click, e.g. "Extend")."""
    try:
        return click(body)
    except Malformed as exc:
        log.warning("ignored a malformed %s click (%s)", what, exc)
        return None


@dataclass(frozen=True)
class Submission:
    """A modal submitted: ``values`` maps each input's block ID and action ID to what it holds (a text input's
    value, a select's chosen option; ``""`` when empty)."""

    user_id: str
    callback_id: str
    private_metadata: str = ""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    view_id: str | None = None  # the modal submitted (to update it after the ack)

    def value(self, block_id: str, action_id: str) -> str:
        return self.values.get(block_id, {}).get(action_id, "")


def submission(body: Mapping[str, Any]) -> Submission:
    """A ``view_submission`` payload. Raises ``Malformed`` without a submitter or a view."""
    view = _object(body.get("view"))
    if not view.get("callback_id"):
        raise Malformed("a form submission without its view")
    values: dict[str, dict[str, str]] = {}
    for block_id, inputs in _object(_object(view.get("state")).get("values")).items():
        for action_id, state in _object(inputs).items():
            state = _object(state)
            selected = _object(state.get("selected_option")).get("value")
            ticked = state.get("selected_options")
            if isinstance(ticked, list):  # checkboxes: every option ticked, comma-separated
                selected = ",".join(str(_object(option).get("value") or "") for option in ticked)
            value = selected if selected is not None else state.get("value")
            values.setdefault(str(block_id), {})[str(action_id)] = value if isinstance(value, str) else ""
    return Submission(user_id=_user(body), callback_id=str(view["callback_id"]),
                      private_metadata=str(view.get("private_metadata") or ""), values=values,
                      view_id=_text(view.get("id")))


@dataclass(frozen=True)
class Command:
    """``/impersonate`` typed: by whom, and the text after the command (as Slack escaped it)."""

    user_id: str
    text: str


def command(body: Mapping[str, Any]) -> Command:
    """A slash command's payload (Slack always sends ``user_id``; ``text`` may be empty)."""
    return Command(user_id=str(body.get("user_id") or ""), text=str(body.get("text") or ""))


def trigger_of(body: Mapping[str, Any]) -> str | None:
    """The ``trigger_id`` of a shortcut, a slash command or a click: what opens a modal, within 3 seconds, once."""
    return _text(body.get("trigger_id"))
