"""docs/ci.md: both recipes are valid YAML and call check / load only with options those commands accept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from conformance.cli import build_parser

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def options_of(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[attr-defined]
    return {opt for action in sub._actions for opt in action.option_strings}


def test_recipes_parse_and_use_real_options() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 3  # GitHub workflow, its load step, GitLab job
    used: dict[str, set[str]] = {"check": set(), "load": set()}
    for block in blocks:
        doc = yaml.safe_load(block)
        assert doc, block
        for text in strings(doc):
            for command, rest in re.findall(r"token-conformance (check|load)\b(.*)", text, flags=re.S):
                used[command] |= set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest))
    assert {"--baseline", "--report-dir", "--app-id", "--summary-md"} <= used["check"]
    assert "--baseline" in used["load"]
    for command, opts in used.items():
        assert opts <= options_of(command), (command, opts - options_of(command))
