"""docs/design.md's room table names every module of the package, and the data paths name files that exist.

A newcomer finds their room from that table: a module it does not name is a room they cannot find.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "conformance"
DESIGN = ROOT / "docs" / "design.md"


def section(title: str) -> str:
    text = DESIGN.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def named(module: Path, rooms: str) -> bool:
    """Named by its path, or as `stem` / `stem.py` in the row of its folder."""
    rel = module.relative_to(ROOT).as_posix()
    if rel in rooms:
        return True
    folder = module.parent.relative_to(ROOT).as_posix() + "/"
    rows = [line for line in rooms.splitlines() if f"`{folder}" in line]
    return any(f"`{module.stem}`" in row or f"{module.stem}.py" in row for row in rows)


def test_the_room_table_names_every_module_of_the_package() -> None:
    rooms = section("Rooms")
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py"]
    assert len(modules) > 50
    missing = [p.relative_to(ROOT).as_posix() for p in modules if not named(p, rooms)]
    assert not missing, f"docs/design.md, Rooms, does not name: {missing}"


def test_the_room_table_names_no_module_that_is_gone() -> None:
    rooms = section("Rooms")
    for path in re.findall(r"`(conformance/[\w/]+(?:\.py|/))`", rooms):
        if path.startswith("conformance/shipped/"):
            continue  # what a wheel carries (pyproject's package-dir), not a folder of the clone
        assert (ROOT / path).exists(), f"docs/design.md names {path}, which does not exist"


def test_the_data_paths_name_files_that_exist() -> None:
    paths = section("Data path of a conformance run")
    named_files = re.findall(r"(conformance/[\w/]+\.py|loadtests/\w+\.py)", paths)
    assert len(named_files) > 10
    for path in named_files:
        assert (ROOT / path).exists(), f"docs/design.md's data path names {path}, which does not exist"
