"""Turn the text after ``/impersonate`` into a command, or a ``UsageError`` that says what was wrong (as
data: a ``Problem`` and its facts; ``bot.slack.messages.replies`` words it, with the usage).

Pure: no I/O. Grammar (see DESIGN.md)::

    /impersonate <login-id> [<duration>] [--tenant <tenant-id>] [--break-glass] <reason…>
    /impersonate help | list | stop <request-id>
    /impersonate                  (nothing: the request form opens instead)

The rules a request's fields obey (``check_login_id``, ``check_tenant``, ``check_window``, ``check_reason``)
are the same for the typed command and the request form (``bot.slack.views.form``), which asks these functions.

Slack sends the text escaped (``<mailto:a@b.com|a@b.com>``, ``<@U123|bo>``, ``&amp;``): ``plain_text``
undoes every form so the stored request holds what the person meant, and rendering escapes it again.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import timedelta

from bot.domain import Draft, window_problem
from bot.domain.durations import BadDuration, looks_like_duration, parse_duration
from bot.domain.text import hidden_characters, visible

MAX_REASON = 500
MAX_LOGIN_ID = 256
MAX_TENANT = 128
BREAK_GLASS_FLAG = "--break-glass"  # an emergency: the session starts at once, with no approver
REQUEST_ID = re.compile(r"[A-Z0-9]{4,16}")

_ANGLE = re.compile(r"<([^<>]*)>")
_TOKEN = re.compile(r"(?:<[^<>]*>|[^\s<]+|<)+")  # words, keeping Slack's <…|label with spaces> whole
_OPTION = re.compile(r"--[A-Za-z][\w-]*(=.*)?")
# A word in the duration position that is meant as one but is not valid: signed (``-5m``, ``+1h``), a
# fraction (``1.5h``) or a unit spelled out (``5mins``, ``2hours``, ``1d``). Other words (``2fa``) are reason.
_UNIT = r"(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?|ms|d|days?|w|wks?|weeks?)"
_DURATION_ATTEMPT = re.compile(rf"[+-]\d.*|(?:\d+(?:[.,]\d+)?{_UNIT})+", re.IGNORECASE)


class Problem(enum.StrEnum):
    TRAILING_WORDS = "trailing_words"  # word
    STOP_NEEDS_ONE_ID = "stop_needs_one_id"
    EXTEND_NEEDS_ID = "extend_needs_id"
    NOT_A_REQUEST_ID = "not_a_request_id"  # word
    MENTION_FOR_LOGIN_ID = "mention_for_login_id"
    NO_LOGIN_ID = "no_login_id"
    LOGIN_ID_TOO_LONG = "login_id_too_long"  # limit
    UNKNOWN_OPTION = "unknown_option"  # name
    TENANT_TWICE = "tenant_twice"
    TENANT_MISSING = "tenant_missing"
    TENANT_TOO_LONG = "tenant_too_long"  # limit
    HIDDEN_CHARACTERS = "hidden_characters"  # what ("login ID" | "tenant ID"), characters (["U+202E", …])
    BAD_DURATION = "bad_duration"  # word, bad (the duration parser's BadDuration)
    NOT_A_DURATION = "not_a_duration"  # word: meant as a duration, but not one (-5m, 5mins, 1.5h)
    WINDOW_OUT_OF_POLICY = "window_out_of_policy"  # word, window (a WindowOutOfPolicy)
    NO_REASON = "no_reason"
    REASON_TOO_LONG = "reason_too_long"  # length, limit


class UsageError(Exception):
    """The text cannot be a command: ``problem`` names the fault, ``facts`` hold what the answer shows."""

    def __init__(self, problem: Problem, **facts: object) -> None:
        super().__init__(problem, facts)
        self.problem = problem
        self.facts = facts


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class OpenForm:
    """Nothing typed: the request form opens (``bot.slack.listeners.form``)."""


@dataclass(frozen=True)
class ListRequests:
    pass


@dataclass(frozen=True)
class Stop:
    request_id: str


@dataclass(frozen=True)
class Submit:
    draft: Draft


@dataclass(frozen=True)
class Extend:
    request_id: str
    duration: timedelta | None  # None: the rule's default
    reason: str


Command = Help | OpenForm | ListRequests | Stop | Extend | Submit


@dataclass(frozen=True)
class Windows:
    """The windows a typed duration is checked against: the default when none is given, and the bounds."""

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


def parse(text: str, allowed: Windows) -> Command:
    """Parse the command text. Raises ``UsageError``."""
    raw = text.strip()
    if opens_form(raw):
        return OpenForm()
    first, rest = [*raw.split(maxsplit=1), ""][:2]
    word = first.lower()
    if word in ("help", "list") and rest:
        raise UsageError(Problem.TRAILING_WORDS, word=word)
    if word == "help":
        return Help()
    if word == "list":
        return ListRequests()
    if word == "stop":
        return Stop(_request_id(rest))
    if word == "extend":
        return _extend(rest, allowed)
    return Submit(_draft(raw, allowed))


def opens_form(text: str) -> bool:
    """``/impersonate`` with nothing after it opens the request form."""
    return not text.strip()


# -- a request's fields: one set of rules for the command and the form ------------------------------------


def check_login_id(login_id: str) -> str:
    """The login ID as it will be stored. Raises ``UsageError``: also for a hidden character (a control, format or
    direction character: ``bot.domain.text``), which would make the ID read as another one."""
    if not login_id.strip() or _OPTION.fullmatch(login_id) or looks_like_duration(login_id):
        raise UsageError(Problem.NO_LOGIN_ID)
    if len(login_id) > MAX_LOGIN_ID:
        raise UsageError(Problem.LOGIN_ID_TOO_LONG, limit=MAX_LOGIN_ID)
    _no_hidden(login_id, "login ID")
    return login_id


def check_tenant(tenant: str) -> str:
    if len(tenant) > MAX_TENANT:
        raise UsageError(Problem.TENANT_TOO_LONG, limit=MAX_TENANT)
    _no_hidden(tenant, "tenant ID")
    return tenant


def _no_hidden(value: str, what: str) -> None:
    hidden = hidden_characters(value)
    if hidden:
        raise UsageError(Problem.HIDDEN_CHARACTERS, what=what, characters=hidden)


def check_window(word: str, allowed: Windows) -> timedelta:
    """A duration as written (``30m``), within the policy's window. Raises ``UsageError``."""
    try:
        duration = parse_duration(word)
    except BadDuration as exc:
        raise UsageError(Problem.BAD_DURATION, word=word, bad=exc) from None
    window = window_problem(duration, allowed.min_duration, allowed.max_duration)
    if window is not None:
        raise UsageError(Problem.WINDOW_OUT_OF_POLICY, word=word, window=window)
    return duration


