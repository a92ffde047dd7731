"""load's Python API: options in, a result out (conformance.load.api), without the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from conformance.cli.load import add_parser, options_from
from conformance.load.api import LoadOptionError, LoadOptions, run_load


def test_the_cli_defaults_are_the_api_defaults() -> None:
    """``token-conformance load`` with no option asks the API for exactly ``LoadOptions()``."""
    parser = argparse.ArgumentParser()
    add_parser(parser)
    assert options_from(parser.parse_args([])) == LoadOptions()


def test_a_mistake_raises_before_anything_starts(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    with pytest.raises(LoadOptionError, match="--users must be at least 1"):
        run_load(LoadOptions(users=0, report_dir=str(report_dir)), show=lambda line: None)
    assert not report_dir.exists()


@pytest.mark.slow
def test_a_run_returns_its_verdict_reports_and_lines(tmp_path: Path) -> None:
    """Against the embedded reference server: exit 0, load.json on disk says what the result says."""
    shown: list[str] = []
    options = LoadOptions(users=4, spawn_rate=100, run_time="6s", expiry=3, renew_margin=1.5, cycles=2,
                          report_dir=str(tmp_path), progress_interval=0)
    result = run_load(options, show=shown.append)
    assert result.exit_code == 0, (result.messages, shown)
    assert result.verdict == "passed" and result.messages == []
    assert result.files["load_json"] == tmp_path / "load.json" and result.files["load_html"].is_file()
    assert json.loads(result.files["load_json"].read_text(encoding="utf-8"))["requests"] == result.document["requests"] > 0
    assert result.summary is not None and "SLOs held" in result.summary
    assert result.markdown is not None and result.steps == []
    assert any("embedded reference server" in line for line in shown)
    assert options.users == 4 and options.run_time == "6s"  # the caller's options are not resolved in place
