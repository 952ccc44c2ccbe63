"""``.env.example``, the file a first setup copies: it names every variable the bot requires, each commented, names
only settings the README documents, and, as shipped, is refused only for what is left to fill in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, settings_from_env

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / ".env.example").read_text()
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$")


def _assignments() -> dict[str, tuple[bool, str]]:
    """Each variable the file names: (whether it is set, not commented out; its value)."""
    found: dict[str, tuple[bool, str]] = {}
    for line in EXAMPLE.splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            found[match.group(2)] = (match.group(1) is None, match.group(3))
    return found


def test_every_required_variable_is_there_to_fill_in_with_a_comment_above_it() -> None:
    with pytest.raises(ConfigError) as empty:
        settings_from_env({})
    required = {problem.split()[0] for problem in empty.value.unset}
    assert {"SLACK_BOT_TOKEN", "SLACK_APPROVAL_CHANNEL", "APPROVERS", "DESCOPE_PROJECT_ID",
            "DESCOPE_MANAGEMENT_KEY"} <= required
    named = _assignments()
    assert required <= {name for name, (active, _) in named.items() if active}
    lines = EXAMPLE.splitlines()
    for name in named:
        index = next(i for i, line in enumerate(lines) if ASSIGNMENT.match(line.strip()) and name in line)
        assert lines[index - 1].startswith("#"), f"{name} has no comment above it"


def test_it_names_only_documented_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _assignments():
        assert f"| `{name}` |" in readme, f"{name} is not in the README's Configuration table"


def test_as_shipped_only_the_blanks_are_refused() -> None:
    active = {name: value for name, (is_set, value) in _assignments().items() if is_set}
    with pytest.raises(ConfigError) as shipped:
        settings_from_env(active)
    assert shipped.value.problems == shipped.value.unset  # nothing written wrong, only left to fill in
