"""Characters a person cannot see or that change how the text around them reads, and what to do with them.

Control characters (Unicode category ``Cc``: NUL, escape …), format characters (``Cf``: the bidirectional
overrides and isolates such as U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces and joiners, the byte order mark, the
invisible tag characters), surrogates (``Cs``), private-use and unassigned code points (``Co``, ``Cn``), the line and
paragraph separators (``Zl``, ``Zp``) and the letters that show as nothing (``BLANKS``: Hangul fillers, the blank
Braille pattern, the combining grapheme joiner, variation selectors) have no place in a login ID or a tenant ID:
``rtl\u202etset.tneilc@oec`` shows as ``rtlceo@client.test``, and PostgreSQL refuses a NUL outright. So:

- ``hidden_characters``: the ones a login ID or tenant holds, and any space (refused, with a sentence naming them);
- ``visible``: free text (a reason, what Descope says of a user or a tenant) with them taken out, line breaks kept as
  line breaks and a tab as a space. What free text may need is kept: the zero-width joiner and non-joiner (emoji
  sequences, Persian and Indic scripts), variation selectors (emoji presentation), code points unassigned in this
  Python (newer emoji). Everything the bot sends to Slack passes through it once more (``bot.slack.views.blocks``).

Pure: no Slack, no database.
"""

from __future__ import annotations

import re
import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Letters and marks that show as nothing: invisible in an ID whatever their category says.
BLANKS = frozenset({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10),
                    *range(0xE0100, 0xE01F0)})
#: Kept in free text, though hidden in an ID: the joiners and the variation selectors that emoji and scripts need.
_KEPT_IN_TEXT = frozenset({0x200C, 0x200D, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)})
#: The blank letters free text loses (a character class: the quick check that a text holds none).
_BLANK_IN_TEXT = re.compile("[" + "".join(chr(code) for code in sorted(BLANKS - _KEPT_IN_TEXT)) + "]")
#: Line-breaking characters: a line break in free text (a tab: a space).
_BREAKS = {"\n": "\n", "\r": "\n", "\v": "\n", "\f": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n",
           "\t": " "}


def _hidden_in_id(char: str) -> bool:
    return unicodedata.category(char) in HIDDEN_CATEGORIES or ord(char) in BLANKS or char.isspace()


def hidden_characters(text: str) -> list[str]:
    """The characters of ``text`` an ID must not hold (hidden, blank, or a space), each once, in order: ``U+202E``."""
    seen: list[str] = []
    for char in text:
        if _hidden_in_id(char):
            name = f"U+{ord(char):04X}"
            if name not in seen:
                seen.append(name)
    return seen


def _dropped(char: str) -> bool:
    code = ord(char)
    if code in _KEPT_IN_TEXT:
        return False
    category = unicodedata.category(char)
    return (category in HIDDEN_CATEGORIES and category != "Cn") or code in BLANKS


def visible(text: str) -> str:
    """``text`` without hidden characters: line breaks kept (``\r\n`` as one), a tab as a space."""
    if (text.isprintable() or text.replace("\n", "").isprintable()) and not _BLANK_IN_TEXT.search(text):
        return text  # the usual cases (one line, or lines), at the cost of a few loops in C
    text = text.replace("\r\n", "\n")
    return "".join(_BREAKS.get(char, "") if char in _BREAKS or _dropped(char) else char for char in text)
