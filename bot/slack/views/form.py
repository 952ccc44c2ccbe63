"""The request form: a modal asking for what the typed command takes (login ID, tenant, window, reason).

``build`` lays it out with the windows the policy allows, preset to the default; ``parse`` reads a submission
(``payloads.Submission``) back into a ``Draft``, or into the problems of its fields (``Invalid``: data, by the same
rules as the command, ``bot.slack.commands.check_*``; the extension form's ``parse`` answers the same); ``errors`` and
``refused`` turn problems and the rules' refusals into Slack's field errors (``response_action: errors``, keyed by
block_id); ``sent`` and ``failed`` are what the modal turns into after a submission. What was typed goes only into
``plain_text`` here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from bot.domain import DomainError, Draft, NotInTenant, RequestView, TenantsUnknown, WindowOutOfPolicy
from bot.domain.break_glass import BreakGlassNoReason, BreakGlassNotAllowed, BreakGlassTooLong, BreakGlassTooOften
from bot.domain.durations import format_duration
from bot.slack.commands import (
    MAX_LOGIN_ID,
    MAX_REASON,
    MAX_TENANT,
    UsageError,
    Windows,
    check_login_id,
    check_reason,
    check_tenant,
    check_window,
)
from bot.slack.messages import break_glass as break_glass_words
from bot.slack.messages import form as words
from bot.slack.messages import replies
from bot.slack.payloads import Submission
from bot.slack.views import ids
from bot.slack.views.blocks import Block, context, plain, section

View = dict[str, Any]
T = TypeVar("T")

#: The windows offered, where the policy allows them (its default and its longest are always offered too).
WINDOWS = tuple(timedelta(minutes=m) for m in (5, 15, 30, 60, 120, 240, 480, 720, 1440))


class Field(enum.StrEnum):
    """A field of the form, by the block_id its errors are shown on."""

    LOGIN_ID = ids.FORM_LOGIN_ID_BLOCK
    TENANT = ids.FORM_TENANT_BLOCK
    WINDOW = ids.FORM_WINDOW_BLOCK
    REASON = ids.FORM_REASON_BLOCK
    EMERGENCY = ids.FORM_EMERGENCY_BLOCK


_ACTION = {Field.LOGIN_ID: ids.FORM_LOGIN_ID, Field.TENANT: ids.FORM_TENANT, Field.WINDOW: ids.FORM_WINDOW,
           Field.REASON: ids.FORM_REASON, Field.EMERGENCY: ids.FORM_EMERGENCY}
EMERGENCY = "yes"  # the value of the emergency checkbox, ticked


def windows(allowed: Windows) -> list[timedelta]:
    """The windows offered, shortest first: those of ``WINDOWS`` within the bounds, the default and the longest."""
    offered = {w for w in WINDOWS if allowed.min_duration <= w <= allowed.max_duration}
    return sorted(offered | {allowed.default_duration, allowed.max_duration})


def option(window: timedelta) -> Block:
    return {"text": plain(words.window_option(window)), "value": format_duration(window)}


def _input(field: Field, label: str, hint: str, element: Block, *, optional: bool = False) -> Block:
    return {"type": "input", "block_id": field.value, "label": plain(label), "hint": plain(hint),
            "optional": optional, "element": {**element, "action_id": _ACTION[field]}}


def _text_input(placeholder: str, limit: int, *, multiline: bool = False) -> Block:
    return {"type": "plain_text_input", "placeholder": plain(placeholder), "max_length": limit,
            "multiline": multiline}


def build(allowed: Windows, *, emergency: bool = False) -> View:
    """The empty form. Its window is left unchosen: the rule that decides the request gives its own default (which
    rule that is, is known only once the user to impersonate is), as the typed command without a duration.
    ``emergency``: some rule allows break-glass, so the form offers "This is an emergency"."""
    options = [option(w) for w in windows(allowed)]
    view: View = {
        "type": "modal",
        "callback_id": ids.REQUEST_FORM,
        "title": plain(words.TITLE),
        "submit": plain(words.SUBMIT),
        "close": plain(words.CANCEL),
        "blocks": [
            context(words.INTRO),
            _input(Field.LOGIN_ID, words.LOGIN_ID_LABEL, words.LOGIN_ID_HINT,
                   _text_input(words.LOGIN_ID_PLACEHOLDER, MAX_LOGIN_ID)),
            _input(Field.TENANT, words.TENANT_LABEL, words.TENANT_HINT,
                   _text_input(words.TENANT_PLACEHOLDER, MAX_TENANT), optional=True),
            _input(Field.WINDOW, words.WINDOW_LABEL, words.WINDOW_HINT,
                   {"type": "static_select", "options": options, "placeholder": plain(words.WINDOW_PLACEHOLDER)},
                   optional=True),
            _input(Field.REASON, words.REASON_LABEL, words.REASON_HINT,
                   _text_input(words.REASON_PLACEHOLDER, MAX_REASON, multiline=True)),
        ],
    }
    if emergency:
        view["blocks"] = [*view["blocks"], _input(
            Field.EMERGENCY, words.EMERGENCY_LABEL, words.EMERGENCY_HINT,
            {"type": "checkboxes", "options": [{"text": plain(words.EMERGENCY_OPTION), "value": EMERGENCY}]},
            optional=True)]
    return view


@dataclass(frozen=True)
class Invalid:
    """A submission that asks for nothing: the first problem of each field at fault, by the block_id it is shown on
    (a ``Field`` of this form, or an input of another, the extension form's)."""

    problems: Mapping[str, UsageError]


def parse(submitted: Submission, allowed: Windows) -> Draft | Invalid:
    """A submission → the ``Draft`` it asks for, or every field's problem."""
    problems: dict[str, UsageError] = {}

    def checked(field: Field, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except UsageError as exc:
            problems[field] = exc
            return None

    def value(field: Field) -> str:
        return submitted.value(field.value, _ACTION[field])

    login_id = checked(Field.LOGIN_ID, lambda: check_login_id(value(Field.LOGIN_ID).strip()))
    tenant_text = value(Field.TENANT).strip()
    tenant = checked(Field.TENANT, lambda: check_tenant(tenant_text)) if tenant_text else None
    window_text = value(Field.WINDOW).strip()
    duration = checked(Field.WINDOW, lambda: check_window(window_text, allowed)) if window_text else None
    reason = checked(Field.REASON, lambda: check_reason(value(Field.REASON)))
    if problems or login_id is None or reason is None:
        return Invalid(problems)
    return Draft(login_id=login_id, duration=duration, reason=reason, tenant=tenant,
                 break_glass=value(Field.EMERGENCY) == EMERGENCY)


def errors(invalid: Invalid) -> dict[str, str]:
    """Slack's ``errors``: each field's problem, in words, under its block_id."""
    return {str(block_id): words.field_problem(problem) for block_id, problem in invalid.problems.items()}


def refusal_field(exc: DomainError) -> Field:
    """The field a refusal of the whole request is shown on: the one the requester can change to fix it."""
    if isinstance(exc, NotInTenant | TenantsUnknown):
        return Field.TENANT
    if isinstance(exc, WindowOutOfPolicy | BreakGlassTooLong):
        return Field.WINDOW
    if isinstance(exc, BreakGlassNoReason):
        return Field.REASON
    if isinstance(exc, BreakGlassNotAllowed | BreakGlassTooOften):
        return Field.EMERGENCY
    return Field.LOGIN_ID  # who is impersonated (unknown, disabled, already asked for), or who asks


def refused(exc: DomainError) -> dict[str, str]:
    """Slack's ``errors`` for a refusal by the rules (nothing was stored or sent)."""
    return {refusal_field(exc).value: words.field_refusal(exc)}


def sent(request: RequestView) -> View:
    """The form once the request is stored: the typed command's answer, word for word."""
    answer = break_glass_words.started(request) if request.break_glass else replies.submitted(request)
    return {"type": "modal", "callback_id": ids.REQUEST_SENT, "title": plain(words.SENT_TITLE),
            "close": plain(words.CLOSE), "blocks": [section(answer)]}


def failed(text: str) -> View:
    """Pushed over the form when something unexpected went wrong (``text`` holds the error ID); closing it goes
    back to the form as it was filled in."""
    return {"type": "modal", "callback_id": ids.REQUEST_FAILED, "title": plain(words.FAILED_TITLE),
            "close": plain(words.BACK), "blocks": [section(text)]}
