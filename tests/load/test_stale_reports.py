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


def test_a_usage_error_removes_every_file_of_the_previous_run_but_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """locust_summary.json says "exit_code": 0; locust.html, the CSVs and the plots show the last run's figures:
    none of them may stay beside a run that judged nothing. The --baseline file stays, whichever it is."""
    previous = ["load.json", "load.html", "locust_summary.json", "locust.html", "locust_stats.csv",
                "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv", "locust.log",
                "latency.png", "rate.png", "renewal_leads.png", "capacity.png", "baseline.png"]
    for name in previous:
        (tmp_path / name).write_text(json.dumps({"exit_code": 0}) if name.endswith(".json") else "last run")
    (tmp_path / "mine.txt").write_text("not a report")
    assert main(["load", "--users", "0", "--report-dir", str(tmp_path)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]

    for name in previous:
        (tmp_path / name).write_text("last run")
    assert main(["load", "--users", "0", "--report-dir", str(tmp_path),
                 "--baseline", str(tmp_path / "locust_stats.csv")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locust_stats.csv", "mine.txt"]
    capsys.readouterr()
