"""``bot.slack.commands.parse``: every form of the slash command, and the usage errors for everything else
(worded by ``bot.slack.messages.replies.usage_error``: the problem, then the usage)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import Draft, WindowOutOfPolicy
from bot.domain.durations import BadDuration
from bot.domain.durations import Problem as DurationProblem
from bot.slack.commands import (
    MAX_LOGIN_ID,
    MAX_REASON,
    MAX_TENANT,
    Extend,
    Help,
    ListRequests,
    OpenForm,
    Problem,
    Stop,
    Submit,
    UsageError,
    Windows,
    opens_form,
    parse,
    plain_text,
)
from bot.slack.messages import replies
from bot.slack.messages.replies import USAGE

POLICY = Windows(
    default_duration=timedelta(minutes=30),
    min_duration=timedelta(minutes=1),
    max_duration=timedelta(hours=4),
)


def draft(text: str, allowed: Windows = POLICY) -> Draft:
    command = parse(text, allowed)
    assert isinstance(command, Submit), command
    return command.draft


def usage_error(text: str, allowed: Windows = POLICY) -> str:
    """The full message of the ``UsageError`` ``text`` raises (it must always carry the usage text)."""
    with pytest.raises(UsageError) as info:
        parse(text, allowed)
    message = replies.usage_error(info.value)
    problem = replies.usage_problem(info.value)
    assert message.endswith(USAGE)
    assert problem in message
    assert problem.strip()
    return message


# --- subcommands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["help", "HELP", "Help", "  help  "])
def test_help(text: str) -> None:
    assert parse(text, POLICY) == Help()


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_nothing_typed_opens_the_form(text: str) -> None:
    assert parse(text, POLICY) == OpenForm()
    assert opens_form(text)


@pytest.mark.parametrize("text", ["list", "LIST", " list "])
def test_list(text: str) -> None:
    assert parse(text, POLICY) == ListRequests()


@pytest.mark.parametrize(
    "text",
    [
        "stop K7M2QX9A",
        "stop k7m2qx9a",
        "STOP K7M2QX9A",
        "stop `K7M2QX9A`",
        "stop `k7m2qx9a`",
        "stop    K7M2QX9A   ",
    ],
)
def test_stop(text: str) -> None:
    assert parse(text, POLICY) == Stop("K7M2QX9A")


def test_stop_id_bounds() -> None:
    assert parse("stop ABCD", POLICY) == Stop("ABCD")
    assert parse("stop " + "A" * 16, POLICY) == Stop("A" * 16)


@pytest.mark.parametrize("text", ["stop", "stop   ", "stop ``"])
def test_stop_missing_id(text: str) -> None:
    assert "one request ID" in usage_error(text)


def test_stop_two_ids() -> None:
    assert "one request ID" in usage_error("stop K7M2QX9A B8N3RY0C")


@pytest.mark.parametrize("junk", ["K7M2-QX9A", "abc", "A" * 17, "<@U123|bo>", "K7M2QX9A!", "jane@acme.com"])
def test_stop_junk_id(junk: str) -> None:
    message = usage_error(f"stop {junk}")
    assert "is not a request ID" in message
    assert "K7M2QX9A" in message  # shows what an ID looks like


# --- submissions ---------------------------------------------------------------------------------------


def test_full_submission() -> None:
    assert draft("jane@acme.com 30m --tenant acme-eu checking invoice SUP-123") == Draft(
        login_id="jane@acme.com",
        duration=timedelta(minutes=30),
        reason="checking invoice SUP-123",
        tenant="acme-eu",
    )


def test_an_omitted_duration_is_left_to_the_rule() -> None:
    allowed = Windows(timedelta(minutes=20), timedelta(minutes=1), timedelta(hours=4))
    d = draft("jane@acme.com checking invoice SUP-123", allowed)
    assert d.duration is None  # the rule that decides the request gives its default
    assert d.tenant is None
    assert d.reason == "checking invoice SUP-123"


def test_tenant_equals_form() -> None:
    d = draft("jane@acme.com 2h --tenant=acme-eu checking invoice")
    assert (d.tenant, d.duration, d.reason) == ("acme-eu", timedelta(hours=2), "checking invoice")


def test_tenant_before_duration() -> None:
    d = draft("jane@acme.com --tenant acme-eu 1h30m checking invoice")
    assert (d.tenant, d.duration, d.reason) == ("acme-eu", timedelta(hours=1, minutes=30), "checking invoice")


def test_tenant_after_reason_words() -> None:
    d = draft("jane@acme.com checking --tenant acme-eu invoice")
    assert (d.tenant, d.reason) == ("acme-eu", "checking invoice")


def test_duration_is_case_insensitive() -> None:
    assert draft("jane@acme.com 1H30M why").duration == timedelta(hours=1, minutes=30)


def test_duration_like_word_after_reason_started_is_part_of_reason() -> None:
    d = draft("jane@acme.com checking for 5m")
    assert d.duration is None
    assert d.reason == "checking for 5m"


def test_second_duration_is_part_of_reason() -> None:
    d = draft("jane@acme.com 15m 10m check")
    assert d.duration == timedelta(minutes=15)
    assert d.reason == "10m check"


def test_reason_whitespace_is_collapsed() -> None:
    assert draft("jane@acme.com   30m   checking\tinvoice   SUP-123  ").reason == "checking invoice SUP-123"


def test_duration_bounds_are_inclusive() -> None:
    assert draft("jane@acme.com 1m why").duration == timedelta(minutes=1)
    assert draft("jane@acme.com 4h why").duration == timedelta(hours=4)
    assert draft("jane@acme.com 240m why").duration == timedelta(hours=4)


# --- Slack's escaped forms -----------------------------------------------------------------------------


def test_mailto_login_id() -> None:
    d = draft("<mailto:jane@acme.com|jane@acme.com> 30m checking")
    assert d.login_id == "jane@acme.com"


def test_mailto_login_id_without_label() -> None:
    assert draft("<mailto:jane@acme.com> checking").login_id == "jane@acme.com"


def test_link_login_id() -> None:
    assert draft("<http://acme.com|acme.com> checking").login_id == "acme.com"


def test_escaped_ampersand_in_login_id() -> None:
    assert draft("a&amp;b@acme.com checking").login_id == "a&b@acme.com"


@pytest.mark.parametrize("head", ["<@U123|bo>", "<@U123>", "<#C123|general>", "<!channel>", "<!subteam^S1|@ops>"])
def test_mention_as_login_id_is_refused(head: str) -> None:
    message = usage_error(f"{head} 30m checking")
    assert "login ID" in message
    assert "mention" in message


def test_escaped_forms_in_reason_become_plain_text() -> None:
    d = draft(
        "jane@acme.com 30m ask <@U123|bo> and <@U456> in <#C789|ops> <!channel> <!here> "
        "<!subteam^S1|@ops> <!subteam^S2> about R&amp;D &lt;b&gt; <https://x.example/t/1|ticket>"
    )
    assert d.reason == "ask @bo and @U456 in #ops @channel @here @ops @S2 about R&D <b> ticket"
    assert "<!" not in d.reason and "<@" not in d.reason and "&amp;" not in d.reason


def test_escaped_tenant_is_plain_text() -> None:
    assert draft("jane@acme.com --tenant a&amp;b why").tenant == "a&b"


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("<mailto:a@b.com|a@b.com>", "a@b.com"),
        ("<mailto:a@b.com>", "a@b.com"),
        ("<http://acme.com|acme.com>", "acme.com"),
        ("<https://acme.com/x>", "https://acme.com/x"),
        ("<@U123|bo>", "@bo"),
        ("<@U123>", "@U123"),
        ("<#C123|general>", "#general"),
        ("<#C123>", "#C123"),
        ("<!channel>", "@channel"),
        ("<!here>", "@here"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S1|@ops>", "@ops"),
        ("<!subteam^S1>", "@S1"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        ("&amp;&lt;&gt;", "&<>"),
        ("&amp;lt;", "&lt;"),  # the person typed "&lt;" literally
        ("a &amp; b", "a & b"),
        ("no escapes here", "no escapes here"),
        ("x<@U1|a>y<!here>z", "x@ay@herez"),
    ],
)
def test_plain_text(escaped: str, plain: str) -> None:
    assert plain_text(escaped) == plain


def test_link_with_spaced_label_in_reason_becomes_plain_text() -> None:
    assert draft("jane@acme.com 30m see <https://x.example/t/1|the ticket> now").reason == "see the ticket now"


@pytest.mark.parametrize("text", ["stop\tK7M2QX9A", "stop\nK7M2QX9A", "stop\u00a0K7M2QX9A"])
def test_stop_separated_by_other_whitespace(text: str) -> None:
    assert parse(text, POLICY) == Stop("K7M2QX9A")


# --- usage errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["jane@acme.com", "jane@acme.com 30m", "jane@acme.com --tenant acme-eu", "jane@acme.com 30m --tenant=acme-eu"],
)
def test_missing_reason(text: str) -> None:
    message = usage_error(text)
    assert "reason" in message.split("\n\n")[0]
    assert "required" in message


def test_reason_of_only_whitespace_after_unescaping_is_missing() -> None:
    assert "reason is required" in usage_error("jane@acme.com 30m   \t ")


def test_duration_above_policy() -> None:
    message = usage_error("jane@acme.com 5h checking")
    problem = message.split("\n\n")[0]
    assert "`5h` is out of policy" in problem
    assert "longest window allowed is 4h" in problem
    assert "1m to 4h" in problem


def test_duration_below_policy() -> None:
    allowed = Windows(timedelta(minutes=30), timedelta(minutes=5), timedelta(hours=2))
    message = usage_error("jane@acme.com 90s checking", allowed)
    problem = message.split("\n\n")[0]
    assert "`90s` is out of policy" in problem
    assert "shortest window allowed is 5m" in problem
    assert "5m to 2h" in problem


@pytest.mark.parametrize(
    ("token", "why"),
    [("1m1h", "in that order"), ("1h1h", "once each"), ("0m", "longer than zero"), ("0h0m", "longer than zero")],
)
def test_malformed_duration_looking_token(token: str, why: str) -> None:
    problem = usage_error(f"jane@acme.com {token} checking").split("\n\n")[0]
    assert f"`{token}`" in problem
    assert why in problem


def test_huge_duration_is_a_usage_error() -> None:
    usage_error("jane@acme.com 99999999999999h checking")


@pytest.mark.parametrize("flag", ["--foo", "--foo=bar", "--Tenant", "--tenants", "--t"])
def test_unknown_option(flag: str) -> None:
    problem = usage_error(f"jane@acme.com 30m {flag} checking").split("\n\n")[0]
    assert "Unknown option" in problem
    assert f"`{flag.partition('=')[0]}`" in problem
    assert "--tenant" in problem


@pytest.mark.parametrize(
    "text",
    [
        "jane@acme.com checking --tenant",
        "jane@acme.com 30m --tenant --foo checking",
        "jane@acme.com 30m --tenant --tenant=x checking",
        "jane@acme.com 30m --tenant= checking",
    ],
)
def test_tenant_without_value(text: str) -> None:
    problem = usage_error(text).split("\n\n")[0]
    assert "`--tenant` needs a tenant ID" in problem


@pytest.mark.parametrize(
    "text",
    [
        "jane@acme.com --tenant a --tenant b checking",
        "jane@acme.com --tenant=a --tenant=a checking",
        "jane@acme.com --tenant a checking --tenant=b",
    ],
)
def test_tenant_twice(text: str) -> None:
    problem = usage_error(text).split("\n\n")[0]
    assert "`--tenant` is given twice" in problem


def test_tenant_too_long() -> None:
    assert draft(f"jane@acme.com --tenant {'t' * MAX_TENANT} why").tenant == "t" * MAX_TENANT
    problem = usage_error(f"jane@acme.com --tenant {'t' * (MAX_TENANT + 1)} why").split("\n\n")[0]
    assert "tenant ID is too long" in problem


@pytest.mark.parametrize("head", ["30m", "1h30m", "1m1h", "--tenant", "--tenant=acme-eu", "--foo"])
def test_login_id_that_looks_like_a_duration_or_option(head: str) -> None:
    problem = usage_error(f"{head} jane@acme.com checking").split("\n\n")[0]
    assert "login ID" in problem


def test_login_id_too_long() -> None:
    assert draft(f"{'a' * MAX_LOGIN_ID} why").login_id == "a" * MAX_LOGIN_ID
    problem = usage_error(f"{'a' * (MAX_LOGIN_ID + 1)} why").split("\n\n")[0]
    assert "login ID is too long" in problem


def test_reason_too_long() -> None:
    ok = "x" * MAX_REASON
    assert draft(f"jane@acme.com {ok}").reason == ok
    long_reason = " ".join(["word"] * 120)  # 599 characters
    problem = usage_error(f"jane@acme.com 30m {long_reason}").split("\n\n")[0]
    assert f"{len(long_reason)} characters" in problem
    assert str(MAX_REASON) in problem
    assert "reason" in problem


def test_usage_error_carries_problem_and_usage() -> None:
    with pytest.raises(UsageError) as info:
        parse("jane@acme.com --foo why", POLICY)
    assert info.value.problem is Problem.UNKNOWN_OPTION
    assert info.value.facts == {"name": "--foo"}
    problem = replies.usage_problem(info.value)
    assert problem.startswith("Unknown option")
    assert replies.usage_error(info.value) == f"{problem}\n\n{USAGE}"
    assert "/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>" in USAGE


def test_usage_error_reply_is_a_warning_with_the_usage() -> None:
    with pytest.raises(UsageError) as info:
        parse("jane@acme.com 30m", POLICY)
    assert replies.error_reply(info.value) == f":warning: {replies.usage_error(info.value)}"


def test_window_out_of_policy_carries_the_word_and_the_bounds() -> None:
    with pytest.raises(UsageError) as info:
        parse("jane@acme.com 5h checking", POLICY)
    assert info.value.problem is Problem.WINDOW_OUT_OF_POLICY
    window = info.value.facts["window"]
    assert isinstance(window, WindowOutOfPolicy)
    assert info.value.facts["word"] == "5h"
    assert (window.duration, window.low, window.high) == (timedelta(hours=5), POLICY.min_duration, POLICY.max_duration)


@pytest.mark.parametrize("problem", list(Problem))
def test_every_problem_is_worded(problem: Problem) -> None:
    facts = {"word": "5h", "limit": 500, "name": "--foo", "bad": BadDuration("5x", DurationProblem.NOT_A_DURATION),
             "length": 600,
             "window": WindowOutOfPolicy(timedelta(hours=5), timedelta(minutes=1), timedelta(hours=4)),
             "what": "login ID", "characters": ["U+202E"]}
    text = replies.usage_problem(UsageError(problem, **facts))
    assert isinstance(text, str) and text.strip()


# -- hidden characters (issue 22) -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "what", "found"), [
    ("rtl\u202etset.tneilc@oec 30m checking", "login ID", ["U+202E"]),  # shows as rtlceo@client.test
    ("jane\x00@acme.com 30m checking", "login ID", ["U+0000"]),
    ("jane@acme.com\u200b 30m checking", "login ID", ["U+200B"]),  # a zero-width space
    ("jane@acme.com 30m --tenant acme\u2066-eu\u2069 checking", "tenant ID", ["U+2066", "U+2069"]),
    ("jane@acme.com 30m --tenant=acme\x1b[31m checking", "tenant ID", ["U+001B"]),
])
def test_a_login_or_tenant_id_with_hidden_characters_is_refused(text: str, what: str, found: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        parse(text, POLICY)
    assert info.value.problem is Problem.HIDDEN_CHARACTERS
    assert info.value.facts == {"what": what, "characters": found}
    words = replies.usage_problem(info.value)
    assert what in words and ", ".join(found) in words and "by hand" in words


def test_hidden_characters_are_taken_out_of_a_reason() -> None:
    submitted = parse("jane@acme.com 30m \u202echecking\x00 invoice\u200b SUP-123", POLICY)
    assert isinstance(submitted, Submit)
    assert submitted.draft.reason == "checking invoice SUP-123"


# -- extend (issue 11) --------------------------------------------------------------------------------------


def test_extend_takes_the_session_an_optional_duration_and_a_reason() -> None:
    assert parse("extend k7m2qx9a 30m still checking SUP-123", POLICY) == Extend(
        "K7M2QX9A", timedelta(minutes=30), "still checking SUP-123")
    assert parse("extend `K7M2QX9A` still checking", POLICY) == Extend("K7M2QX9A", None, "still checking")


@pytest.mark.parametrize(("text", "needle"), [
    ("extend", "`extend` takes the ID of your running session"),
    ("extend K7M2QX9A 30m", "A reason is required"),
    ("extend jane@acme.com 30m why", "is not a request ID"),
    ("extend K7M2QX9A 5mins why", "`5mins` is not a duration"),
    ("extend K7M2QX9A 9h why", "out of policy"),
])
def test_extend_problems_say_what_to_write(text: str, needle: str) -> None:
    assert needle in usage_error(text)


# -- --break-glass (issue 26) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "jane@acme.com 15m --break-glass checkout down for all EU customers",
    "jane@acme.com --break-glass 15m checkout down for all EU customers",
    "jane@acme.com 15m checkout down for all EU customers --break-glass",
    "jane@acme.com 15m checkout down --break-glass for all EU customers",
    "jane@acme.com --break-glass --tenant acme-eu 15m checkout down for all EU customers",
])
def test_break_glass_is_a_flag_anywhere_after_the_login_id(text: str) -> None:
    found = draft(text)
    assert found.break_glass
    assert (found.login_id, found.duration, found.reason) == (
        "jane@acme.com", timedelta(minutes=15), "checkout down for all EU customers")
    assert found.tenant == ("acme-eu" if "--tenant" in text else None)


def test_without_the_flag_a_request_is_no_break_glass() -> None:
    assert not draft("jane@acme.com 15m checkout down").break_glass


def test_a_break_glass_window_past_the_widest_max_duration_is_left_to_its_own_cap() -> None:
    assert draft("jane@acme.com 6h --break-glass checkout down for everyone").duration == timedelta(hours=6)
    assert "`6h` is out of policy" in usage_error("jane@acme.com 6h checkout down for everyone")


def test_a_break_glass_without_a_window_takes_the_rules() -> None:
    assert draft("jane@acme.com --break-glass checkout down for everyone").duration is None


def test_a_malformed_break_glass_window_is_still_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        parse("jane@acme.com 1h1h --break-glass checkout down", POLICY)
    assert info.value.problem is Problem.BAD_DURATION


def test_break_glass_takes_no_value() -> None:
    with pytest.raises(UsageError) as info:
        parse("jane@acme.com 15m --break-glass=yes checkout down for everyone", POLICY)
    assert (info.value.problem, info.value.facts) == (Problem.UNKNOWN_OPTION, {"name": "--break-glass"})


@pytest.mark.parametrize("text", ["jane@acme.com 15m --break-glass", "jane@acme.com --break-glass",
                                  "jane@acme.com --break-glass 15m   "])
def test_a_break_glass_needs_a_reason(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(text, POLICY)
    assert info.value.problem is Problem.NO_REASON