def check_reason(reason: str) -> str:
    """The reason as it will be stored: hidden characters taken out (``bot.domain.text.visible``). Raises
    ``UsageError``."""
    reason = visible(reason).strip()
    if not reason:
        raise UsageError(Problem.NO_REASON)
    if len(reason) > MAX_REASON:
        raise UsageError(Problem.REASON_TOO_LONG, length=len(reason), limit=MAX_REASON)
    return reason


# -- the command's own grammar ------------------------------------------------------------------------


def _request_id(text: str) -> str:
    words = plain_text(text).replace("`", "").split()
    if len(words) != 1:
        raise UsageError(Problem.STOP_NEEDS_ONE_ID)
    candidate = words[0].upper()
    if not REQUEST_ID.fullmatch(candidate):
        raise UsageError(Problem.NOT_A_REQUEST_ID, word=words[0])
    return candidate


def _extend(rest: str, allowed: Windows) -> Extend:
    """``extend <request-id> [<duration>] <reason…>``."""
    words = [plain_text(t) for t in _TOKEN.findall(rest)]
    if not words:
        raise UsageError(Problem.EXTEND_NEEDS_ID)
    candidate = words[0].replace("`", "").upper()
    if not REQUEST_ID.fullmatch(candidate):
        raise UsageError(Problem.NOT_A_REQUEST_ID, word=words[0])
    duration = None
    rest_words = words[1:]
    if rest_words and looks_like_duration(rest_words[0]):
        duration = check_window(rest_words[0], allowed)
        rest_words = rest_words[1:]
    elif rest_words and _DURATION_ATTEMPT.fullmatch(rest_words[0]):
        raise UsageError(Problem.NOT_A_DURATION, word=rest_words[0])
    return Extend(candidate, duration, check_reason(" ".join(rest_words)))


def _draft(raw: str, allowed: Windows) -> Draft:
    tokens = _TOKEN.findall(raw)
    head = tokens[0]
    if head.startswith(("<@", "<#", "<!")):
        raise UsageError(Problem.MENTION_FOR_LOGIN_ID)
    login_id = check_login_id(plain_text(head))

    duration_word: str | None = None
    tenant: str | None = None
    break_glass = False
    reason_words: list[str] = []
    words = [plain_text(t) for t in tokens[1:]]
    i = 0
    while i < len(words):
        word = words[i]
        if word.lower() == BREAK_GLASS_FLAG:
            break_glass = True
        elif _OPTION.fullmatch(word):
            name, eq, value = word.partition("=")
            if name != "--tenant":
                raise UsageError(Problem.UNKNOWN_OPTION, name=name)
            if tenant is not None:
                raise UsageError(Problem.TENANT_TWICE)
            if not eq:
                i += 1
                value = words[i] if i < len(words) else ""
            if not value or _OPTION.fullmatch(value):
                raise UsageError(Problem.TENANT_MISSING)
            tenant = check_tenant(value)
        elif duration_word is None and not reason_words and looks_like_duration(word):
            duration_word = word
        elif duration_word is None and not reason_words and _DURATION_ATTEMPT.fullmatch(word):
            raise UsageError(Problem.NOT_A_DURATION, word=word)
        else:
            reason_words.append(word)
        i += 1

    # A break-glass window has a cap of its own (which may pass MAX_DURATION), checked with its rules.
    duration = None if duration_word is None else \
        _parsed(duration_word) if break_glass else check_window(duration_word, allowed)
    reason = check_reason(" ".join(reason_words))
    return Draft(login_id=login_id, duration=duration, reason=reason, tenant=tenant, break_glass=break_glass)


def _parsed(word: str) -> timedelta:
    try:
        return parse_duration(word)
    except BadDuration as exc:
        raise UsageError(Problem.BAD_DURATION, word=word, bad=exc) from None
