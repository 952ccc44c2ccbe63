"""``POLICY_FILE``: the rules file (TOML), read and checked once at start, into a ``bot.domain.policy.Policy``.

The file is an ordered list of ``[[rule]]`` tables; the first whose ``tenants`` and ``targets`` match a request
decides it. ``read_policy(path, environment)`` reads it and returns the policy with every problem found, each
named with the file, the rule's number (and name) and the key, so one start says all that is wrong. A key a rule
leaves out takes the environment's value (``environment``: the rule the environment's settings make, built by
``environment_rule``), so every ``Rule`` it returns is complete. A rule with ``allow = false`` refuses its
targets: its other keys are read and checked one by one, but not against each other (they decide nothing). Each
table is read key by key through ``rule_table.RuleTable``; here the keys are checked against each other.

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

import os
import tomllib
from datetime import timedelta

from bot.config.rule_table import EXAMPLES, RuleTable, described, did_you_mean
from bot.config.settings import is_user_id
from bot.domain.durations import format_duration
from bot.domain.policy import Policy, Rule

KEYS = ("name", "tenants", "targets", "requesters", "approvers", "approvals", "approval_mfa", "min_duration",
        "default_duration", "max_duration", "reveal_mfa", "break_glass", "break_glass_max_duration",
        "break_glass_per_day", "escalate_after", "escalate_to", "allow")
#: The environment variable a key left out of a rule falls back to.
FALLBACKS = {"requesters": "REQUESTERS", "approvers": "APPROVERS", "min_duration": "MIN_DURATION",
             "default_duration": "DEFAULT_DURATION", "max_duration": "MAX_DURATION", "approval_mfa": "APPROVAL_MFA",
             "reveal_mfa": "REVEAL_MFA", "break_glass": "BREAK_GLASS",
             "break_glass_max_duration": "BREAK_GLASS_MAX_DURATION", "break_glass_per_day": "BREAK_GLASS_PER_DAY",
             "escalate_after": "ESCALATE_AFTER", "escalate_to": "ESCALATION_APPROVERS"}
#: The most break-glass sessions a day a rule (or ``BREAK_GLASS_PER_DAY``) may allow one requester.
MAX_BREAK_GLASS_PER_DAY = 100


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
    problems = [f"{where}, key {key}: not a key of the file{did_you_mean(key, ('rule',))}: it holds only "
                f"[[rule]] tables" for key in document if key != "rule"]
    tables = document.get("rule")
    if tables is None or tables == []:
        return [], [*problems, f"{where}: the file has no [[rule]] tables: add one, or unset POLICY_FILE"]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        written = "[rule] (one bracket)" if isinstance(tables, dict) else f"rule = {described(tables)}"
        return [], [*problems, f"{where}, key rule: must be an array of tables, written [[rule]] (two brackets) "
                               f"above each rule's keys, not {written}"]
    return tables, problems


def _read_rule(file: str, number: int, values: dict[str, object], environment: Rule) -> tuple[Rule, list[str]]:
    name = values.get("name")
    named = _sound_name(name)
    table = RuleTable(_label(file, number, name), values)
    for key in values:
        if key not in KEYS:
            table.problem(key, f"not a rule key{did_you_mean(key, KEYS)}: a rule's keys are {', '.join(KEYS)}")
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


def _window(table: RuleTable, environment: Rule, *, check: bool) -> dict[str, timedelta]:
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


def _check_approvals(table: RuleTable, rule: Rule, *, from_file: bool) -> None:
    """More approvals than the approvers listed can give, when they are all people (a group can be any size)."""
    people = set(rule.approvers)
    if not people or not all(is_user_id(p) for p in people) or rule.approvals <= len(people):
        return
    listed = "approvers" if from_file else "APPROVERS (this rule sets no approvers)"
    count = f"{len(people)} {'person' if len(people) == 1 else 'different people'}"
    table.problem("approvals", f"{rule.approvals} approvals needed, but {listed} names only {count} "
                               f"({', '.join(sorted(people))}): lower approvals, or add approvers or a user group (S…)")


def _check_break_glass(table: RuleTable, rule: Rule) -> None:
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


def _check_escalation(table: RuleTable, rule: Rule) -> None:
    """A rule that escalates with nobody to escalate to, or names whom without when (the environment giving
    neither)."""
    if rule.escalate_after is not None and not rule.escalate_to and table.own("escalate_after") \
            and "escalate_to" not in table.faulty:
        table.problem("escalate_after", f"escalates after {format_duration(rule.escalate_after)} but names nobody to "
                                        f"escalate to: add escalate_to = {EXAMPLES['escalate_to']} (or set "
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
