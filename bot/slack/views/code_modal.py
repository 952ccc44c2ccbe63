"""The code modal: a second factor typed before an Approve (``approval_mfa``) or a Show token (``reveal_mfa``)
counts. ``build`` asks for the code (with why the last one did not pass; for ``email``, where Descope mailed it and a
button for a new one), ``busy`` says what the bot is doing meanwhile, ``done`` is the end (closed with Close).
What the modal is for (``Asking``) travels in its ``private_metadata``; ``parse`` reads a submission back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.domain.proof import Mfa, Purpose
from bot.slack.messages import proofs
from bot.slack.payloads import Submission
from bot.slack.views import ids
from bot.slack.views.blocks import Block, context, plain, section

View = dict[str, Any]
_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class Asking:
    """What the modal is for: ``purpose`` on ``request_id`` by ``method``; an approval's ``message_ts`` (the message
    clicked) or ``via_home``; ``masked``: where Descope mailed the code."""

    request_id: str
    purpose: Purpose
    method: Mfa
    message_ts: str | None = None
    via_home: bool = False
    masked: str | None = None

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def mailed_to(self, masked: str) -> Asking:
        return replace(self, masked=masked or None)


def asking_of(metadata: str) -> Asking | None:
    """The ``Asking`` a modal carries, or ``None`` when it carries none the bot wrote."""
    try:
        found = json.loads(metadata)
        return Asking(request_id=str(found["request_id"]), purpose=Purpose(found["purpose"]),
                      method=Mfa(found["method"]), message_ts=found.get("message_ts") or None,
                      via_home=found.get("via_home") is True, masked=found.get("masked") or None)
    except (ValueError, TypeError, KeyError):
        return None


def build(asking: Asking, problem: str | None = None) -> View:
    """The form: what to type, and why the last code did not pass (``problem``, mrkdwn)."""
    blocks: list[Block] = [section(proofs.intro(asking.purpose, asking.method, asking.request_id, asking.masked))]
    if problem:
        blocks.append(section(problem))
    blocks.append({
        "type": "input", "block_id": ids.CODE_BLOCK, "label": plain(proofs.CODE_LABEL),
        "element": {"type": "plain_text_input", "action_id": ids.CODE_INPUT, "min_length": 6, "max_length": 12,
                    "placeholder": plain(proofs.CODE_PLACEHOLDER)},
    })
    if asking.method is Mfa.EMAIL:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "action_id": ids.CODE_RESEND, "value": asking.request_id,
             "text": plain(proofs.RESEND_LABEL)}]})
    return {**_frame(asking), "submit": plain(proofs.SUBMIT_LABEL), "close": plain(proofs.CANCEL_LABEL),
            "blocks": blocks}


def busy(asking: Asking, text: str) -> View:
    """While Descope is asked (checking the code, mailing one): nothing to submit."""
    return {**_frame(asking), "close": plain(proofs.CLOSE_LABEL), "blocks": [context(text)]}


def done(asking: Asking, text: str) -> View:
    """The end: the code counted, or why nothing can (mrkdwn)."""
    return {**_frame(asking), "callback_id": ids.CODE_DONE, "close": plain(proofs.CLOSE_LABEL),
            "blocks": [section(text)]}


def _frame(asking: Asking) -> View:
    return {"type": "modal", "callback_id": ids.CODE_MODAL, "title": plain(proofs.TITLES[asking.purpose]),
            "private_metadata": asking.encode()}


def code_of(submitted: Submission) -> str | None:
    """The code typed (spaces and dashes left out: "123 456" is 123456), or ``None`` when it is not 6 digits."""
    typed = re.sub(r"[\s-]", "", submitted.value(ids.CODE_BLOCK, ids.CODE_INPUT))
    return typed if _CODE.fullmatch(typed) else None


def code_problem(submitted: Submission) -> dict[str, str]:
    """The field error for a code that is not 6 digits."""
    return {ids.CODE_BLOCK: proofs.bad_format(submitted.value(ids.CODE_BLOCK, ids.CODE_INPUT))}
