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
    ("Jürgen.Ø@例え.jp", []),  # letters of any script are fine
])
def test_hidden_characters_are_named(text: str, found: list[str]) -> None:
    assert hidden_characters(text) == found


def test_visible_text_keeps_lines_and_drops_the_rest() -> None:
    said = visible("checking\u202e invoice\x00 SUP-1\r\nnext\tline\u2029end")
    assert said == "checking invoice SUP-1\nnext line\nend"
    assert visible("plain words") == "plain words"
    assert visible("café \u00a0 ok") == "café \u00a0 ok"  # a no-break space is seen: kept
