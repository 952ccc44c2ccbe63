"""The documents' links work: every relative link in the README, SECURITY.md and ``docs/`` names a file that exists,
and every ``#anchor`` a heading of the document it points into (GitHub's way of making anchors from headings); every
path a document names in backticks under ``bot/``, ``tests/`` or ``bench/`` exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`((?:bot|tests|bench)/[\w/.-]+)`")
#: A module named from inside ``bot/`` (the architecture's map): ``store/sql.py``, ``slack/listeners/``.
MODULE_PATH = re.compile(r"`((?:cli|server|config|domain|store|descope|slack|transport|workflows|devtools)/[\w/.-]*)`")


def _anchors(document: Path) -> set[str]:
    """GitHub's anchors for the headings: lower case, punctuation gone, spaces as hyphens."""
    anchors = set()
    for line in document.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_relative_links_and_anchors_resolve(document: Path) -> None:
    for target in LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: link to {target!r}: no such file"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{document.name}: link to {target!r}: no such heading"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_the_paths_named_exist(document: Path) -> None:
    text = document.read_text()
    named = [(ROOT / path, path) for path in CODE_PATH.findall(text)]
    named += [(ROOT / "bot" / path, path) for path in MODULE_PATH.findall(text)]
    for path, as_written in named:
        exists = path.exists() or path.with_name(path.name + ".py").exists()  # a module named without its suffix
        assert exists, f"{document.name} names {as_written}, which does not exist"


def test_the_checks_above_find_what_they_check() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(LINK.findall(readme)) > 10
    assert len(MODULE_PATH.findall((ROOT / "docs" / "ARCHITECTURE.md").read_text())) > 50


#: A test a document cites as evidence: ``e2e/test_flow.py::test_outsider_cannot_request`` (under ``tests/``; a ``*``
#: stands for the rest of a name).
CITED_TEST = re.compile(r"`(?:tests/)?((?:unit|e2e)/[\w/.-]+\.py)(?:::([\w*]+))?`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_the_tests_cited_as_evidence_exist(document: Path) -> None:
    for path, name in CITED_TEST.findall(document.read_text()):
        cited = ROOT / "tests" / path
        assert cited.exists(), f"{document.name} cites {path}, which does not exist"
        if name:
            assert f"def {name.rstrip('*')}" in cited.read_text(), f"{document.name} cites {path}::{name}: no such test"
