"""The extension form: a modal asking how much more time a running session needs, and why.

Opened by Extend on the expiry warning DM or on the requester's App Home (``listeners/session.py``). ``build`` offers
the windows the session's rule allows, preset to its default, and carries the session's ID in ``private_metadata``;
``parse`` reads a submission back into an ``ExtensionAsked`` (or the fields' problems, by the command's rules, as the
request form's: ``form.Invalid``); ``sent`` is what the modal turns into once the extension is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain import RequestView
from bot.slack.commands import MAX_REASON, REQUEST_ID, UsageError, Windows, check_reason, check_window
from bot.slack.messages import form as words
from bot.slack.messages import replies
from bot.slack.payloads import Malformed, Submission
from bot.slack.views import ids
from bot.slack.views.blocks import context, plain, section
from bot.slack.views.form import Invalid, View, option, windows


@dataclass(frozen=True)
class ExtensionAsked:
    session_id: str
    duration: timedelta
    reason: str


def build(session: RequestView, allowed: Windows) -> View:
    assert session.ends_at is not None
    return {
        "type": "modal", "callback_id": ids.EXTEND_FORM, "private_metadata": session.id,
        "title": plain(words.EXTEND_TITLE), "submit": plain(words.EXTEND_SUBMIT), "close": plain(words.CANCEL),
        "blocks": [
            context(words.extend_intro(session)),
            {"type": "input", "block_id": ids.EXTEND_WINDOW_BLOCK, "label": plain(words.EXTEND_WINDOW_LABEL),
             "hint": plain(words.EXTEND_WINDOW_HINT),
             "element": {"type": "static_select", "action_id": ids.EXTEND_WINDOW,
                         "options": [option(w) for w in windows(allowed)],
                         "initial_option": option(allowed.default_duration)}},
            {"type": "input", "block_id": ids.EXTEND_REASON_BLOCK, "label": plain(words.REASON_LABEL),
             "hint": plain(words.EXTEND_REASON_HINT),
             "element": {"type": "plain_text_input", "action_id": ids.EXTEND_REASON, "multiline": True,
                         "max_length": MAX_REASON, "placeholder": plain(words.REASON_PLACEHOLDER)}},
        ],
    }


def parse(submitted: Submission, allowed: Windows) -> ExtensionAsked | Invalid:
    """A submission → what it asks, or its fields' problems (``form.Invalid``, by block_id). Raises ``Malformed`` for
    a view that no form of ours sent (no session ID)."""
    session_id = submitted.private_metadata
    if not REQUEST_ID.fullmatch(session_id):
        raise Malformed("an extension form without its session")
    problems: dict[str, UsageError] = {}
    duration: timedelta | None = None
    reason: str | None = None
    try:
        duration = check_window(submitted.value(ids.EXTEND_WINDOW_BLOCK, ids.EXTEND_WINDOW).strip(), allowed)
    except UsageError as exc:
        problems[ids.EXTEND_WINDOW_BLOCK] = exc
    try:
        reason = check_reason(submitted.value(ids.EXTEND_REASON_BLOCK, ids.EXTEND_REASON))
    except UsageError as exc:
        problems[ids.EXTEND_REASON_BLOCK] = exc
    if problems or duration is None or reason is None:
        return Invalid(problems)
    return ExtensionAsked(session_id, duration, reason)


def preparing() -> View:
    """What the modal shows the moment Extend is clicked, while the session is checked."""
    return {"type": "modal", "callback_id": ids.EXTEND_FORM, "title": plain(words.EXTEND_TITLE),
            "close": plain(words.CANCEL), "blocks": [context(words.EXTEND_PREPARING)]}


def unavailable(why: str) -> View:
    """The modal, once the session was found not to be extendable now: why (mrkdwn, from ``replies``)."""
    return {"type": "modal", "callback_id": ids.EXTEND_SENT, "title": plain(words.EXTEND_TITLE),
            "close": plain(words.CLOSE), "blocks": [section(why)]}


def refused(refusal: str) -> dict[str, str]:
    """A refusal of the whole extension (plain text), shown on the window field."""
    return {ids.EXTEND_WINDOW_BLOCK: refusal}


def sent(request: RequestView) -> View:
    return {"type": "modal", "callback_id": ids.EXTEND_SENT, "title": plain(words.EXTEND_SENT_TITLE),
            "close": plain(words.CLOSE), "blocks": [section(replies.submitted(request))]}
