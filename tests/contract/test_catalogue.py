"""The contract catalogue: one entry per requirement, well-formed, rendered to docs/contract.md, and
checked by exactly one case of the bundled suite."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import pytest

import conformance.suite
from conformance.contract import REQUIREMENTS, SECTIONS, Level, Requirement, by_id, catalogue, render_markdown
from conformance.profiles import ROUTE_FEATURES

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_ids_unique_and_numbered_per_section() -> None:
    ids = [r.id for r in REQUIREMENTS]
    assert len(ids) == len(set(ids))
    numbers: dict[str, list[int]] = defaultdict(list)
    for r in REQUIREMENTS:
        m = re.fullmatch(r"([A-Z]+)-([1-9][0-9]*)", r.id)
        assert m, f"{r.id} does not follow SECTION-N"
        assert m.group(1) == r.section, f"{r.id} is filed under {r.section}"
        numbers[r.section].append(int(m.group(2)))
    assert set(numbers) == set(SECTIONS), "every section has requirements, every requirement a known section"
    for section, nums in numbers.items():
        assert nums == list(range(1, len(nums) + 1)), f"{section} numbered {nums}: gaps or disorder"


@pytest.mark.parametrize("req", REQUIREMENTS, ids=lambda r: r.id)
def test_requirement_complete(req: Requirement) -> None:
    assert isinstance(req.level, Level)
    assert req.title and req.title == req.title.strip()
    for text in (req.sentence, req.rationale):
        assert text == text.strip() and len(text) > 20, text
    assert req.sentence.endswith("."), req.sentence
    assert req.rationale.endswith((".", ")")), req.rationale
    # credentials: run only with --header; web_origin: only with --web-origin (or the profile's web_origins)
    assert set(req.needs) <= {*ROUTE_FEATURES, "health", "credentials", "web_origin"}


def test_every_level_used() -> None:
    assert {r.level for r in REQUIREMENTS} == set(Level)


def test_levels_gate() -> None:
    assert Level.MUST.gates(strict=False) and Level.MUST.gates(strict=True)
    assert not Level.SHOULD.gates(strict=False) and Level.SHOULD.gates(strict=True)
    assert not Level.MAY.gates(strict=False) and not Level.MAY.gates(strict=True)


def test_by_id() -> None:
    assert by_id("ROUTE-1") is REQUIREMENTS[0]
    with pytest.raises(KeyError, match="no requirement 'ROUTE-99' in the contract"):
        by_id("ROUTE-99")


def test_contract_doc_is_generated() -> None:
    """docs/contract.md is exactly what `token-conformance contract` prints (regenerate it, never edit it)."""
    assert DOC.read_text(encoding="utf-8") == render_markdown() + "\n", (
        "docs/contract.md is stale: python -m conformance contract > docs/contract.md"
    )


def test_markdown_lists_every_requirement_in_a_four_column_row() -> None:
    rows = [line for line in render_markdown().splitlines() if line.startswith("| `")]
    assert len(rows) == len(REQUIREMENTS)
    for row, req in zip(rows, REQUIREMENTS, strict=True):
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 4, row
        assert cells[0].strip() == f"`{req.id}`" and cells[1].strip() == req.level.value
    for key, (name, intro) in SECTIONS.items():
        assert f"## {key}: {name}" in render_markdown()
        assert intro in render_markdown()


def test_markdown_escapes_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = Requirement("ROUTE-1", "ROUTE", Level.MUST, "t", "roles publisher|subscriber.", "a | b.")
    monkeypatch.setattr(catalogue, "REQUIREMENTS", (odd,))
    (row,) = [line for line in render_markdown().splitlines() if line.startswith("| `")]
    assert len(re.split(r"(?<!\\)\|", row)) == 6
    assert "publisher\\|subscriber" in row


def _suite_cases() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for info in pkgutil.iter_modules(conformance.suite.__path__):
        module = importlib.import_module(f"conformance.suite.{info.name}")
        for name, obj in vars(module).items():
            req = getattr(obj, "__requirement__", None)
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and req is not None:
                found[req.id].append(f"{info.name}.{name}")
    return found


def test_every_requirement_has_exactly_one_case() -> None:
    found = _suite_cases()
    missing = [r.id for r in REQUIREMENTS if r.id not in found]
    doubled = {k: v for k, v in found.items() if len(v) > 1}
    assert not missing, f"requirements without a case: {missing}"
    assert not doubled, f"requirements with several cases: {doubled}"
    assert set(found) == {r.id for r in REQUIREMENTS}


def test_cases_live_in_their_section_module() -> None:
    modules = {"ROUTE": "test_routes", "TOKEN": "test_token", "INPUT": "test_input", "EXPIRY": "test_expiry",
               "HEADER": "test_headers", "SEC": "test_security", "PROP": "test_property",
               "LATENCY": "test_latency"}
    assert set(modules) == set(SECTIONS)
    for rid, where in _suite_cases().items():
        assert where[0].split(".")[0] == modules[by_id(rid).section], f"{rid} lives in {where[0]}"


def test_no_import_cycle_between_model_and_catalogue() -> None:
    # model.py holds plain records: it imports nothing of the package (it used to import catalogue back).
    import ast

    import conformance.contract.model as model_module

    tree = ast.parse(Path(model_module.__file__).read_text(encoding="utf-8"))
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.level or
                (n.module or "").startswith("conformance"))]
    assert relative == [], [ast.unparse(n) for n in relative]
