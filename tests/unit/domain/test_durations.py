"""``bot.domain.durations``: the one notation for windows (``90s``, ``15m``, ``2h``, ``1h30m``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config.words import duration_problem
from bot.domain.durations import BadDuration, Problem, format_duration, looks_like_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1H30M", timedelta(hours=1, minutes=30)),
        ("1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
        ("1h15s", timedelta(hours=1, seconds=15)),
        ("0h5m", timedelta(minutes=5)),
        ("120m", timedelta(hours=2)),
        ("  15m  ", timedelta(minutes=15)),
        ("\t2h\n", timedelta(hours=2)),
        ("007m", timedelta(minutes=7)),
    ],
)
def test_parse_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0m", "longer than zero"),
        ("0h0m0s", "longer than zero"),
        ("1m1h", "in that order"),
        ("30s1m", "in that order"),
        ("1h1h", "once each"),
        ("1h30m1h", "once each"),
        ("30", "is not a duration"),
        ("m", "is not a duration"),
        ("", "is not a duration"),
        ("   ", "is not a duration"),
        ("-5m", "is not a duration"),
        ("+5m", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("1h 30m", "is not a duration"),
        ("5d", "is not a duration"),
        ("5 m", "is not a duration"),
        ("m5", "is not a duration"),
        ("5min", "is not a duration"),
        ("1h30", "is not a duration"),
    ],
)
def test_parse_refuses_with_a_problem_worded_for_people(text: str, why: str) -> None:
    with pytest.raises(BadDuration) as info:
        parse_duration(text)
    assert info.value.text == text  # data: what was written, and what is wrong with it
    message = duration_problem(info.value)  # the words, where people read them
    assert why in message
    assert f"`{text}`" in message


def test_parse_error_shows_examples() -> None:
    with pytest.raises(BadDuration) as info:
        parse_duration("soon")
    assert info.value.problem is Problem.NOT_A_DURATION
    assert "`90s`, `15m`, `2h` or `1h30m`" in duration_problem(info.value)


def test_parse_huge_number_is_a_value_error() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("99999999999999h")
    assert isinstance(info.value, BadDuration) and info.value.problem is Problem.TOO_LONG


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(hours=1, minutes=2, seconds=3), "1h2m3s"),
        (timedelta(days=1), "24h"),
        (timedelta(0), "0s"),
        (timedelta(seconds=59, milliseconds=900), "59s"),
    ],
)
def test_format(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize("text", ["45s", "15m", "2h", "1h30m", "1h30m15s", "4h", "1m", "36h", "1h1s"])
def test_format_round_trips_canonical_text(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("seconds", [1, 59, 60, 61, 3599, 3600, 3601, 5400, 14400, 86399, 90061])
def test_parse_round_trips_formatted_deltas(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize("text", ["90s", "15m", "2h", "1h30m", "1H30M", " 15m ", "0m", "1m1h", "1h1h", "999h"])
def test_looks_like_duration_true_even_out_of_policy_or_malformed_order(text: str) -> None:
    assert looks_like_duration(text)


@pytest.mark.parametrize(
    "text", ["30", "m", "", "-5m", "1.5h", "jane@acme.com", "--tenant", "5d", "1h 30m", "SUP-123", "m5"]
)
def test_looks_like_duration_false(text: str) -> None:
    assert not looks_like_duration(text)
