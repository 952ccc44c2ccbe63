"""Characters a person cannot see or that change how the text around them reads, and what to do with them.

Control characters (Unicode category ``Cc``: NUL, escape …), format characters (``Cf``: the bidirectional
overrides and isolates such as U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces and joiners, the byte order mark),
surrogates (``Cs``), private-use and unassigned code points (``Co``, ``Cn``) and the line and paragraph
separators (``Zl``, ``Zp``) have no place in a login ID or a tenant ID: ``rtl\\u202etset.tneilc@oec`` shows as
``rtlceo@client.test``, and PostgreSQL refuses a NUL outright. So:

- ``hidden_characters``: the ones a login ID or tenant holds (refused, with a sentence naming them);
- ``visible``: text with them taken out, for free text (a reason) and for what Descope says (a user's name, a
  tenant's name), line breaks and tabs kept as a line break and a space. Everything the bot sends to Slack passes
  through it once more (``bot.slack.views.blocks``).

Pure: no Slack, no database.
"""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_KEPT = {"\n": "\n", "\t": " ", "\r": "", "\u2028": "\n", "\u2029": "\n"}


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in HIDDEN_CATEGORIES


def hidden_characters(text: str) -> list[str]:
    """The hidden characters ``text`` holds, each once, in order, written ``U+202E``."""
    seen: list[str] = []
    for char in text:
        if _hidden(char):
            name = f"U+{ord(char):04X}"
            if name not in seen:
                seen.append(name)
    return seen


def visible(text: str) -> str:
    """``text`` without hidden characters: line breaks kept (``\\r\\n`` as one), a tab as a space."""
    if text.isprintable():  # the usual case, at the cost of one C loop
        return text
    return "".join(_KEPT.get(char, "") if _hidden(char) else char for char in text)
