"""Ctrl-C or SIGTERM during ``token-conformance load``: exit 2, load.json says "interrupted", nothing left running.

A real run in a subprocess against the embedded reference server (loopback), interrupted once its progress
shows completed requests, as a user or a CI runner would do it. Every run is bounded: 60 s of load at most,
and the signal goes in within seconds.
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

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds left-over processes through /proc"),
]

#: 4 clients renewing every 2 s: requests in the first second, renewals soon after.
LOAD = ["--users", "4", "--run-time", "60s", "--progress-interval", "1", "--expiry", "4", "--renew-margin", "2"]


def _start(tmp_path: Path, *extra: str, load: list[str] = LOAD) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_", "LOCUST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen([sys.executable, "-m", "conformance", "load", "--report-dir", "R", *load, *extra],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_requests(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """stderr until a progress line counts a completed request (the load is then really running)."""
    assert proc.stderr is not None
    seen = ""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            match = re.search(r"requests=(\d+)", line)
            if match and int(match.group(1)) > 0:
                return seen
    proc.kill()
    raise AssertionError(f"no request completed within {timeout} s:\n{seen}")


def _locust_processes(tmp_path: Path) -> list[int]:
    """Processes whose command line names this test's folder: Locust's master and workers (their --csv path)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(tmp_path) in cmdline and "locust" in cmdline:
            pids.append(int(entry.name))
    return pids


def _gone(tmp_path: Path, within: float = 5) -> list[int]:
    """Locust processes still there after ``within`` s (a killed process may take a moment to be reaped)."""
    deadline = time.monotonic() + within
    while (left := _locust_processes(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _port_closed(url: str) -> bool:
    host, port = re.fullmatch(r"http://([\d.]+):(\d+)", url).groups()  # type: ignore[union-attr]
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


def _interrupt(tmp_path: Path, sig: signal.Signals, *extra: str, again: bool = False,
               load: list[str] = LOAD) -> tuple[int, str, str]:
    """Start a load run, signal it once it measures (twice with ``again``); exit code, stdout, stderr."""
    proc = _start(tmp_path, *extra, load=load)
    try:
        before = _wait_for_requests(proc)
        expected = 1 + int(extra[extra.index("--processes") + 1]) if "--processes" in extra else 1
        assert len(_locust_processes(tmp_path)) == expected, before  # what must be gone afterwards
        proc.send_signal(sig)
        if again:
            time.sleep(0.3)  # while Locust is stopping
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in _locust_processes(tmp_path):  # never leave a load generator behind a failed test
            os.kill(pid, signal.SIGKILL)
    return proc.returncode, out, before + err


def _check_interrupted(tmp_path: Path, sig: signal.Signals, code: int, out: str, err: str) -> dict:
    output = out + err
    assert code == 2, output
    assert "Traceback" not in output
    assert "SLOs held" not in output
    verdict = [line.strip() for line in out.splitlines() if "INTERRUPTED" in line]
    assert len(verdict) == 1 and verdict[0].startswith(f"INTERRUPTED by {sig.name}: "), output
    assert re.search(rf"token-conformance load: interrupted by {sig.name} after [\d.]+ s of the 60 s run", err), err
    doc = json.loads((tmp_path / "R" / "load.json").read_text(encoding="utf-8"))
    assert (doc["interrupted"], doc["verdict"], doc["exit_code"]) == (sig.name, "interrupted", 2)
    assert doc["slo"]["passed"] is False and doc["slo"]["judged"] is False
    assert doc["reason"].startswith(f"interrupted by {sig.name} after ")
    assert doc["plan"]["interrupted"] == sig.name
    # The embedded server and every Locust process went with the run.
    url = re.search(r"against (http://[\d.]+:\d+) \(embedded reference server\)", err).group(1)  # type: ignore[union-attr]
    assert _port_closed(url)
    assert _gone(tmp_path) == []
    return doc


@pytest.mark.parametrize(("sig", "extra"), [(signal.SIGINT, ()), (signal.SIGTERM, ("--processes", "2"))],
                         ids=["SIGINT", "SIGTERM-processes-2"])
def test_interrupted_load_reports_what_it_measured_and_stops_everything(
    tmp_path: Path, sig: signal.Signals, extra: tuple[str, ...]
) -> None:
    code, out, err = _interrupt(tmp_path, sig, *extra)
    doc = _check_interrupted(tmp_path, sig, code, out, err)
    # What was measured until the signal is kept: Locust stopped the way its own Ctrl-C does.
    assert doc["requests"] > 0 and doc["fetch"]["requests"] > 0
    assert "the figures are what was measured until then" in doc["reason"]
    assert doc["duration_s"] is not None and doc["duration_s"] < 60
    html = (tmp_path / "R" / "load.html").read_text(encoding="utf-8")
    assert f"interrupted by {sig.name}" in html and "SLOs held" not in html
    assert (tmp_path / "R" / "latency.png").is_file()


def test_a_second_ctrl_c_while_stopping_kills_at_once_and_still_says_interrupted(tmp_path: Path) -> None:
    code, out, err = _interrupt(tmp_path, signal.SIGINT, "--processes", "2", again=True)
    doc = _check_interrupted(tmp_path, signal.SIGINT, code, out, err)
    assert "again: killing Locust now" in err
    assert doc["slo"]["thresholds"]["max_p95_ms"] > 0  # the limits it ran under, even without a summary
    # Killed before Locust wrote its own reports: the summary points only at the files there are.
    report = next(line for line in out.splitlines() if line.strip().startswith("report: "))
    assert ("locust.html" in report) == (tmp_path / "R" / "locust.html").is_file(), report


def test_an_interrupted_capacity_run_says_interrupted_not_run_time(tmp_path: Path) -> None:
    """Ctrl-C during capacity: ended_by says the run was interrupted, and nothing asks for more --run-time."""
    capacity = ["--scenario", "capacity", "--run-time", "60s", "--progress-interval", "1", "--stop-timeout", "1s"]
    code, out, err = _interrupt(tmp_path, signal.SIGINT, load=capacity)
    doc = _check_interrupted(tmp_path, signal.SIGINT, code, out, err)
    assert doc["capacity"]["ended_by"] == "interrupted", doc["capacity"]
    assert "no knee found before the run was interrupted: " in out or "no step was judged" in out, out
    assert "--run-time" not in out and "(run time)" not in out + err, out + err  # stderr warned at the start


def test_interrupted_before_the_load_starts_still_says_so(tmp_path: Path) -> None:
    # A target that accepts the connection and never answers: the run sits in its one-GET probe.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        (tmp_path / "R").mkdir()
        (tmp_path / "R" / "load.json").write_text('{"stale": true}', encoding="utf-8")  # an earlier run's
        proc = _start(tmp_path, url, "--request-timeout", "30", "--summary-md", "summary.md")
        try:
            silent.settimeout(30)
            conn, _ = silent.accept()  # the probe is under way
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            conn.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 2, out + err
    assert "Traceback" not in out + err
    doc = json.loads((tmp_path / "R" / "load.json").read_text(encoding="utf-8"))
    assert (doc["interrupted"], doc["verdict"], doc["requests"], doc["slo"]["passed"]) == ("SIGTERM", "interrupted", 0, False)
    assert "before the load started: no figure was kept" in doc["reason"]
    assert err.strip().endswith(f"(exit 2; report: {Path('R') / 'load.json'})") and doc["reason"] in err
    assert "interrupted by SIGTERM (exit 2)" in (tmp_path / "summary.md").read_text(encoding="utf-8")
