"""tools/: the scripts that write docs/detection.md and docs/false-alarms.md run as the docs say, from the clone's
root, importing the catalogues (tests/faulty, tests/variants) as the tests do - with no edit of the import path."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: "python -m tools.X" or "python tools/X.py" as the docs and README spell a command that regenerates a page.
TOOL_COMMAND = re.compile(r"\bpython (?:-m tools\.\w+|tools/\w+\.py)")
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _documented_commands() -> list[str]:
    return sorted({m.group(0) for page in DOC_PAGES for m in TOOL_COMMAND.finditer(page.read_text(encoding="utf-8"))})


def test_the_docs_name_both_tools() -> None:
    assert {"python -m tools.detection_score", "python -m tools.false_alarm_score"} <= set(_documented_commands())


@pytest.mark.parametrize("command", _documented_commands())
def test_each_documented_command_starts(command: str) -> None:
    """``--help`` loads every module the tool imports: a catalogue it cannot import fails here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    argv = [sys.executable, *command.split()[1:], "--help"]
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m tools." in proc.stdout


@pytest.mark.parametrize("path", sorted((ROOT / "tools").glob("*.py")), ids=lambda p: p.name)
def test_no_tool_edits_the_import_path(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    edits = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "path"
             and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert not edits, f"{path.name} touches sys.path at lines {edits}: run it with python -m from the clone's root"
