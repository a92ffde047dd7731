"""A load run that judged nothing removes the previous run's verdict files from its report folder (as check does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main


def test_a_run_that_judged_nothing_leaves_no_previous_verdict_but_keeps_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreachable target or a usage error: the last run's green load.json must not stay for CI to read."""
    green = json.dumps({"slo": {"passed": True}})
    for name, argv in {
        "unreachable": ["load", "http://127.0.0.1:9", "--run-time", "30s"],
        "usage": ["load", "--users", "0"],
    }.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "load.json").write_text(green)
        (folder / "load.html").write_text("<p>passed</p>")
        assert main([*argv, "--report-dir", str(folder)]) == 2, name
        assert not (folder / "load.json").exists() and not (folder / "load.html").exists(), name
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "load.json").write_text(green)
    assert main(["load", "--users", "0", "--report-dir", str(kept), "--baseline", str(kept / "load.json")]) == 2
    assert (kept / "load.json").read_text() == green  # the baseline given is never removed
    capsys.readouterr()
