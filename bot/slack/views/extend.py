"""The extension form: a modal asking how much more time a running session needs, and why.

Opened by Extend on the expiry warning DM or on the requester's App Home (``listeners/session.py``). ``build``
offers the windows the session's rule allows, preset to its default, and carries the session's ID in
``private_metadata``; ``parse`` reads a submission back into an ``ExtensionAsked`` (or the fields' problems, by the
command's rules); ``sent`` is what the modal turns into once the extension is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.domain import RequestView
from bot.slack.commands import MAX_REASON, REQUEST_ID, Policy, UsageError, check_reason, check_window
from bot.slack.messages import form as words
from bot.slack.messages import replies
from bot.slack.views import ids
from bot.slack.views.blocks import context, plain, section
from bot.slack.views.form import View, field_value, option, windows


@dataclass(frozen=True)
class ExtensionAsked:
    session_id: str
    duration: timedelta
    reason: str


def build(session: RequestView, policy: Policy) -> View:
    assert session.ends_at is not None
    return {
        "type": "modal", "callback_id": ids.EXTEND_FORM, "private_metadata": session.id,
        "title": plain(words.EXTEND_TITLE), "submit": plain(words.EXTEND_SUBMIT), "close": plain(words.CANCEL),
        "blocks": [
            context(words.extend_intro(session)),
            {"type": "input", "block_id": ids.EXTEND_WINDOW_BLOCK, "label": plain(words.EXTEND_WINDOW_LABEL),
             "hint": plain(words.EXTEND_WINDOW_HINT),
             "element": {"type": "static_select", "action_id": ids.EXTEND_WINDOW,
                         "options": [option(w) for w in windows(policy)],
                         "initial_option": option(policy.default_duration)}},
            {"type": "input", "block_id": ids.EXTEND_REASON_BLOCK, "label": plain(words.REASON_LABEL),
             "hint": plain(words.EXTEND_REASON_HINT),
             "element": {"type": "plain_text_input", "action_id": ids.EXTEND_REASON, "multiline": True,
                         "max_length": MAX_REASON, "placeholder": plain(words.REASON_PLACEHOLDER)}},
        ],
    }


def parse(view: Mapping[str, Any], policy: Policy) -> ExtensionAsked | dict[str, str]:
    """A submission → what it asks, or Slack's ``errors`` (each field's problem, under its block_id). Raises
    ``ValueError`` for a view that no form of ours sent (no session ID)."""
    session_id = str(view.get("private_metadata") or "")
    if not REQUEST_ID.fullmatch(session_id):
        raise ValueError("an extension form without its session")
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    values = values if isinstance(values, dict) else {}
    problems: dict[str, str] = {}
    duration: timedelta | None = None
    reason: str | None = None
    try:
        duration = check_window(field_value(values, ids.EXTEND_WINDOW_BLOCK, ids.EXTEND_WINDOW).strip(), policy)
    except UsageError as exc:
        problems[ids.EXTEND_WINDOW_BLOCK] = words.field_problem(exc)
    try:
        reason = check_reason(field_value(values, ids.EXTEND_REASON_BLOCK, ids.EXTEND_REASON))
    except UsageError as exc:
        problems[ids.EXTEND_REASON_BLOCK] = words.field_problem(exc)
    if problems or duration is None or reason is None:
        return problems
    return ExtensionAsked(session_id, duration, reason)


def refused(refusal: str) -> dict[str, str]:
    """A refusal of the whole extension (plain text), shown on the window field."""
    return {ids.EXTEND_WINDOW_BLOCK: refusal}


def sent(request: RequestView) -> View:
    return {"type": "modal", "callback_id": ids.EXTEND_SENT, "title": plain(words.EXTEND_SENT_TITLE),
            "close": plain(words.CLOSE), "blocks": [section(replies.submitted(request))]}
