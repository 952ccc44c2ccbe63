"""``POLICY_FILE``: the rules file (TOML), read and checked once at start, into a ``bot.domain.policy.Policy``.

The file is an ordered list of ``[[rule]]`` tables; the first whose ``tenants`` and ``targets`` match a request
decides it. ``read_policy(path, environment)`` reads it and returns the policy with every problem found, each
named with the file, the rule's number (and name) and the key, so one start says all that is wrong. A key a rule
leaves out takes the environment's value (``environment``: the rule the environment's settings make, built by
``environment_rule``), so every ``Rule`` it returns is complete. A rule with ``allow = false`` refuses its
targets: its other keys are read and checked one by one, but not against each other (they decide nothing).

    name              string shown on the approval message           default "rule N"
    tenants, targets  arrays of shell-style globs, any case          default: everything ("" tenant: none given)
    requesters        Slack user (U…/W…) and user-group (S…) IDs     default REQUESTERS (or APPROVERS)
    approvers         the same                                       default APPROVERS
    approvals         distinct approvers needed, at least 1          default 1
    min_duration, default_duration, max_duration   "90s", "15m", "1h30m"   default MIN/DEFAULT/MAX_DURATION
    approval_mfa      "none", "totp" or "email" (any case): the      default APPROVAL_MFA
                      second factor each approver proves
    reveal_mfa        the same: the requester's, before Show token   default REVEAL_MFA
    break_glass       true: a requester may start a session at   default BREAK_GLASS
                      once, with no approver (reviewed after)
    break_glass_max_duration   "30m": a break-glass window's cap     default BREAK_GLASS_MAX_DURATION
                      (may pass max_duration, not min_duration)
    break_glass_per_day   per requester in 24 hours, 1 to 100        default BREAK_GLASS_PER_DAY
    escalate_after    "30m": a request still waiting this long is    default ESCALATE_AFTER
                      put to escalate_to too ("0" refused: leave
                      the key out)
    escalate_to       Slack user and user-group IDs, who may then    default ESCALATION_APPROVERS
                      approve or deny it (both keys, or neither)
    allow             false: nobody may impersonate these targets    default true
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from bot.config.settings import MFA_CHOICES, is_group_id, is_user_id
from bot.config.words import duration_problem
from bot.domain.durations import BadDuration, format_duration, parse_duration
from bot.domain.policy import Policy, Rule
from bot.domain.proof import Mfa

KEYS = ("name", "tenants", "targets", "requesters", "approvers", "approvals", "approval_mfa", "min_duration",
        "default_duration", "max_duration", "reveal_mfa", "break_glass", "break_glass_max_duration",
        "break_glass_per_day", "escalate_after", "escalate_to", "allow")
#: The environment variable a key left out of a rule falls back to.
FALLBACKS = {"requesters": "REQUESTERS", "approvers": "APPROVERS", "min_duration": "MIN_DURATION",
             "default_duration": "DEFAULT_DURATION", "max_duration": "MAX_DURATION", "approval_mfa": "APPROVAL_MFA",
             "reveal_mfa": "REVEAL_MFA", "break_glass": "BREAK_GLASS",
             "break_glass_max_duration": "BREAK_GLASS_MAX_DURATION", "break_glass_per_day": "BREAK_GLASS_PER_DAY",
             "escalate_after": "ESCALATE_AFTER", "escalate_to": "ESCALATION_APPROVERS"}
_EXAMPLES = {"tenants": '["acme-*", ""]', "targets": '["*@acme.com"]', "requesters": '["U012AB3CD", "S0SUPPORT"]',
             "approvers": '["U012AB3CD", "S0SECOPS"]', "escalate_to": '["U012AB3CD", "S0ONCALL"]'}
_LEFT_OUT = {"requesters": "REQUESTERS (or APPROVERS when it is unset)", "approvers": "APPROVERS",
             "escalate_to": "ESCALATION_APPROVERS"}
#: The most break-glass sessions a day a rule (or ``BREAK_GLASS_PER_DAY``) may allow one requester.
MAX_BREAK_GLASS_PER_DAY = 100
T = TypeVar("T")


def read_policy(path: str, environment: Rule) -> tuple[Policy, list[str]]:
    """The rules of the TOML file at ``path`` (keys left out taken from ``environment``), and every problem found
    (none: the policy is sound). With problems, the policy holds what could be read, and should not be used."""
    where = f"POLICY_FILE {path}"
    document, problem = _load(path)
    if document is None:
        return Policy(source=path), [f"{where}: {problem}"]
    tables, problems = _rule_tables(where, document)
    rules: list[Rule] = []
    for number, table in enumerate(tables, start=1):
        rule, found = _read_rule(where, number, table, environment)
        rules.append(rule)
        problems += found
    problems += _shadowed(where, tables, rules)
    return Policy(rules=tuple(rules), source=path), problems


def _load(path: str) -> tuple[dict[str, object] | None, str]:
    """The parsed document, or ``None`` and why the file cannot be read."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        where = "" if os.path.isabs(path) else f" (a relative path is read from the working directory, {os.getcwd()})"
        return None, f"there is no such file{where}: fix the path, or unset POLICY_FILE"
    except IsADirectoryError:
        return None, "is a directory: name the TOML file itself"
    except PermissionError:
        return None, "cannot be read (permission denied): let the bot's user read it"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        return tomllib.loads(raw.decode("utf-8")), ""
    except UnicodeDecodeError:
        return None, "is not UTF-8 text: save it as UTF-8 (TOML files are UTF-8)"
    except tomllib.TOMLDecodeError as exc:
        return None, f"is not valid TOML: {exc}"


