"""The run lasts its --run-time even when the generator's start-up blocked for longer (a busy machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main

from . import faulty

SLOW_START = '''
import time

from conformance.load.scenario.token_client import TokenClient

# A start-up that keeps the process busy without yielding to gevent (imports on a loaded machine do).
_until = time.perf_counter() + 4.0
while time.perf_counter() < _until:
    pass

__all__ = ["TokenClient"]
'''


@pytest.mark.slow
def test_a_slow_start_up_does_not_cut_the_run_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """gevent's timers count from a cached clock that stood still during the blocked start-up: Locust's run-time
    timer fired at once and a 3 s run measured nothing (exit 2, 'no token request completed')."""
    scenario = tmp_path / "slow_start.py"
    scenario.write_text(SLOW_START)
    with faulty.serving() as (url, _settings):
        code = main(["load", url, "--scenario", str(scenario), "--users", "2", "--run-time", "3s", "--expiry", "2",
                     "--renew-margin", "1", "--max-p95-ms", "5000", "--progress-interval", "0",
                     "--report-dir", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "locust_summary.json").read_text())
    # The users ran for the run time (give or take the spawn), not for the few ms left by a stale timer.
    assert summary["stopped_at"] - summary["started_at"] >= 2.5, err
    assert summary["observed"]["requests"] > 0 and code in (0, 2), err
