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


def _private_names_taken_from_tests(path: Path, root: Path = ROOT) -> list[str]:
    """`from tests.x import _name`, `from .x import _name`, and `module._name` on a module imported from tests/."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("tests")):
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("tests"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
            continue
        base = ast.unparse(node.value)  # ``servers`` or, after ``import tests.faulty.servers``, the dotted path
        if base in modules or (base.startswith("tests.") and "tests" in modules):
            found.append(f"{path.relative_to(root)}:{node.lineno} uses {base}.{node.attr}")
    return found


def test_no_module_takes_private_names_from_another_test_module() -> None:
    """A helper that tests/ or tools/ share is public where it is defined; a private name stays in its module."""
    found = [hit for folder in ("tests", "tools", "benchmarks") for path in sorted((ROOT / folder).rglob("*.py"))
             for hit in _private_names_taken_from_tests(path)]
    assert not found, found


def test_the_private_name_check_finds_each_form(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import tests.faulty.servers\nfrom tests.faulty import servers\n"
                     "from tests.faulty.servers import _hidden, Fault\nfrom . import runner\n"
                     "a = tests.faulty.servers._secret\nb = servers._other\nc = runner._third\n"
                     "d = servers.__name__\ne = Fault.key\n", encoding="utf-8")
    assert _private_names_taken_from_tests(probe, tmp_path) == [
        "probe.py:3 imports _hidden", "probe.py:5 uses tests.faulty.servers._secret", "probe.py:6 uses servers._other",
        "probe.py:7 uses runner._third"]
