"""``bot.config.policy_file``: the rules file read into complete rules, and every problem named with the file,
the rule's number (and name) and the key."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import environment_rule, read_policy
from bot.config.rule_table import glob_problem
from bot.domain.policy import Policy, Rule
from bot.domain.proof import Mfa
from tests.unit.factories import POLICY_EXAMPLE

ENV = environment_rule(("U0AAA", "U0BBB"), (), (timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=4)))



@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "policy.toml"


def read(path: Path, text: str, environment: Rule = ENV) -> tuple[Policy, list[str]]:
    path.write_text(text)
    return read_policy(str(path), environment)


def rules(path: Path, text: str, environment: Rule = ENV) -> tuple[Rule, ...]:
    policy, problems = read(path, text, environment)
    assert problems == []
    assert policy.source == str(path)
    return policy.rules


def problem(path: Path, text: str) -> str:
    """The one problem of a file."""
    _, problems = read(path, text)
    assert len(problems) == 1, problems
    return problems[0]


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# --- reading and resolving ----------------------------------------------------------------------------------


def test_the_readmes_example(path: Path) -> None:
    regulated, staff = rules(path, POLICY_EXAMPLE)
    assert regulated == Rule(number=1, name="regulated tenants", requesters=("U0AAA", "U0BBB"), approvers=("S0SECOPS",),
                             approvals=2, min_duration=minutes(1), default_duration=minutes(30),
                             max_duration=minutes(60), tenants=("bank-*",), targets=None)
    assert staff.number == 2 and staff.name == "our own staff"
    assert staff.allow is False and staff.targets == ("*@ourcompany.com",) and staff.tenants is None


def test_every_key_set(path: Path) -> None:
    (rule,) = rules(path, """
        [[rule]]
        name = "acme"
        tenants = ["acme-*", ""]
        targets = ["*@acme.com"]
        requesters = ["U0REQ", "W0REQ", "S0SUPPORT"]
        approvers = ["U0APP", "U0APQ"]
        approvals = 2
        min_duration = "90s"
        default_duration = "1h30m"
        max_duration = "2h"
        approval_mfa = "totp"
        reveal_mfa = "email"
        break_glass = true
        break_glass_max_duration = "6h"
        break_glass_per_day = 2
        escalate_after = "45m"
        escalate_to = ["U0BOSS", "W0BOSS", "S0ONCALL"]
        allow = true
    """)
    assert rule == Rule(number=1, name="acme", requesters=("U0REQ", "W0REQ", "S0SUPPORT"), approvers=("U0APP", "U0APQ"),
                        approvals=2, min_duration=timedelta(seconds=90), default_duration=minutes(90),
                        max_duration=minutes(120), tenants=("acme-*", ""), targets=("*@acme.com",),
                        approval_mfa=Mfa.TOTP, reveal_mfa=Mfa.EMAIL, break_glass=True,
                        break_glass_max_duration=minutes(360), break_glass_per_day=2, escalate_after=minutes(45),
                        escalate_to=("U0BOSS", "W0BOSS", "S0ONCALL"))


def test_keys_left_out_are_the_environments(path: Path) -> None:
    environment = environment_rule(("U0APP", "S0APP"), ("U0REQ",), (minutes(5), minutes(20), minutes(50)))
    (rule,) = rules(path, '[[rule]]\ntenants = ["acme"]\n', environment)
    assert (rule.requesters, rule.approvers, rule.approvals) == (("U0REQ",), ("U0APP", "S0APP"), 1)
    assert (rule.min_duration, rule.default_duration, rule.max_duration) == (minutes(5), minutes(20), minutes(50))
    assert rule.allow and rule.targets is None and rule.name == "rule 1"
    assert (rule.approval_mfa, rule.reveal_mfa) == (Mfa.NONE, Mfa.NONE)
    assert (rule.break_glass, rule.break_glass_max_duration, rule.break_glass_per_day) == (False, minutes(30), 3)
    assert (rule.escalate_after, rule.escalate_to) == (None, ())


def test_break_glass_and_escalation_left_out_are_the_environments(path: Path) -> None:
    environment = environment_rule(("U0APP",), (), (minutes(5), minutes(20), minutes(50)), break_glass=True,
                                   break_glass_max_duration=minutes(90), break_glass_per_day=4,
                                   escalate_after=minutes(15), escalate_to=("S0ONCALL",))
    own, neither = rules(path, """
        [[rule]]
        tenants = ["a"]
        break_glass = false
        break_glass_per_day = 1
        escalate_after = "1h"
        [[rule]]
        tenants = ["b"]
    """, environment)
    assert (own.break_glass, own.break_glass_max_duration, own.break_glass_per_day) == (False, minutes(90), 1)
    assert (own.escalate_after, own.escalate_to) == (minutes(60), ("S0ONCALL",))
    assert (neither.break_glass, neither.break_glass_max_duration, neither.break_glass_per_day) == (
        True, minutes(90), 4)
    assert (neither.escalate_after, neither.escalate_to) == (minutes(15), ("S0ONCALL",))
    (whom,) = rules(path, '[[rule]]\nescalate_to = ["U0BOSS"]\n', environment)  # when: the environment's
    assert (whom.escalate_after, whom.escalate_to) == (minutes(15), ("U0BOSS",))


def test_a_break_glass_cap_may_pass_the_rules_longest_window(path: Path) -> None:
    (rule,) = rules(path, '[[rule]]\nmax_duration = "1h"\nbreak_glass = true\nbreak_glass_max_duration = "8h"\n')
    assert (rule.max_duration, rule.break_glass_max_duration) == (minutes(60), minutes(480))


def test_a_refusing_rule_does_not_check_its_break_glass_and_escalation_against_each_other(path: Path) -> None:
    (rule,) = rules(path, '[[rule]]\nallow = false\nescalate_after = "10m"\nbreak_glass = true\n'
                          'min_duration = "1h"\n')
    assert not rule.allow


def test_second_factors_left_out_are_the_environments(path: Path) -> None:
    environment = environment_rule(("U0APP",), (), (minutes(5), minutes(20), minutes(50)), approval_mfa=Mfa.EMAIL,
                                   reveal_mfa=Mfa.TOTP)
    own_approval, own_reveal, neither = rules(path, """
        [[rule]]
        tenants = ["a"]
        approval_mfa = "none"
        [[rule]]
        tenants = ["b"]
        reveal_mfa = "email"
        [[rule]]
        tenants = ["c"]
    """, environment)
    assert (own_approval.approval_mfa, own_approval.reveal_mfa) == (Mfa.NONE, Mfa.TOTP)
    assert (own_reveal.approval_mfa, own_reveal.reveal_mfa) == (Mfa.EMAIL, Mfa.EMAIL)
    assert (neither.approval_mfa, neither.reveal_mfa) == (Mfa.EMAIL, Mfa.TOTP)


@pytest.mark.parametrize(("written", "method"), [("totp", Mfa.TOTP), ("TOTP", Mfa.TOTP), ("Email", Mfa.EMAIL),
                                                 (" none ", Mfa.NONE)])
def test_second_factors_in_any_case(path: Path, written: str, method: Mfa) -> None:
    (rule,) = rules(path, f'[[rule]]\napproval_mfa = "{written}"\nreveal_mfa = "{written}"\n')
    assert (rule.approval_mfa, rule.reveal_mfa) == (method, method)


def test_requesters_left_out_everywhere_are_the_environments_approvers(path: Path) -> None:
    (rule,) = rules(path, '[[rule]]\ntenants = ["acme"]\napprovers = ["S0RULE"]\n')
    assert rule.requesters == ENV.approvers == ("U0AAA", "U0BBB")
    assert rule.approvers == ("S0RULE",)


@pytest.mark.parametrize(("keys", "window"), [
    ('max_duration = "20m"', (1, 20, 20)),  # the environment's 30m, brought down to the rule's longest
    ('min_duration = "45m"', (45, 45, 240)),  # … and up to its shortest
    ('min_duration = "5m"\nmax_duration = "1h"', (5, 30, 60)),  # within: kept
    ('min_duration = "2h"\nmax_duration = "3h"', (120, 120, 180)),
    ('default_duration = "10m"', (1, 10, 240)),
])
def test_a_default_left_out_is_brought_within_the_rules_bounds(path: Path, keys: str,
                                                                window: tuple[int, int, int]) -> None:
    (rule,) = rules(path, f'[[rule]]\ntenants = ["acme"]\n{keys}\n')
    assert (rule.min_duration, rule.default_duration, rule.max_duration) == tuple(minutes(n) for n in window)


def test_allow_false_ignores_the_other_keys_without_complaint(path: Path) -> None:
    (rule,) = rules(path, """
        [[rule]]
        targets = ["*@ourcompany.com"]
        allow = false
        approvers = ["U0ONE"]
        approvals = 3
        min_duration = "5h"
        default_duration = "10m"
    """)
    assert rule.allow is False


def test_numbers_follow_the_files_order(path: Path) -> None:
    found = rules(path, '[[rule]]\ntenants = ["a"]\n[[rule]]\ntenants = ["b"]\n[[rule]]\nname = "c"\n')
    assert [(r.number, r.name) for r in found] == [(1, "rule 1"), (2, "rule 2"), (3, "c")]


def test_inline_tables_are_rules_too(path: Path) -> None:
    (rule,) = rules(path, 'rule = [{ tenants = ["acme"], approvals = 1 }]\n')
    assert rule.tenants == ("acme",)


# --- problems of the file as a whole ------------------------------------------------------------------------


def test_a_missing_file(path: Path) -> None:
    policy, problems = read_policy(str(path), ENV)
    assert policy == Policy(source=str(path))
    assert problems == [f"POLICY_FILE {path}: there is no such file: fix the path, or unset POLICY_FILE"]


def test_a_missing_relative_path_names_the_working_directory(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (found,) = read_policy("rules/policy.toml", ENV)[1]
    assert found.startswith("POLICY_FILE rules/policy.toml: there is no such file")
    assert f"working directory, {tmp_path}" in found


def test_a_directory(tmp_path: Path) -> None:
    assert read_policy(str(tmp_path), ENV)[1] == [f"POLICY_FILE {tmp_path}: is a directory: name the TOML file itself"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user that file modes apply to")
def test_an_unreadable_file(path: Path) -> None:
    path.write_text(POLICY_EXAMPLE)
    path.chmod(0)
    (found,) = read_policy(str(path), ENV)[1]
    assert found == f"POLICY_FILE {path}: cannot be read (permission denied): let the bot's user read it"


def test_toml_syntax_errors_say_where(path: Path) -> None:
    found = problem(path, '[[rule]]\nname = "regulated\ntenants = ["bank-*"]\n')
    assert found.startswith(f"POLICY_FILE {path}: is not valid TOML: ")
    assert "line 2" in found


def test_not_utf8(path: Path) -> None:
    path.write_bytes('[[rule]]\nname = "caf\u00e9"\n'.encode("latin-1"))
    assert read_policy(str(path), ENV)[1] == [f"POLICY_FILE {path}: is not UTF-8 text: save it as UTF-8 "
                                              "(TOML files are UTF-8)"]


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "rule = []\n"])
def test_no_rules(path: Path, text: str) -> None:
    assert problem(path, text) == f"POLICY_FILE {path}: the file has no [[rule]] tables: add one, or unset POLICY_FILE"


def test_unknown_top_level_keys(path: Path) -> None:
    _, problems = read(path, 'version = 2\n[[rules]]\ntenants = ["a"]\n[[rule]]\ntenants = ["b"]\n')
    assert problems == [
        f"POLICY_FILE {path}, key version: not a key of the file: it holds only [[rule]] tables",
        f"POLICY_FILE {path}, key rules: not a key of the file (did you mean rule?): it holds only [[rule]] tables",
    ]


@pytest.mark.parametrize(("text", "written"), [
    ('[rule]\ntenants = ["a"]\n', "not [rule] (one bracket)"),
    ('rule = "everything"\n', 'not rule = a string ("everything")'),
    ("rule = [1, 2]\n", "not rule = an array"),
])
def test_rule_must_be_an_array_of_tables(path: Path, text: str, written: str) -> None:
    assert problem(path, text) == (f"POLICY_FILE {path}, key rule: must be an array of tables, written [[rule]] "
                                   f"(two brackets) above each rule's keys, {written}")


# --- problems of a rule: each named with the file, the rule and the key -------------------------------------

BAD_RULES = [
    # (the rule's keys, the key at fault, what the problem says)
    ('aprovers = ["S0X"]', "aprovers", "not a rule key (did you mean approvers?): a rule's keys are name, tenants, "
                                       "targets, requesters, approvers, approvals, approval_mfa, min_duration, "
                                       "default_duration, max_duration, reveal_mfa, break_glass, "
                                       "break_glass_max_duration, break_glass_per_day, escalate_after, escalate_to, "
                                       "allow"),
    ('break_glass = "yes"', "break_glass", 'must be true or false, not a string ("yes")'),
    ("break_glass = 1", "break_glass", "must be true or false, not a number (1)"),
    ('break_glass_max_duration = "30"', "break_glass_max_duration", "`30` is not a duration"),
    ("break_glass_max_duration = 30", "break_glass_max_duration", 'must be a duration in quotes, like "90s", "15m", '
                                                                  '"2h" or "1h30m", not a number (30)'),
    ('break_glass = true\nmin_duration = "1h"', "min_duration",
     "BREAK_GLASS_MAX_DURATION (30m, from the environment: this rule sets no break_glass_max_duration) is shorter "
     'than min_duration (1h): a break-glass window is at least min_duration long; set break_glass_max_duration = '
     '"1h" or more (it may pass max_duration)'),
    ('break_glass_max_duration = "30s"', "break_glass_max_duration",
     "break_glass_max_duration (30s) is shorter than MIN_DURATION (1m, from the environment: this rule sets no "
     "min_duration)"),
    ('break_glass = true\nbreak_glass_max_duration = "5m"\nmin_duration = "10m"', "break_glass_max_duration",
     "break_glass_max_duration (5m) is shorter than min_duration (10m)"),
    ('break_glass_per_day = "3"', "break_glass_per_day", 'must be a whole number, like break_glass_per_day = 3, not '
                                                         'a string ("3")'),
    ("break_glass_per_day = 0", "break_glass_per_day", "must be from 1 to 100 (break-glass sessions one requester may "
                                                       "start in 24 hours), not 0"),
    ("break_glass_per_day = 101", "break_glass_per_day", "not 101"),
    ("break_glass_per_day = true", "break_glass_per_day", "not a boolean (true)"),
    ('escalate_after = "0"', "escalate_after", '"0" does not turn escalation off in a rule: leave escalate_after out '
                                               "instead (the rule then takes ESCALATE_AFTER; unset or 0, it never "
                                               "escalates)"),
    ("escalate_after = 0", "escalate_after", "0 does not turn escalation off in a rule: leave escalate_after out"),
    ('escalate_after = "soon"', "escalate_after", "`soon` is not a duration: write it like `90s`"),
    ("escalate_after = 30", "escalate_after", "must be a duration in quotes"),
    ('escalate_after = "30m"', "escalate_after",
     'escalates after 30m but names nobody to escalate to: add escalate_to = ["U012AB3CD", "S0ONCALL"] (or set '
     "ESCALATION_APPROVERS), or leave escalate_after out"),
    ('escalate_to = ["U0BOSS"]', "escalate_to", 'names whom to escalate to but not when: add escalate_after, like '
                                                'escalate_after = "30m" (or set ESCALATE_AFTER), or leave escalate_to '
                                                "out"),
    ('escalate_after = "30m"\nescalate_to = ["@oncall"]', "escalate_to",
     '"@oncall" is not a Slack user ID (U…/W…) or user-group ID (S…): copy a person\'s member ID'),
    ('escalate_after = "30m"\nescalate_to = ["jane@acme.com", "U0BOSS"]', "escalate_to",
     '"jane@acme.com" is not a Slack user ID'),
    ('escalate_after = "30m"\nescalate_to = []', "escalate_to",
     "is an empty array, which names nobody: list at least one, or leave the key out to use ESCALATION_APPROVERS"),
    ('escalate_after = "30m"\nescalate_to = "S0ONCALL"', "escalate_to",
     'must be an array of strings, like escalate_to = ["U012AB3CD", "S0ONCALL"], not a string ("S0ONCALL")'),
    ('escalate_to = ["S0ONCALL"]\nescalate_after = "0"', "escalate_after", '"0" does not turn escalation off'),
    ('escalate_too = ["S0ONCALL"]', "escalate_too", "not a rule key (did you mean escalate_to?)"),
    ('approval_mfa = "sms"', "approval_mfa", 'must be one of "none", "totp" or "email", not "sms"'),
    ('reveal_mfa = ""', "reveal_mfa", 'must be one of "none", "totp" or "email", not ""'),
    ("reveal_mfa = 2", "reveal_mfa", 'must be one of "none", "totp" or "email", not a number (2)'),
    ('approval_mfa = ["totp"]', "approval_mfa", 'must be one of "none", "totp" or "email", not an array'),
    ("approval_mfa = true", "approval_mfa", "not a boolean (true)"),
    ('reveal_mfa = "2fa"', "reveal_mfa", "not \"2fa\""),
    ('approval_mfas = "totp"', "approval_mfas", "not a rule key (did you mean approval_mfa?)"),
    ("colour = 1", "colour", "not a rule key: a rule's keys are name,"),
    ('tenants = "bank-*"', "tenants", 'must be an array of strings, like tenants = ["acme-*", ""], not a string '
                                      '("bank-*")'),
    ("targets = [1]", "targets", 'must hold only strings, like targets = ["*@acme.com"], not a number (1)'),
    ("tenants = []", "tenants", "is an empty array, which matches nothing: list at least one, or leave the key "
                                "out to match everything"),
    ("targets = []", "targets", "is an empty array"),
    ("requesters = []", "requesters", "is an empty array, which names nobody: list at least one, or leave the key "
                                      "out to use REQUESTERS (or APPROVERS when it is unset)"),
    ("approvers = []", "approvers", "names nobody: list at least one, or leave the key out to use APPROVERS"),
    ('approvers = "S0X"', "approvers", "must be an array of strings"),
    ('tenants = ["bank-[eu"]', "tenants", '"bank-[eu" opens a character class with [ that is never closed: close it '
                                          "with ], or write [[] for a literal ["),
    ('targets = [""]', "targets", '"" matches no login ID: remove it ("" only means "no tenant" in tenants)'),
    ('targets = ["jane @acme.com"]', "targets", '"jane @acme.com" holds whitespace or a control character, which no '
                                                "ID has: remove it"),
    ('tenants = ["acme\\t"]', "tenants", '"acme\\t" holds whitespace or a control character'),
    ('approvers = ["jane@acme.com"]', "approvers", '"jane@acme.com" is not a Slack user ID (U…/W…) or user-group ID '
                                                   "(S…): copy a person's member ID from their profile"),
    ('requesters = ["u0aaa"]', "requesters", '"u0aaa" is not a Slack user ID'),
    ('approvers = ["C0CHANNEL"]', "approvers", '"C0CHANNEL" is not a Slack user ID'),
    ('approvals = "2"', "approvals", 'must be a whole number, like approvals = 2, not a string ("2")'),
    ("approvals = 1.5", "approvals", "must be a whole number, like approvals = 2, not a decimal number (1.5)"),
    ("approvals = true", "approvals", "not a boolean (true)"),
    ("approvals = 0", "approvals", "must be at least 1 (the approvals a request needs), not 0"),
    ("approvals = -2", "approvals", "not -2"),
    ('max_duration = "90x"', "max_duration", "`90x` is not a duration: write it like `90s`, `15m`, `2h` or `1h30m`"),
    ('min_duration = "0m"', "min_duration", "`0m` is not a duration: it must be longer than zero"),
    ("default_duration = 30", "default_duration", 'must be a duration in quotes, like "90s", "15m", "2h" or "1h30m", '
                                                  "not a number (30)"),
    ('allow = "no"', "allow", 'must be true or false, not a string ("no")'),
    ("allow = 0", "allow", "must be true or false, not a number (0)"),
    ('min_duration = "2h"\nmax_duration = "1h"', "min_duration", "min_duration (2h) is longer than max_duration (1h)"),
    ('min_duration = "5h"', "min_duration", "min_duration (5h) is longer than MAX_DURATION (4h, from the "
                                            "environment: this rule sets no max_duration)"),
    ('max_duration = "30s"', "max_duration", "MIN_DURATION (1m, from the environment: this rule sets no min_duration) "
                                             "is longer than max_duration (30s)"),
    ('default_duration = "2h"\nmax_duration = "1h"', "default_duration",
     "default_duration (2h) must lie between MIN_DURATION (1m, from the environment: this rule sets no "
     "min_duration) and max_duration (1h)"),
    ('default_duration = "5h"', "default_duration", "default_duration (5h) must lie between MIN_DURATION"),
    ('approvers = ["U0ONE", "U0TWO"]\napprovals = 3', "approvals",
     "3 approvals needed, but approvers names only 2 different people (U0ONE, U0TWO): lower approvals, or add "
     "approvers or a user group (S…)"),
    ('approvers = ["U0ONE", "U0ONE"]\napprovals = 2', "approvals", "approvers names only 1 person (U0ONE)"),
    ("approvals = 3", "approvals", "3 approvals needed, but APPROVERS (this rule sets no approvers) names only 2 "
                                   "different people (U0AAA, U0BBB)"),
]


@pytest.mark.parametrize(("keys", "key", "says"), BAD_RULES)
def test_a_problem_names_the_file_the_rule_and_the_key(path: Path, keys: str, key: str, says: str) -> None:
    scope = "" if "tenants" in keys else 'tenants = ["acme"]'
    found = problem(path, f'[[rule]]\nname = "first"\ntargets = ["*@a.com"]\n\n[[rule]]\nname = "second"\n{keys}\n'
                          f"{scope}\n")
    prefix = f'POLICY_FILE {path}, rule 2 ("second"), key {key}: '
    assert found.startswith(prefix), found
    assert says in found[len(prefix):], found


def test_an_unnamed_rule_is_named_by_its_number(path: Path) -> None:
    assert problem(path, '[[rule]]\napprovals = 0\n').startswith(f"POLICY_FILE {path}, rule 1, key approvals: ")


def test_a_name_must_be_a_string(path: Path) -> None:
    assert problem(path, '[[rule]]\nname = 3\n') == (f'POLICY_FILE {path}, rule 1, key name: must be a string, like '
                                                     'name = "regulated tenants", not a number (3)')


@pytest.mark.parametrize("name", ["", "   ", "two\\nlines"])
def test_a_name_must_be_one_printable_line(path: Path, name: str) -> None:
    found = problem(path, f'[[rule]]\nname = "{name}"\n')
    assert found == f"POLICY_FILE {path}, rule 1, key name: must be one line of printable text, not blank"


def test_more_approvals_than_people_is_fine_with_a_group(path: Path) -> None:
    (rule,) = rules(path, '[[rule]]\napprovers = ["U0ONE", "S0TEAM"]\napprovals = 5\n')
    assert rule.approvals == 5


def test_as_many_approvals_as_people_is_fine(path: Path) -> None:
    (rule,) = rules(path, '[[rule]]\napprovers = ["U0ONE", "W0TWO"]\napprovals = 2\n')
    assert rule.approvals == 2


def test_every_problem_of_every_rule_at_once(path: Path) -> None:
    _, problems = read(path, """
        colour = "blue"
        [[rule]]
        name = "one"
        tenants = ["bank-["]
        approvals = 0
        [[rule]]
        targets = "x"
        max_duration = "soon"
    """)
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"POLICY_FILE {path}, key colour",
        f'POLICY_FILE {path}, rule 1 ("one"), key approvals',
        f'POLICY_FILE {path}, rule 1 ("one"), key tenants',
        f"POLICY_FILE {path}, rule 2, key targets",
        f"POLICY_FILE {path}, rule 2, key max_duration",
    ]


def test_a_rule_matching_everything_before_others(path: Path) -> None:
    found = problem(path, '[[rule]]\nname = "all"\n[[rule]]\ntenants = ["a"]\n[[rule]]\ntenants = ["b"]\n')
    assert found == (f'POLICY_FILE {path}, rule 1 ("all"): it has neither tenants nor targets, so it decides every '
                     "request and rules 2 to 3 after it never apply: give it tenants or targets, or move it last")
    found = problem(path, '[[rule]]\napprovals = 2\n[[rule]]\ntenants = ["a"]\n')
    assert "rule 2 after it never applies" in found


def test_a_rule_matching_everything_last_is_the_files_own_default(path: Path) -> None:
    assert len(rules(path, '[[rule]]\ntenants = ["a"]\n[[rule]]\nname = "everyone else"\napprovals = 2\n')) == 2


def test_rules_are_checked_even_when_the_environment_has_problems(path: Path) -> None:
    """APPROVERS unset: its problem is the reader's; the file's own are still all found."""
    environment = environment_rule((), (), (minutes(1), minutes(30), timedelta(hours=4)))
    _, problems = read(path, '[[rule]]\napprovals = 3\ntenants = ["["]\n', environment)
    assert [p.split(": ", 1)[0] for p in problems] == [f"POLICY_FILE {path}, rule 1, key tenants"]


# --- globs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["acme", "bank-*", "*@acme.com", "user?@acme.com", "[abc]x", "[!a]x", "[]]x",
                                     "[!]]x", "a[[]b", "*[0-9]"])
def test_good_globs(pattern: str) -> None:
    assert glob_problem(pattern, empty_ok=False) is None


@pytest.mark.parametrize("pattern", ["[abc", "a[", "[!", "[]", "[!]", "ok[a]then[b"])
def test_an_unclosed_class(pattern: str) -> None:
    problem = glob_problem(pattern, empty_ok=False)
    assert problem is not None and "never closed" in problem


def test_the_empty_glob_is_for_tenants_only() -> None:
    assert glob_problem("", empty_ok=True) is None
    assert glob_problem("", empty_ok=False) is not None


@pytest.mark.parametrize("pattern", ["a b", "a\tb", "a\u00a0b", "a\x00b", "acme\n"])
def test_whitespace_and_control_characters(pattern: str) -> None:
    problem = glob_problem(pattern, empty_ok=False)
    assert problem is not None and "whitespace or a control character" in problem
    assert "\n" not in problem and "\t" not in problem and "\x00" not in problem
