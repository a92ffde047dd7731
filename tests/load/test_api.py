"""load's Python API: options in, a result out (conformance.load.api), without the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from conformance.cli.load import add_parser, options_from
from conformance.load.api import LoadOptionError, LoadOptions, run_load
from conformance.load.options import prepare


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
    written = json.loads(result.files["load_json"].read_text(encoding="utf-8"))
    assert written["requests"] == result.document["requests"] > 0
    # Every load.json says how its run ended, as the result does (an interrupted one always did).
    assert (written["verdict"], written["exit_code"]) == (result.verdict, result.exit_code) == ("passed", 0)
    assert result.summary is not None and "SLOs held" in result.summary
    assert result.markdown is not None and result.steps == []
    assert any("embedded reference server" in line for line in shown)
    assert options.users == 4 and options.run_time == "6s"  # the caller's options are not resolved in place


def test_whole_seconds_may_be_given_as_an_int(tmp_path: Path) -> None:
    """A Python caller writes ``run_time=30``: 30 s, as "30s" is (it raised AttributeError deep inside)."""
    as_int, _note = prepare(LoadOptions(run_time=30, stop_timeout=5, report_dir=str(tmp_path)), show=lambda line: None)
    as_text, _note = prepare(LoadOptions(run_time="30s", stop_timeout="5s", report_dir=str(tmp_path)),
                             show=lambda line: None)
    assert (as_int.run_time, as_int.stop_timeout) == (as_text.run_time, as_text.stop_timeout) == (30, 5)


@pytest.mark.parametrize(("options", "message"), [
    ({"run_time": 2.5}, "--run-time: 2.5 is not a duration; use e.g. 30s, 2m, 1h30m or a whole number of seconds"),
    ({"run_time": True}, "--run-time: True is not a duration"),
    ({"run_time": 0}, "--run-time must be between 1 s and 24 h, got 0 s"),
    ({"stop_timeout": [3]}, r"--stop-timeout: \[3\] is not a duration"),
])
def test_a_duration_of_another_type_is_one_clear_error(tmp_path: Path, options: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(LoadOptionError, match=message):
        run_load(LoadOptions(report_dir=str(tmp_path / "reports"), **options), show=lambda line: None)  # type: ignore[arg-type]


def test_one_string_given_as_header_is_one_header(tmp_path: Path) -> None:
    # A string is iterable: a script's header="X-Key: v" was read as the headers 'X', '-', ... one per character.
    opts = LoadOptions(url="http://127.0.0.1:9", header="X-Key: v", report_dir=str(tmp_path))
    prepared, _note = prepare(opts, lambda line: None)
    assert dict(prepared.headers) == {"X-Key": "v"}
