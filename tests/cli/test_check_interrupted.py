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


def wait_for_a_case(proc: subprocess.Popen[str], timeout: float = 60) -> str:
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
    before = wait_for_a_case(proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    output = before + out + err
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    # No pytest internals: its banner names our handler's source line and an option check does not have.
    assert "interruption.py" not in output and "--full-trace" not in output and "KeyboardInterrupt" not in output
    verdict = [line for line in output.splitlines() if line.startswith("verdict:")]
    assert len(verdict) == 1, output
    assert verdict[0].startswith(f"verdict: INTERRUPTED (exit 2) - interrupted by {sig.name} after "), verdict
    assert "CONFORMING" not in verdict[0]
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    summary = doc["summary"]
    assert (summary["verdict"], summary["exit_code"], summary["interrupted"]) == ("interrupted", 2, sig.name)
    assert summary["counts"]["not run"] > 0  # interrupted early: the rest is said to be not run, not passed
    assert "interrupted" in (tmp_path / "D" / "conformance.html").read_text(encoding="utf-8")
    # junit.xml is red too: the verdict is an error, and the cases that never ran are listed as skipped.
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "D" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    error = suite.find("testcase[@name='verdict']/error")
    assert error is not None and error.get("message", "").startswith(f"INTERRUPTED (exit 2): interrupted by {sig.name}")
    not_run = [c["id"] for c in doc["cases"] if c["outcome"] == "not run"]
    assert [tc.get("name") for tc in suite.findall("testcase") if tc.find("skipped[@type='not run']") is not None] == not_run
    assert len(suite.findall("testcase")) == len(doc["cases"]) + 1
    # The embedded server went with the process: its port no longer answers.
    url = re.search(r"embedded reference server (http://[\d.]+:\d+)", doc["target"]).group(1)  # type: ignore[union-attr]
    assert _port_closed(url)


def test_interrupted_parallel_check_counts_what_did_not_run(tmp_path: Path) -> None:
    # Under -n 2 the controller learns the case list from the workers: the report still names every case.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "check", "-n", "2", "-v", "--report-dir", "D"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = wait_for_a_case(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, before + out + err
    summary = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))["summary"]
    assert summary["verdict"] == "interrupted"
    from conformance.contract import REQUIREMENTS

    assert sorted(summary["selected"]) == sorted(r.id for r in REQUIREMENTS)
    assert summary["scope"] == "full"


# --- a signal after the verdict: the complete report and its exit code stand ---------------------------------

_SLOW_EXIT = '''
import atexit, sys, time

def _exiting():
    print("EXITING", flush=True)
    time.sleep(4)

def pytest_unconfigure(config):
    # After the verdict line: say so, then linger where a late Ctrl-C or SIGTERM lands; once more at exit.
    print("LINGERING", flush=True)
    time.sleep(4)
    atexit.register(_exiting)
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_verdict_changes_neither_report_nor_exit_code(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "slow_exit.py").write_text(_SLOW_EXIT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(tmp_path), PYTEST_ADDOPTS="-p slow_exit")
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "check", "--case", "ROUTE-1", "--report-dir", "D"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "LINGERING" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert "verdict: CONFORMING (exit 0)" in seen and "LINGERING" in seen, seen
    proc.send_signal(sig)
    # And again while the interpreter shuts down (atexit): the process exits with the verdict's code, not 130/143.
    while "EXITING" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert "EXITING" in seen, seen
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    output = seen + out + err
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert (doc["summary"]["verdict"], doc["summary"]["exit_code"]) == ("conforming", 0), output
    assert [(c["id"], c["outcome"]) for c in doc["cases"]] == [("ROUTE-1", "passed")]
    assert proc.returncode == 0, output
    assert "interrupted" not in output


def test_a_settled_run_ignores_signals_in_process() -> None:
    # The window after check() returned, while the CLI prints: the default SIGTERM would end the process (143).
    from conformance import interruption

    with interruption.signals_as_interrupt():
        with interruption.signals_as_interrupt():
            interruption.settle()
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
    assert interruption.received[-2:] == ["SIGTERM", "SIGINT"]
    with interruption.signals_as_interrupt(), pytest.raises(KeyboardInterrupt):  # a new run starts unsettled
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)


def test_interruption_counts_every_case_that_got_its_turn() -> None:
    from conformance.contract import REQUIREMENTS
    from conformance.report import CaseRecord, summarize

    records = [CaseRecord.for_requirement(r) for r in REQUIREMENTS[:6]]
    for r, outcome in zip(records, ["passed", "passed", "skipped", "failed", "not run", "not run"], strict=True):
        r.outcome = outcome
    summary = summarize(records, strict=False, interrupted="SIGINT")
    assert summary.reason == (f"interrupted by SIGINT after 4 of 6 case(s); not run: {records[4].id}, {records[5].id}")
