"""Ctrl-C or SIGTERM during ``token-conformance check``: exit 2, reports that say "interrupted", server stopped.

A real run in a subprocess, interrupted once it has started running cases (its progress output shows
it), as a user or a CI runner would do it.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _start(tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    # -v prints one line per case as it runs: the signal goes in once the first case has finished.
    return subprocess.Popen([sys.executable, "-m", "conformance", "check", "-v", "--report-dir", "D"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_a_case(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    seen = ""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            if re.search(r"::[A-Z]+-\d+ PASSED|PASSED \S*::[A-Z]+-\d+", line):
                return seen
    proc.kill()
    raise AssertionError(f"no case ran within {timeout} s:\n{seen}")


def _port_closed(url: str) -> bool:
    host, port = re.fullmatch(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_check_is_never_green(tmp_path: Path, sig: signal.Signals) -> None:
    proc = _start(tmp_path)
    before = _wait_for_a_case(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    output = before + out + err
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    verdict = [line for line in output.splitlines() if line.startswith("verdict:")]
    assert len(verdict) == 1, output
    assert verdict[0].startswith(f"verdict: INTERRUPTED (exit 2) - interrupted by {sig.name} after "), verdict
    assert "CONFORMING" not in verdict[0]
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    summary = doc["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["interrupted"]) == ("interrupted", 2, sig.name)
    assert summary["counts"]["not run"] > 0  # interrupted early: the rest is said to be not run, not passed
    assert "interrupted" in (tmp_path / "D" / "conformance.html").read_text(encoding="utf-8")
    # The embedded server went with the process: its port no longer answers.
    url = re.search(r"embedded reference server (http://[\d.]+:\d+)", doc["target"]).group(1)  # type: ignore[union-attr]
    assert _port_closed(url)


def test_interrupted_parallel_check_counts_what_did_not_run(tmp_path: Path) -> None:
    # Under -n 2 the controller learns the case list from the workers: the report still names every case.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "check", "-n", "2", "-v", "--report-dir", "D"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = _wait_for_a_case(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, before + out + err
    summary = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))["summary"]
    assert summary["verdict"] == "interrupted"
    from conformance.contract import REQUIREMENTS

    assert sorted(summary["selected"]) == sorted(r.id for r in REQUIREMENTS)
    assert summary["scope"] == "full"
