"""The package's structure as README's layout table describes it: every module listed once, in an order in which
each imports only modules listed above it (so there is no import cycle, and the table tells a newcomer where a
module sits), no module or class too large to read, no pickle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "iraq_transition"
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem not in ("__init__", "__main__"))
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250


def layout_order() -> list[str]:
    """The modules of README's package table, in its order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| step | module | what it holds |", 1)[1].split("\n\n", 1)[0]
    return [name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[2])]


def package_imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports (relative imports, at any depth of the file)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found & set(MODULES)


def test_readme_lists_every_module_once():
    order = layout_order()
    assert sorted(order) == MODULES, "README's package table must list each module of src/iraq_transition once"


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_only_modules_above_it_in_the_layout(module):
    order = layout_order()
    later = {name for name in package_imports(module) if order.index(name) >= order.index(module)}
    assert not later, f"{module} imports {sorted(later)}, listed at or below it in README's package table"


@pytest.mark.parametrize("module", MODULES)
def test_modules_and_classes_stay_readable(module):
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{module}.py has more than {MAX_MODULE_LINES} lines: split it"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{module}.{node.name} has {size} lines (at most {MAX_CLASS_LINES})"


def test_nothing_in_the_package_unpickles():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names} | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"pickle", "cPickle", "dill", "shelve"}, f"{path.name} imports a pickle module"
