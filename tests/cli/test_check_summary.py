"""The CI summary is always written when $GITHUB_STEP_SUMMARY (or --summary-md) is set.

A red job with a blank summary page tells nobody why: a refused baseline, a run that could not judge, an
interrupted run and a usage error once the target is known each leave their reason and exit code there. Each
case runs ``python -m conformance check`` in a fresh process, as a CI step does; targets are loopback only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main
from tests.cli.test_check_interrupted import wait_for_a_case


def _env(step: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_", "GITHUB_"))}
    env["GITHUB_STEP_SUMMARY"] = str(step)
    return env


def _check(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    step = tmp / "step_summary.md"
    proc = subprocess.run([sys.executable, "-m", "conformance", "check", *args], cwd=tmp, env=_env(step),
                          capture_output=True, text=True, timeout=180, check=False)
    return proc, step.read_text(encoding="utf-8") if step.is_file() else ""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_a_refused_baseline_writes_the_summary(tmp_path: Path) -> None:
    baseline = {"target": "http://staging.example.com", "profile": {"name": "agora-token-service"},
                "summary": {"verdict": "conforming"}, "cases": [{"id": "ROUTE-1", "outcome": "passed"}]}
    (tmp_path / "base.json").write_text(json.dumps(baseline), encoding="utf-8")
    url = f"http://127.0.0.1:{_closed_port()}"
    proc, step = _check(tmp_path, url, "--baseline", "base.json", "--summary-md", "s.md")
    assert proc.returncode == 2 and "is for another run" in proc.stderr, proc.stderr
    assert step.startswith("## ⚠️ Token server conformance: could not judge (exit 2)"), step
    assert f"Target: `{url}`" in step and "is for another run: it judged 'http://staging.example.com'" in step
    assert (tmp_path / "s.md").read_text(encoding="utf-8") + "\n" == step  # --summary-md holds the same


def test_a_run_that_could_not_judge_writes_the_summary(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    proc, step = _check(tmp_path, url, "--report-dir", "r")
    assert proc.returncode == 2
    assert step.startswith("## ⚠️ Token server conformance: could not judge (exit 2)"), step
    assert "the target does not answer" in step


def test_a_usage_error_after_the_target_is_known_writes_the_summary(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    proc, step = _check(tmp_path, url, "--case", "NO-SUCH-CASE")
    assert proc.returncode == 2 and "selects no case" in proc.stderr
    assert step.startswith("## ⚠️ Token server conformance: could not judge (exit 2)"), step
    assert "usage error: --case 'NO-SUCH-CASE' selects no case" in step and url in step
    # --summary-md where no folder can be made (under a file) is itself the usage error: the step summary is
    # still written.
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    proc, step = _check(tmp_path, url, "--summary-md", "a-file/s.md")
    assert proc.returncode == 2 and "warning: cannot write the Markdown summary" in proc.stderr
    assert step.count("## ⚠️") == 2 and "--summary-md: cannot create the folder of 'a-file/s.md'" in step


def test_the_summary_folder_is_created_like_the_report_folder(tmp_path: Path) -> None:
    """``--summary-md reports/summary.md`` in a fresh workspace (the GitLab recipe): the folder is made."""
    proc, step = _check(tmp_path, f"http://127.0.0.1:{_closed_port()}", "--summary-md", "new/deeper/summary.md")
    assert proc.returncode == 2 and "--summary-md" not in proc.stderr and "the target does not answer" in step
    assert (tmp_path / "new" / "deeper" / "summary.md").read_text(encoding="utf-8") + "\n" == step
    # Before the target is known (not a URL) there is nothing to name: no summary, the one-line error only.
    (tmp_path / "step_summary.md").unlink()
    proc, step = _check(tmp_path, "ftp://example")
    assert proc.returncode == 2 and "must start with http" in proc.stderr and step == ""


def test_an_interrupted_run_writes_the_summary(tmp_path: Path) -> None:
    step_file = tmp_path / "step_summary.md"
    env = {**_env(step_file), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "check", "-v", "--report-dir", "D"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_a_case(proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 2
    step = step_file.read_text(encoding="utf-8")
    assert step.startswith("## ⚠️ Token server conformance: interrupted (exit 2)"), step
    assert "interrupted by SIGTERM after" in step


@pytest.mark.parametrize("argv", [
    ["check", "http://127.0.0.1:9/", "--gate", "MUST"],
    ["check", "http://127.0.0.1:9/", "--strcit"],
])
def test_a_command_line_that_does_not_parse_still_writes_the_step_summary(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The action passes 'gate' and 'args' through to check: a typo there must not leave the CI page blank.
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    text = step.read_text(encoding="utf-8")
    assert "could not judge (exit 2)" in text and "usage error" in text
    assert "http://127.0.0.1:9/" in text and argv[-1] in text