def _rule_tables(where: str, document: dict[str, object]) -> tuple[list[dict[str, object]], list[str]]:
    """The ``[[rule]]`` tables of the document, and the problems of its top level."""
    problems = [f"{where}, key {key}: not a key of the file{_did_you_mean(key, ('rule',))}: it holds only "
                f"[[rule]] tables" for key in document if key != "rule"]
    tables = document.get("rule")
    if tables is None or tables == []:
        return [], [*problems, f"{where}: the file has no [[rule]] tables: add one, or unset POLICY_FILE"]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        written = "[rule] (one bracket)" if isinstance(tables, dict) else f"rule = {_described(tables)}"
        return [], [*problems, f"{where}, key rule: must be an array of tables, written [[rule]] (two brackets) "
                               f"above each rule's keys, not {written}"]
    return tables, problems


@dataclass
class _Table:
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
        self.problem(key, f"must be {written}, not {_described(value)}")
        return None

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key, list, f"an array of strings, like {key} = {_EXAMPLES[key]}")
        if value is None:
            return None
        if not value:
            fallback = f"names nobody: list at least one, or leave the key out to use {_LEFT_OUT[key]}" \
                if key in _LEFT_OUT else "matches nothing: list at least one, or leave the key out to match everything"
            self.problem(key, f"is an empty array, which {fallback}")
            return None
        odd = [v for v in value if not isinstance(v, str)]
        if odd:
            self.problem(key, f"must hold only strings, like {key} = {_EXAMPLES[key]}, not {_described(odd[0])}")
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
                self.problem(key, f"{_quoted(entry)} is not a Slack user ID (U…/W…) or user-group ID (S…): copy a "
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
            written = _quoted(value) if isinstance(value, str) else str(value)
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
            written = _quoted(value) if isinstance(value, str) else _described(value)
            self.problem(key, f"must be one of {_one_of(MFA_CHOICES)}, not {written}")
            return inherited
        return found


def glob_problem(pattern: str, *, empty_ok: bool) -> str | None:
    """What is wrong with a shell-style glob as a rule's pattern, or ``None``. ``""`` is fine among tenants
    (``empty_ok``: a request without a tenant) and matches nothing elsewhere."""
    if not pattern:
        return None if empty_ok else '"" matches no login ID: remove it ("" only means "no tenant" in tenants)'
    if any(c.isspace() or not c.isprintable() for c in pattern):
        return f"{_quoted(pattern)} holds whitespace or a control character, which no ID has: remove it"
    i = 0
    while i < len(pattern):  # a class as fnmatch reads it: [ then an optional !, a ] taken literally first, up to ]
        if pattern[i] == "[":
            j = i + 1
            j += pattern.startswith("!", j)
            j += pattern.startswith("]", j)
            j = pattern.find("]", j)
            if j < 0:
                return (f"{_quoted(pattern)} opens a character class with [ that is never closed: close it with ], "
                        "or write [[] for a literal [")
            i = j
        i += 1
    return None


def _read_rule(file: str, number: int, values: dict[str, object], environment: Rule) -> tuple[Rule, list[str]]:
    name = values.get("name")
    named = _sound_name(name)
    table = _Table(_label(file, number, name), values)
    for key in values:
        if key not in KEYS:
            table.problem(key, f"not a rule key{_did_you_mean(key, KEYS)}: a rule's keys are {', '.join(KEYS)}")
    if isinstance(name, str) and not named:
        table.problem("name", "must be one line of printable text, not blank")
    elif isinstance(name, str) and len(name) > MAX_NAME:
        table.problem("name", f"is {len(name)} characters long: keep it to {MAX_NAME} (it is shown on every approval "
                              "message)")
    elif name is not None:
        table.get("name", str, 'a string, like name = "regulated tenants"')
    approvals = table.get("approvals", int, "a whole number, like approvals = 2")
    if approvals is not None and approvals < 1:
        table.problem("approvals", f"must be at least 1 (the approvals a request needs), not {approvals}")
        approvals = None
    allow = table.get("allow", bool, "true or false") is not False
    break_glass = table.get("break_glass", bool, "true or false")
    per_day = table.get("break_glass_per_day", int, "a whole number, like break_glass_per_day = 3")
    if per_day is not None and not 1 <= per_day <= MAX_BREAK_GLASS_PER_DAY:
        table.problem("break_glass_per_day", f"must be from 1 to {MAX_BREAK_GLASS_PER_DAY} (break-glass sessions one "
                                             f"requester may start in 24 hours), not {per_day}")
        per_day = None
    cap = table.duration("break_glass_max_duration")
    rule = Rule(
        number=number,
        name=name if named and isinstance(name, str) else f"rule {number}",
        requesters=table.principals("requesters") or environment.requesters,
        approvers=table.principals("approvers") or environment.approvers,
        approvals=approvals or 1,
        allow=allow,
        tenants=table.globs("tenants"),
        targets=table.globs("targets"),
        approval_mfa=table.mfa("approval_mfa", environment.approval_mfa),
        reveal_mfa=table.mfa("reveal_mfa", environment.reveal_mfa),
        break_glass=environment.break_glass if break_glass is None else break_glass,
        break_glass_max_duration=cap or environment.break_glass_max_duration,
        break_glass_per_day=per_day or environment.break_glass_per_day,
        escalate_after=table.escalate_after(environment.escalate_after),
        escalate_to=table.principals("escalate_to") or environment.escalate_to,
        **_window(table, environment, check=allow),
    )
    if rule.allow and approvals is not None:
        _check_approvals(table, rule, from_file="approvers" in values)
    if rule.allow:
        _check_break_glass(table, rule)
        _check_escalation(table, rule)
    return rule, table.problems


def _window(table: _Table, environment: Rule, *, check: bool) -> dict[str, timedelta]:
    """The rule's window: a bound the rule leaves out is the environment's; a default it leaves out is the
    environment's brought within the rule's bounds. ``check``: say when the rule's bounds disagree."""
    own = {key: table.duration(key) for key in ("min_duration", "default_duration", "max_duration")}
    inherited = {"min_duration": environment.min_duration, "default_duration": environment.default_duration,
                 "max_duration": environment.max_duration}
    low, high = own["min_duration"] or inherited["min_duration"], own["max_duration"] or inherited["max_duration"]
    default = own["default_duration"]

    def named(key: str) -> str:
        value = own[key]
        if value is not None:
            return f"{key} ({format_duration(value)})"
        return f"{FALLBACKS[key]} ({format_duration(inherited[key])}, from the environment: this rule sets no {key})"

    if check and low > high and (own["min_duration"] or own["max_duration"]):
        table.problem("min_duration" if own["min_duration"] else "max_duration",
                      f"{named('min_duration')} is longer than {named('max_duration')}")
    elif check and default is not None and not low <= default <= high:
        table.problem("default_duration", f"{named('default_duration')} must lie between {named('min_duration')} "
                                          f"and {named('max_duration')}")
    chosen = default or inherited["default_duration"]
    return {"min_duration": low, "max_duration": high, "default_duration": max(low, min(chosen, high))}


def _check_approvals(table: _Table, rule: Rule, *, from_file: bool) -> None:
    """More approvals than the approvers listed can give, when they are all people (a group can be any size)."""
    people = set(rule.approvers)
    if not people or not all(is_user_id(p) for p in people) or rule.approvals <= len(people):
        return
    listed = "approvers" if from_file else "APPROVERS (this rule sets no approvers)"
    count = f"{len(people)} {'person' if len(people) == 1 else 'different people'}"
    table.problem("approvals", f"{rule.approvals} approvals needed, but {listed} names only {count} "
                               f"({', '.join(sorted(people))}): lower approvals, or add approvers or a user group (S…)")


def _check_break_glass(table: _Table, rule: Rule) -> None:
    """A break-glass cap shorter than the rule's shortest window (a cap past ``max_duration`` is fine: break-glass has
    its own), when the rule allows break-glass or sets the cap itself."""
    own_cap, own_low = table.own("break_glass_max_duration"), table.own("min_duration")
    if not (rule.break_glass or own_cap) or rule.break_glass_max_duration >= rule.min_duration:
        return
    if {"break_glass_max_duration", "min_duration"} & table.faulty:
        return  # said already
    if not (own_cap or own_low or table.own("break_glass")):
        return  # all the environment's: BREAK_GLASS_MAX_DURATION's problem says it
    cap = format_duration(rule.break_glass_max_duration)
    low = format_duration(rule.min_duration)
    if own_cap:
        key, named = "break_glass_max_duration", f"break_glass_max_duration ({cap})"
    else:
        key = "min_duration" if own_low else "break_glass"
        named = (f"BREAK_GLASS_MAX_DURATION ({cap}, from the environment: this rule sets no "
                 "break_glass_max_duration)")
    shortest = f"min_duration ({low})" if own_low else \
        f"MIN_DURATION ({low}, from the environment: this rule sets no min_duration)"
    table.problem(key, f"{named} is shorter than {shortest}: a break-glass window is at least min_duration long; set "
                       f"break_glass_max_duration = \"{low}\" or more (it may pass max_duration)")


def _check_escalation(table: _Table, rule: Rule) -> None:
    """A rule that escalates with nobody to escalate to, or names whom without when (the environment giving
    neither)."""
    if rule.escalate_after is not None and not rule.escalate_to and table.own("escalate_after") \
            and "escalate_to" not in table.faulty:
        table.problem("escalate_after", f"escalates after {format_duration(rule.escalate_after)} but names nobody to "
                                        f"escalate to: add escalate_to = {_EXAMPLES['escalate_to']} (or set "
                                        "ESCALATION_APPROVERS), or leave escalate_after out")
    elif rule.escalate_to and rule.escalate_after is None and table.own("escalate_to") \
            and "escalate_after" not in table.faulty:
        table.problem("escalate_to", "names whom to escalate to but not when: add escalate_after, like "
                                     'escalate_after = "30m" (or set ESCALATE_AFTER), or leave escalate_to out')


def _shadowed(file: str, tables: list[dict[str, object]], rules: list[Rule]) -> list[str]:
    """A rule without tenants and targets decides every request: the rules after it never apply."""
    for table, rule in zip(tables[:-1], rules, strict=False):
        if "tenants" not in table and "targets" not in table:
            later = f"rule {rule.number + 1} after it never applies" if rule.number + 1 == len(rules) else \
                f"rules {rule.number + 1} to {len(rules)} after it never apply"
            return [f"{_label(file, rule.number, table.get('name'))}: it has neither tenants nor targets, so it "
                    f"decides every request and {later}: give it tenants or targets, or move it last"]
    return []


def _label(file: str, number: int, name: object) -> str:
    """How problems name a rule: the file, its number, and its name when it has a sound one."""
    return f'{file}, rule {number} ("{name}")' if _sound_name(name) else f"{file}, rule {number}"


MAX_NAME = 128  # requests.rule_name holds it


def _sound_name(name: object) -> bool:
    return isinstance(name, str) and bool(name.strip()) and name.isprintable()


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _one_of(choices: tuple[str, ...]) -> str:
    """``"a", "b" or "c"``: the values a key takes, as TOML writes them."""
    quoted = [_quoted(c) for c in choices]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _quoted(text: str) -> str:
    """``text`` in double quotes, as TOML writes it, control characters escaped (a tab shows as ``\\t``)."""
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text).replace('"', '\\"') + '"'


def _described(value: object) -> str:
    """A TOML value as an operator would name it: its type, and the value when short."""
    kinds = [(bool, "a boolean"), (int, "a number"), (float, "a decimal number"), (str, "a string"), (list, "an array"),
             (dict, "a table")]
    kind = next((name for t, name in kinds if isinstance(value, t)), "a date or time")
    if isinstance(value, bool):
        return f"{kind} ({str(value).lower()})"
    if isinstance(value, str):
        return f"{kind} ({_quoted(value)})"
    return f"{kind} ({value})" if isinstance(value, int | float) else kind
