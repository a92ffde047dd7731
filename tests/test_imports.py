"""A module's dependencies can be read from its top, and the package's modules import one another without a circle.

An import inside a function hides a dependency from whoever reads the module's top. One stays only for a reason a
reader can check: start-up time (a figure that was measured), an optional dependency, or an import cycle; the
module then carries a comment that starts ``# Late`` and says which, with the figure. Late imports count as
dependencies for the circle: ``profiles.loading -> schemas -> profiles`` hid in two of them.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "conformance"
#: A comment block that opens with ``# Late`` ("# Late imports: ...", "# Late on purpose: ...").
LATE_COMMENT = re.compile(r"^\s*#\s*Late\b")
#: What makes a late import acceptable: a measured figure (0.24 s, 17 ms, 1.25x), an optional dependency, a cycle.
REASON = re.compile(r"\d(?:\.\d+)?\s*(?:ms|s)\b|\d(?:\.\d+)?x\b|\boptional\b|\bcycle\b", re.IGNORECASE)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def late_imports(tree: ast.Module) -> list[int]:
    """Line numbers of the imports inside functions (a ``TYPE_CHECKING`` block is at module level: not late)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines.update(n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return sorted(lines)


def late_reasons(text: str) -> list[str]:
    """Each ``# Late`` comment block of ``text``, joined into one line."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if LATE_COMMENT.match(line):
            block = [line.strip()]
            for following in lines[i + 1:]:
                if not following.strip().startswith("#"):
                    break
                block.append(following.strip())
            blocks.append(" ".join(block))
    return blocks


def unexplained(text: str) -> list[int]:
    """The late imports of a module that has no ``# Late`` comment giving a reason (empty: none, or explained)."""
    late = late_imports(ast.parse(text))
    if not late or any(REASON.search(block) for block in late_reasons(text)):
        return []
    return late


def test_every_late_import_of_the_package_has_its_reason_written() -> None:
    found = {path.relative_to(ROOT).as_posix(): unexplained(path.read_text(encoding="utf-8")) for path in _modules()}
    missing = {path: lines for path, lines in found.items() if lines}
    assert not missing, (
        "imports inside functions without a '# Late ...' comment that gives the reason (a measured start-up "
        "figure, an optional dependency, an import cycle); move them to the top or write why: " + repr(missing))


def test_the_package_still_has_late_imports_to_check() -> None:
    """The rule above is not vacuous: the walk finds the late imports that exist (the CLI's, for start-up)."""
    counted = {_name(p): len(late_imports(ast.parse(p.read_text(encoding="utf-8")))) for p in _modules()}
    assert counted["conformance.cli.check"] > 0 and counted["conformance.schemas"] > 0
    assert counted["conformance.tokens.codec"] == 0


@pytest.mark.parametrize(("source", "flagged"), [
    ("import os\n\ndef f():\n    import json\n", [4]),
    ("def f():\n    # Late: it is slow\n    import json\n", [3]),  # a reason without a figure is no reason
    ("# Late imports: json costs --help 12 ms (farm-bench)\ndef f():\n    import json\n", []),
    ("def f():\n    # Late on purpose: playwright is an optional extra\n    import playwright\n", []),
    ("def f():\n    # Late: schemas imports this module (an import cycle)\n    from . import schemas\n", []),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import json\n", []),
    ("import json\n\ndef f():\n    return json.dumps(1)\n", []),
])
def test_the_rule_flags_late_imports_without_a_reason(source: str, flagged: list[int]) -> None:
    assert unexplained(source) == flagged


def _imports(path: Path) -> Iterator[str]:
    """The package modules ``path`` imports, at its top, inside functions or for type checking."""
    name = _name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports. A module's own parent packages are left out: Python imports them
    first, whatever the module says, so they form no circle of the module's own making."""
    modules = {_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imports(path):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in modules and candidate != name and not name.startswith(candidate + "."):
                    edges.add(candidate)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_the_package_late_imports_included() -> None:
    graph = import_graph()
    assert "conformance.schemas" in graph["conformance.profiles.loading"]  # the walk sees the imports it should
    assert not circles(graph), f"modules that import one another in a circle: {circles(graph)}"


def test_the_circle_finder_finds_a_circle_through_a_late_import() -> None:
    graph = import_graph()
    graph["conformance.schemas"] = graph["conformance.schemas"] | {"conformance.profiles"}  # as it was
    assert ["conformance.profiles", "conformance.profiles.loading", "conformance.schemas"] in circles(graph)


@pytest.mark.parametrize("module", ["conformance.schemas", "conformance.openapi", "conformance.profiles.loading"])
def test_the_modules_of_the_former_circle_import_fresh(module: str) -> None:
    """Each in a new interpreter, first of the package: an import order that a circle needs fails here."""
    code = f"import {module}; import conformance.openapi as o; assert o.openapi_document('agora-node-tokenserver')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
