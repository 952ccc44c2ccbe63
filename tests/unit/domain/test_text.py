"""``bot.domain.text``: the characters a person cannot see, found in IDs and taken out of free text."""

from __future__ import annotations

import pytest

from bot.domain.text import hidden_characters, visible


@pytest.mark.parametrize(("text", "found"), [
    ("rtl\u202etset.tneilc@oec", ["U+202E"]),  # RIGHT-TO-LEFT OVERRIDE: reads as rtlceo@client.test
    ("a\u2066b\u2069", ["U+2066", "U+2069"]),  # isolates
    ("jane\x00@acme.com", ["U+0000"]),
    ("zero\u200bwidth\u200b", ["U+200B"]),  # each once
    ("bom\ufeff", ["U+FEFF"]),
    ("line\u2028sep", ["U+2028"]),
    ("private\ue000use", ["U+E000"]),
    ("jane@acme.com", []),
    ("jane\u3164@acme.com", ["U+3164"]),  # a Hangul filler: a letter that shows as nothing
    ("jane\u2800@acme.com", ["U+2800"]),  # the blank Braille pattern
    ("jane\u00a0@acme.com", ["U+00A0"]),  # a no-break space, pasted into the form
    ("a\u034fb\ufe0f", ["U+034F", "U+FE0F"]),
    ("zw\u200dj", ["U+200D"]),
    ("Jürgen.Ø@例え.jp", []),  # letters of any script are fine
])
def test_hidden_characters_are_named(text: str, found: list[str]) -> None:
    assert hidden_characters(text) == found


def test_visible_text_keeps_lines_and_drops_the_rest() -> None:
    said = visible("checking\u202e invoice\x00 SUP-1\r\nnext\tline\u2029end")
    assert said == "checking invoice SUP-1\nnext line\nend"
    assert visible("plain words") == "plain words"
    assert visible("café \u00a0 ok") == "café \u00a0 ok"  # a no-break space is seen: kept
    assert visible("a\rb\x0bc\x0cd\x85e") == "a\nb\nc\nd\ne"  # every line break stays one
    assert visible("blank\u3164\u2800 tags\U000e0067\U000e007f") == "blank tags"  # invisible letters, tag smuggling
    assert visible("blank\u3164 letters") == "blank letters"  # in text otherwise printable too
    assert visible("two\nlines\u2800") == "two\nlines"


def test_what_free_text_needs_is_kept() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, joined by ZWJ
    assert visible(f"for {family} and \u2764\ufe0f") == f"for {family} and \u2764\ufe0f"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # with a zero-width non-joiner
    assert visible(persian) == persian
    assert visible("new emoji \U0001fae9") == "new emoji \U0001fae9"  # unassigned in this Python: kept
