"""Turn the text after ``/impersonate`` into a command, or a usage error that says what was wrong.

Pure: no I/O. Grammar (see DESIGN.md)::

    /impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>
    /impersonate help | list | stop <request-id>

Slack sends the text escaped (``<mailto:a@b.com|a@b.com>``, ``<@U123|bo>``, ``&amp;``): ``plain_text``
undoes every form so the stored request holds what the person meant, and rendering escapes it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.domain import Draft, check_duration
from bot.durations import format_duration, looks_like_duration, parse_duration

MAX_REASON = 500
MAX_LOGIN_ID = 256
MAX_TENANT = 128
REQUEST_ID = re.compile(r"[A-Z0-9]{4,16}")

USAGE = (
    "*Usage*\n"
    "• `/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>` asks for a session, e.g.\n"
    "   `/impersonate jane@acme.com 30m --tenant acme-eu checking invoice SUP-123`\n"
    "• `/impersonate list` shows your requests (approvers see every active session)\n"
    "• `/impersonate stop <request-id>` ends a session early\n"
    "• `/impersonate help` shows this message\n"
    "Durations are written `90s`, `15m`, `2h` or `1h30m`."
)

_ANGLE = re.compile(r"<([^<>]*)>")
_TOKEN = re.compile(r"(?:<[^<>]*>|[^\s<]+|<)+")  # words, keeping Slack's <…|label with spaces> whole
_OPTION = re.compile(r"--[A-Za-z][\w-]*(=.*)?")


class UsageError(Exception):
    """The text cannot be a command. The message names the fault and shows how to write it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}\n\n{USAGE}")


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListRequests:
    pass


@dataclass(frozen=True)
class Stop:
    request_id: str


@dataclass(frozen=True)
class Submit:
    draft: Draft


Command = Help | ListRequests | Stop | Submit


@dataclass(frozen=True)
class Policy:
    default_duration: timedelta
    min_duration: timedelta
    max_duration: timedelta


def _angle_to_text(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # user mention <@U123|bo>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # channel <#C123|general>
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@" + target[len("!subteam^"):]
    if target.startswith("!"):  # <!channel>, <!here>, <!date^…|fallback>
        return label or "@" + target[1:]
    if target.startswith("mailto:"):
        return label or target[len("mailto:"):]
    return label or target  # link <https://x|x>


def plain_text(text: str) -> str:
    """Slack's escaped text → what the person typed (``<mailto:a@b|a@b>`` → ``a@b``, ``&amp;`` → ``&``)."""
    text = _ANGLE.sub(_angle_to_text, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse(text: str, policy: Policy) -> Command:
    """Parse the command text. Raises ``UsageError``."""
    raw = text.strip()
    if not raw:
        return Help()
    first, rest = [*raw.split(maxsplit=1), ""][:2]
    word = first.lower()
    if word in ("help", "list") and rest:
        raise UsageError(f"`{word}` takes nothing after it.")
    if word == "help":
        return Help()
    if word == "list":
        return ListRequests()
    if word == "stop":
        return Stop(_request_id(rest))
    return Submit(_draft(raw, policy))


def _request_id(text: str) -> str:
    words = plain_text(text).replace("`", "").split()
    if len(words) != 1:
        raise UsageError("`stop` takes one request ID, e.g. `/impersonate stop K7M2QX9A`.")
    candidate = words[0].upper()
    if not REQUEST_ID.fullmatch(candidate):
        raise UsageError(f"`{words[0]}` is not a request ID: IDs look like `K7M2QX9A` (see `/impersonate list`).")
    return candidate


def _draft(raw: str, policy: Policy) -> Draft:
    tokens = _TOKEN.findall(raw)
    head = tokens[0]
    if head.startswith(("<@", "<#", "<!")):
        raise UsageError(
            "The first word must be the Descope login ID of the user to impersonate "
            "(e.g. their email), not a Slack mention or channel."
        )
    login_id = plain_text(head)
    if not login_id.strip():
        raise UsageError("Start with the login ID of the user to impersonate, e.g. `jane@acme.com`.")
    if _OPTION.fullmatch(login_id) or looks_like_duration(login_id):
        raise UsageError("Start with the login ID of the user to impersonate, e.g. `jane@acme.com`.")
    if len(login_id) > MAX_LOGIN_ID:
        raise UsageError(f"The login ID is too long (more than {MAX_LOGIN_ID} characters).")

    duration: timedelta | None = None
    tenant: str | None = None
    reason_words: list[str] = []
    words = [plain_text(t) for t in tokens[1:]]
    i = 0
    while i < len(words):
        word = words[i]
        if _OPTION.fullmatch(word):
            name, eq, value = word.partition("=")
            if name != "--tenant":
                raise UsageError(f"Unknown option `{name}`: the only option is `--tenant <tenant-id>`.")
            if tenant is not None:
                raise UsageError("`--tenant` is given twice: give one tenant ID.")
            if not eq:
                i += 1
                value = words[i] if i < len(words) else ""
            if not value or _OPTION.fullmatch(value):
                raise UsageError("`--tenant` needs a tenant ID after it, e.g. `--tenant acme-eu`.")
            if len(value) > MAX_TENANT:
                raise UsageError(f"The tenant ID is too long (more than {MAX_TENANT} characters).")
            tenant = value
        elif duration is None and not reason_words and looks_like_duration(word):
            try:
                duration = parse_duration(word)
            except ValueError as exc:
                raise UsageError(f"{exc}.") from None
            problem = check_duration(duration, policy.min_duration, policy.max_duration)
            if problem:
                raise UsageError(
                    f"`{word}` is out of policy: {problem} "
                    f"({format_duration(policy.min_duration)} to {format_duration(policy.max_duration)})."
                )
        else:
            reason_words.append(word)
        i += 1

    reason = " ".join(reason_words).strip()
    if not reason:
        raise UsageError("A reason is required: say why you need to impersonate this user (e.g. a ticket).")
    if len(reason) > MAX_REASON:
        raise UsageError(
            f"The reason is {len(reason)} characters long; keep it under {MAX_REASON} "
            "(link a ticket for the details)."
        )
    return Draft(login_id=login_id, duration=duration or policy.default_duration, reason=reason, tenant=tenant)
