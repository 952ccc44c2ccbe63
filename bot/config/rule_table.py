"""One ``[[rule]]`` table of ``POLICY_FILE``, read key by key (``RuleTable``: each value typed and checked, each
problem remembered, named with the file, the rule and the key), and how those problems word what was written: the
patterns (``glob_problem``), the values (``described``, ``quoted``, ``one_of``) and a likely typo (``did_you_mean``).
``policy_file`` reads the file and checks the keys against each other."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from bot.config.settings import MFA_CHOICES, is_group_id, is_user_id
from bot.config.words import duration_problem
from bot.domain.durations import BadDuration, parse_duration
from bot.domain.proof import Mfa

EXAMPLES = {"tenants": '["acme-*", ""]', "targets": '["*@acme.com"]', "requesters": '["U012AB3CD", "S0SUPPORT"]',
             "approvers": '["U012AB3CD", "S0SECOPS"]', "escalate_to": '["U012AB3CD", "S0ONCALL"]'}
LEFT_OUT = {"requesters": "REQUESTERS (or APPROVERS when it is unset)", "approvers": "APPROVERS",
             "escalate_to": "ESCALATION_APPROVERS"}
T = TypeVar("T")


@dataclass
class RuleTable:
    """One ``[[rule]]`` table, read key by key; each problem names the file, the rule and the key."""

    where: str
    values: dict[str, object]
    problems: list[str] = field(default_factory=list)
    faulty: set[str] = field(default_factory=set)  # the keys a problem names

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.where}, key {key}: {text}")
        self.faulty.add(key)

    def own(self, key: str) -> bool:
        """Whether the rule sets ``key`` itself, soundly (not left out, not written wrong)."""
        return key in self.values and key not in self.faulty

    def get(self, key: str, kind: type[T], written: str) -> T | None:
        """The value of ``key`` when it is of ``kind`` (``None`` when absent or not; the latter is a problem).
        ``written``: what it must be, as the operator would write it."""
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        self.problem(key, f"must be {written}, not {described(value)}")
        return None

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key, list, f"an array of strings, like {key} = {EXAMPLES[key]}")
        if value is None:
            return None
        if not value:
            fallback = f"names nobody: list at least one, or leave the key out to use {LEFT_OUT[key]}" \
                if key in LEFT_OUT else "matches nothing: list at least one, or leave the key out to match everything"
            self.problem(key, f"is an empty array, which {fallback}")
            return None
        odd = [v for v in value if not isinstance(v, str)]
        if odd:
            self.problem(key, f"must hold only strings, like {key} = {EXAMPLES[key]}, not {described(odd[0])}")
            return None
        return tuple(value)

    def globs(self, key: str) -> tuple[str, ...] | None:
        patterns = self.strings(key)
        for pattern in patterns or ():
            problem = glob_problem(pattern, empty_ok=key == "tenants")
            if problem:
                self.problem(key, problem)
        return patterns

    def principals(self, key: str) -> tuple[str, ...] | None:
        entries = self.strings(key)
        for entry in entries or ():
            if not (is_user_id(entry) or is_group_id(entry)):
                self.problem(key, f"{quoted(entry)} is not a Slack user ID (U…/W…) or user-group ID (S…): copy a "
                                  "person's member ID from their profile (⋮ → Copy member ID)")
        return entries

    def duration(self, key: str) -> timedelta | None:
        text = self.get(key, str, 'a duration in quotes, like "90s", "15m", "2h" or "1h30m"')
        if text is None:
            return None
        try:
            return parse_duration(text)
        except BadDuration as exc:
            self.problem(key, duration_problem(exc))
            return None

    def escalate_after(self, inherited: timedelta | None) -> timedelta | None:
        """A duration; left out (or wrong: a problem), ``inherited``, the environment's. ``"0"`` does not turn
        escalation off here: a rule leaves the key out instead (and then takes ``ESCALATE_AFTER``)."""
        value = self.values.get("escalate_after")
        if value is None:
            return inherited
        if value in ("0", 0) and not isinstance(value, bool):
            written = quoted(value) if isinstance(value, str) else str(value)
            self.problem("escalate_after", f"{written} does not turn escalation off in a rule: leave escalate_after "
                                           "out instead (the rule then takes ESCALATE_AFTER; unset or 0, it never "
                                           "escalates)")
            return inherited
        found = self.duration("escalate_after")
        return inherited if found is None else found

    def mfa(self, key: str, inherited: Mfa) -> Mfa:
        """A second factor, any case; left out (or wrong: a problem), ``inherited``, the environment's."""
        value = self.values.get(key)
        if value is None:
            return inherited
        found = Mfa.parse(value) if isinstance(value, str) else None
        if found is None:
            written = quoted(value) if isinstance(value, str) else described(value)
            self.problem(key, f"must be one of {one_of(MFA_CHOICES)}, not {written}")
            return inherited
        return found


def glob_problem(pattern: str, *, empty_ok: bool) -> str | None:
    """What is wrong with a shell-style glob as a rule's pattern, or ``None``. ``""`` is fine among tenants
    (``empty_ok``: a request without a tenant) and matches nothing elsewhere."""
    if not pattern:
        return None if empty_ok else '"" matches no login ID: remove it ("" only means "no tenant" in tenants)'
    if any(c.isspace() or not c.isprintable() for c in pattern):
        return f"{quoted(pattern)} holds whitespace or a control character, which no ID has: remove it"
    i = 0
    while i < len(pattern):  # a class as fnmatch reads it: [ then an optional !, a ] taken literally first, up to ]
        if pattern[i] == "[":
            j = i + 1
            j += pattern.startswith("!", j)
            j += pattern.startswith("]", j)
            j = pattern.find("]", j)
            if j < 0:
                return (f"{quoted(pattern)} opens a character class with [ that is never closed: close it with ], "
                        "or write [[] for a literal [")
            i = j
        i += 1
    return None


def did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def one_of(choices: tuple[str, ...]) -> str:
    """``"a", "b" or "c"``: the values a key takes, as TOML writes them."""
    each = [quoted(c) for c in choices]
    return f"{', '.join(each[:-1])} or {each[-1]}" if len(each) > 1 else each[0]


def quoted(text: str) -> str:
    """``text`` in double quotes, as TOML writes it, control characters escaped (a tab shows as ``\\t``)."""
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text).replace('"', '\\"') + '"'


def described(value: object) -> str:
    """A TOML value as an operator would name it: its type, and the value when short."""
    kinds = [(bool, "a boolean"), (int, "a number"), (float, "a decimal number"), (str, "a string"), (list, "an array"),
             (dict, "a table")]
    kind = next((name for t, name in kinds if isinstance(value, t)), "a date or time")
    if isinstance(value, bool):
        return f"{kind} ({str(value).lower()})"
    if isinstance(value, str):
        return f"{kind} ({quoted(value)})"
    return f"{kind} ({value})" if isinstance(value, int | float) else kind
