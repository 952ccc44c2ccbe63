"""The dependencies ``docs/ARCHITECTURE.md`` states hold in the code: each package of ``bot/`` imports only the
packages it may (``cli`` and ``server`` wire everything; ``slack`` never reaches ``store``; ``descope`` knows only
``transport``; ``domain`` nothing), no module imports one that imports it back, and nothing under ``bot/`` or
``bench/`` imports ``tests/``. Read from the source (``ast``), imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WIRING = {"cli", "server", "devtools", "__main__"}  # may import any package of the bot
MAY_IMPORT = {
    "domain": set(),
    "config": {"domain"},
    "transport": set(),
    "descope": {"transport"},
    "store": {"domain", "config"},  # config: only the migrations, for the database URL (below)
    "workflows": {"store", "domain", "descope", "config"},
    "slack": {"workflows", "domain", "config", "transport"},
}


def _modules(top: str) -> dict[str, set[str]]:
    """Each module under ``top`` (dotted name) -> the modules it imports (absolute names as written)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
        found[name] = imported
    return found


BOT = _modules("bot")


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__main__"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_imports_only_what_the_architecture_allows(package: str) -> None:
    wrong = sorted(f"{module} imports {imported}" for module, imports in BOT.items() if _package(module) == package
                   for imported in imports if imported.startswith("bot.")
                   and _package(imported) not in {package, *MAY_IMPORT[package]})
    assert wrong == []


def test_the_store_reads_config_only_in_its_migrations() -> None:
    wrong = sorted(module for module, imports in BOT.items()
                   if _package(module) == "store" and not module.startswith("bot.store.migrations")
                   and any(i.startswith("bot.config") for i in imports))
    assert wrong == []


def test_every_package_of_the_bot_is_placed() -> None:
    assert {_package(module) for module in BOT} - {"bot"} <= set(MAY_IMPORT) | WIRING


def test_no_module_imports_one_that_imports_it_back() -> None:
    both = sorted({tuple(sorted((a, b))) for a, imports in BOT.items() for b in imports
                   if b != a and a in BOT.get(b, set())})
    assert both == []


@pytest.mark.parametrize("top", ["bot", "bench"])
def test_nothing_shipped_or_measured_imports_the_tests(top: str) -> None:
    wrong = sorted(module for module, imports in _modules(top).items()
                   if any(i == "tests" or i.startswith("tests.") for i in imports))
    assert wrong == []
