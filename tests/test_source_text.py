"""The source says what things are, not where they were asked for.

A comment or docstring that cites our own tracker ("see issue 18", "Issue 21:") points at nothing a reader of the
repository has: the reason must be written out ("servers that take fewer inputs"). Citations of public repositories'
trackers (``AgoraIO/Tools#117``, ``agora-token-service#22``) are references a reader can follow and stay.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("conformance", "loadtests", "schemas", "tests", "benchmarks", "tools")
#: "issue 18", "Issue 21:", "issues 11 and 18", "issue #9", "issue-19", 'issue "performance"' - but not the verb
#: ("the server issues 007 tokens": a token version has a leading zero).
TRACKER = re.compile(r"""\b[Ii]ssues?[ -]#?[1-9][0-9]*\b|\b[Ii]ssue "[^"]+"|\(item [0-9]+\)|, item [0-9]+\)""")


def _sources() -> list[Path]:
    found = [ROOT / "conftest.py"]
    for folder in FOLDERS:
        found += sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return [p for p in found if p != Path(__file__).resolve()]  # this file quotes the pattern's examples


def test_no_source_cites_our_tracker() -> None:
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in _sources()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if TRACKER.search(line)]
    assert not hits, "cite what the thing is, not a tracker number:\n" + "\n".join(hits)


@pytest.mark.parametrize("line", [
    "# servers that take fewer inputs (issue 18)", '"""Issue 21: a good baseline', "# see issues 11 and 18",
    'Target (issue "performance", item 3)', "(issue 9, item 14)", "the fix of issue-19", "# issue #7",
])
def test_the_pattern_finds_tracker_citations(line: str) -> None:
    assert TRACKER.search(line)


@pytest.mark.parametrize("line", [
    "the reference server issues 007", "it issues 006 tokens", "AgoraIO/Tools#117", "agora-token-service#22",
    "'Heroku 404' issues (#46, #61)", "Room #1 (test)",
])
def test_the_pattern_leaves_other_text_alone(line: str) -> None:
    assert not TRACKER.search(line)
