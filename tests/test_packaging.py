"""What the code imports is declared in pyproject.toml: a fresh machine installs only what is declared."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10, the lowest supported: the same parser as the tomli package (the test extra)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
#: Probed inside try / except ImportError, reported when present, never required.
OPTIONAL = {"httptools"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"]) + [s for extra in project["optional-dependencies"].values() for s in extra]
    return {re.split(r"[<>=!~\[; ]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def _third_party_imports(folder: Path) -> set[str]:
    local = {p.stem for p in folder.glob("*.py")} | {"conformance", "tests", "loadtests", "schemas"}
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.add(top)
    return found


def test_benchmark_imports_are_declared() -> None:
    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module in sorted(_third_party_imports(ROOT / "benchmarks") - OPTIONAL):
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(names)
    assert not missing, f"imported by benchmarks/ but not declared in pyproject.toml: {missing}"
