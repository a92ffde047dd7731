"""``token-conformance watch``: the safe subset, and a run against a server that dies and comes back.

The watch runs as users run it (``python -m conformance watch``, a child process); its metrics are scraped over
HTTP and its stdout read as JSON lines. The server lives in this process on a fixed port, stopped and restarted
there as a deploy would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.cli import main
from conformance.contract import REQUIREMENTS
from conformance.reference.app import create_app, demo_settings
from conformance.reference.threaded import ThreadedServer
from conformance.watch import SAFE_CASES, UNSAFE, WatchError, select_cases


def test_safe_subset_is_reviewed_and_excludes_hostile_requests() -> None:
    ids = {r.id for r in REQUIREMENTS}
    assert set(SAFE_CASES) <= ids
    assert set(UNSAFE) == ids - set(SAFE_CASES)  # every other case has its reason
    for hostile in ("INPUT-9", "INPUT-11", "SEC-2", "SEC-5", "PROP-1"):
        assert hostile in UNSAFE
    assert select_cases("token-1,EXPIRY") == ("TOKEN-1", "EXPIRY-1", "EXPIRY-2", "EXPIRY-3", "EXPIRY-4", "EXPIRY-5",
                                              "EXPIRY-6", "EXPIRY-7")
    assert select_cases("SEC") == ("SEC-4",)  # a section keeps its safe cases only
    with pytest.raises(WatchError, match="INPUT-9 is not watch-safe: sends malformed or oversized"):
        select_cases("ROUTE-1,INPUT-9")
    with pytest.raises(WatchError, match="matches only cases watch does not run"):
        select_cases("INPUT")
    with pytest.raises(WatchError, match="'NOPE-1' selects no case of the contract"):
        select_cases("NOPE-1")
    with pytest.raises(WatchError, match=r"--case 'Nope' selects no case of the contract \(see watch --list\)"):
        select_cases("ROUTE-1,Nope")  # a typo next to a good id is not dropped


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch"]) == 2
    assert "needs the URL" in capsys.readouterr().err
    assert main(["watch", "http://127.0.0.1:1", "--case", "PROP-1"]) == 2
    assert "PROP-1 is not watch-safe" in capsys.readouterr().err
    assert main(["watch", "http://127.0.0.1:1", "--case", "ROUTE-1,NOPE"]) == 2
    assert "error: --case 'NOPE' selects no case of the contract (see watch --list)" in capsys.readouterr().err
    assert main(["watch", "http://127.0.0.1:1", "--interval", "soon"]) == 2
    assert "--interval" in capsys.readouterr().err
    assert main(["watch", "http://127.0.0.1:1", "--profile", "auto"]) == 2  # detected once, at start
    assert "--profile auto: cannot detect the profile of http://127.0.0.1:1" in capsys.readouterr().err
    assert main(["watch", "http://127.0.0.1:1", "--app-id", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["watch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "ROUTE-1" in out and "INPUT-9    sends malformed or oversized" in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """The token_conformance_ samples, keyed 'name{labels}' as the text format writes them."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {}
    for line in text.splitlines():
        if line.startswith("token_conformance_"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def wait_for(port: int, condition: Callable[[dict[str, float]], bool], what: str, timeout: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    last: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            last = scrape(port)
        except httpx.HTTPError:
            last = {}
        if last and condition(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last scrape: {last}")


PASSED = 'token_conformance_case_outcome{case="ROUTE-1",level="MUST",outcome="passed"}'


@pytest.mark.slow
def test_watch_a_server_that_dies_and_comes_back(tmp_path: Path) -> None:
    settings = demo_settings()
    port, metrics = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env["TOKEN_SERVER_APP_CERTIFICATE"] = settings.certificate
    server = ThreadedServer(create_app(settings), port=port).start()
    child = subprocess.Popen(
        [sys.executable, "-m", "conformance", "watch", server.url, "--interval", "1s", "--metrics-port", str(metrics),
         "--case", "ROUTE-1,TOKEN-1,TOKEN-8", "--app-id", settings.app_id, "--report-dir", "watch"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        up = wait_for(metrics, lambda m: m.get(PASSED) == 1, "a complete conforming run")
        assert up["token_conformance_target_up"] == 1 and up["token_conformance_conforming"] == 1
        assert up["token_conformance_consecutive_failures"] == 0
        assert up["token_conformance_last_complete_run_timestamp_seconds"] > time.time() - 60
        assert up["token_conformance_token_lifetime_seconds"] == 3600  # the reference server's default
        assert up["token_conformance_token_request_duration_seconds_count"] >= 1
        assert up['token_conformance_runs_total{result="conforming"}'] >= 1

        server.stop()  # the target goes down: a metric and a log line, not a crash
        down = wait_for(metrics, lambda m: m["token_conformance_target_up"] == 0
                        and m["token_conformance_consecutive_failures"] >= 2, "two failed runs")
        # The run in progress when the server stopped may end as "could not judge"; the next ones see it down.
        assert down['token_conformance_runs_total{result="down"}'] >= 1
        assert down[PASSED] == 1  # the last complete run's outcomes stay published
        last_complete = down["token_conformance_last_complete_run_timestamp_seconds"]

        server = ThreadedServer(create_app(settings), port=port).start()  # and comes back
        back = wait_for(metrics, lambda m: m["token_conformance_target_up"] == 1
                        and m["token_conformance_consecutive_failures"] == 0, "the target back")
        assert back["token_conformance_last_complete_run_timestamp_seconds"] > last_complete
    finally:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        server.stop()
    assert child.returncode == 0, err
    assert "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]  # every stdout line is one JSON object
    assert records[0]["event"] == "start" and records[-1]["event"] == "stop"
    runs = [r for r in records if r["event"] == "run"]
    assert records[-1]["runs"] == len(runs)
    down_runs = [r for r in runs if not r["target_up"]]
    assert down_runs and down_runs[0]["verdict"] == "could not judge"
    assert "the target does not answer" in down_runs[0]["reason"]
    assert runs[0]["verdict"] == "conforming" and runs[-1]["target_up"]
    assert settings.certificate not in out + err
    with pytest.raises(httpx.HTTPError):  # the metrics server stopped with the watch
        scrape(metrics)


def test_metrics_port_taken_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["watch", "http://127.0.0.1:1", "--metrics-port", str(port), "--runs", "1"]) == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_middle_of_a_run_stops_the_watch(tmp_path: Path, sig: signal.Signals) -> None:
    """check() takes SIGINT / SIGTERM as the end of its own run; watch must take it as the end of the loop, too."""
    settings = demo_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    with ThreadedServer(create_app(settings)) as server:
        # EXPIRY-6 waits seconds for its renewal: a run long enough to be interrupted in its middle.
        child = subprocess.Popen(
            [sys.executable, "-m", "conformance", "watch", server.url, "--interval", "1s", "--case", "EXPIRY-6"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            lines = [child.stdout.readline(), child.stdout.readline()]  # start, then the first run
            assert json.loads(lines[1])["event"] == "run", lines
            time.sleep(1.0)  # the second run has begun (a run takes longer than the interval)
            child.send_signal(sig)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:  # a watch that ignored the signal must not outlive the test
                child.kill()
                child.communicate()
    assert child.returncode == 0, err
    assert "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["event"] for r in records] == ["stop"] and records[0]["runs"] == 1  # the interrupted run is not logged


def test_runs_exit_code_reflects_the_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """``watch --runs N`` is a bounded job: runs that could not judge must not exit 0 (newcomer finding 11)."""
    assert main(["watch", "http://127.0.0.1:1", "--runs", "2", "--interval", "1s"]) == 2
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["verdict"] for r in records if r["event"] == "run"] == ["could not judge"] * 2
    assert records[-1] == {**records[-1], "event": "stop", "runs": 2, "exit_code": 2}
    from conformance.watch import runs_exit_code

    assert runs_exit_code([0, 0], 2) == 0
    assert runs_exit_code([0, 2, 1], 3) == 1  # a judged defect outranks an unjudged run, as in check
    assert runs_exit_code([0, 2], 2) == 2
    assert runs_exit_code([0], 2) == 2  # stopped by a signal before the runs asked for


def held(app: Any, release: threading.Event) -> Any:
    """``app`` whose answers wait until ``release`` is set: the watch's first run cannot end before the test says."""
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.to_thread(release.wait, 120)
        await app(scope, receive, send)
    return wrapped


def alert_selectors() -> list[tuple[str, str, dict[str, str]]]:
    """(alert, metric, label matchers) of every selector in docs/watch.md's alert rules."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "watch.md").read_text(encoding="utf-8")
    block = re.search(r"## Example alert rules.*?```yaml\n(.*?)```", doc, flags=re.S)
    assert block, "docs/watch.md has no alert rules"
    found = []
    for rule in yaml.safe_load(block.group(1))["groups"][0]["rules"]:
        for name, matchers in re.findall(r"(token_conformance_\w+)(?:\{([^}]*)\})?", rule["expr"]):
            labels = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', matchers))
            found.append((rule["alert"], name, labels))
    return found


def series(samples: dict[str, float], name: str, labels: dict[str, str]) -> list[float]:
    """The values of the samples of ``name`` whose labels include ``labels``."""
    out = []
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        have = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and all(have.get(k) == v for k, v in labels.items()):
            out.append(value)
    return out


@pytest.mark.slow
def test_metrics_are_ready_from_the_first_scrape(tmp_path: Path) -> None:
    """What alert rules need from the first scrape: every runs_total result exists at 0 before any run ends, label values have no spaces, no _created
    series; each selector of docs/watch.md's alert rules has a series to evaluate before and after the first run,
    and the first failure counts as 0 -> 1 for increase()."""
    from tests.faulty.servers import BY_KEY

    settings = demo_settings()
    release = threading.Event()
    metrics = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env.update(TOKEN_SERVER_APP_CERTIFICATE=settings.certificate, PYTHONUNBUFFERED="1")
    # Publisher tokens without publish privileges: TOKEN-6 (MUST, watch-safe) fails.
    with ThreadedServer(held(BY_KEY["mute-publisher"].make(settings), release)) as server:
        child = subprocess.Popen(
            [sys.executable, "-m", "conformance", "watch", server.url, "--interval", "600s", "--metrics-port",
             str(metrics), "--case", "TOKEN-1,TOKEN-6", "--app-id", settings.app_id, "--report-dir", "watch"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            assert json.loads(child.stdout.readline())["event"] == "start"  # the metrics server is up
            text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
            before = scrape(metrics)
            release.set()
            after = wait_for(metrics, lambda m: m.get('token_conformance_runs_total{result="not_conforming"}') == 1,
                             "the first run, not conforming")
        finally:
            release.set()
            child.send_signal(signal.SIGTERM)
            child.communicate(timeout=60)
    assert "_created" not in text
    assert {k: v for k, v in before.items() if k.startswith("token_conformance_runs_total")} == {
        f'token_conformance_runs_total{{result="{r}"}}': 0.0
        for r in ("conforming", "not_conforming", "could_not_judge", "down")}
    labels = re.findall(r'="([^"]*)"', "\n".join(before) + "\n".join(after))
    assert labels and not [v for v in labels if " " in v and not v.startswith(("http", "embedded"))]
    failed_must = 'token_conformance_case_outcome{case="TOKEN-6",level="MUST",outcome="failed"}'
    assert before[failed_must] == 0 and after[failed_must] == 1
    assert before['token_conformance_case_outcome{case="TOKEN-1",level="MUST",outcome="not_run"}'] == 0
    assert after['token_conformance_case_outcome{case="TOKEN-1",level="MUST",outcome="passed"}'] == 1
    assert before["token_conformance_watch_started_timestamp_seconds"] > time.time() - 300
    assert before["token_conformance_last_complete_run_timestamp_seconds"] == 0
    # Every selector of every alert rule evaluates (has series) from the first scrape, and after the first run.
    selectors = alert_selectors()
    assert {a for a, _, _ in selectors} >= {"TokenServerMustCaseFailing", "TokenServerNotConforming",
                                           "TokenServerDown", "TokenConformanceWatchStale"}
    for alert, name, matchers in selectors:
        assert series(before, name, matchers), (alert, name, matchers, "no series before the first run")
        assert series(after, name, matchers), (alert, name, matchers, "no series after the first run")
    # The rules as Prometheus would read these two scrapes: nothing fires at the start; after the failing run
    # the MUST-case rule and the not-conforming rule do; the stale rule's reference is the start, not 0.
    assert max(series(before, "token_conformance_case_outcome", {"level": "MUST", "outcome": "failed"})) == 0
    assert max(series(after, "token_conformance_case_outcome", {"level": "MUST", "outcome": "failed"})) == 1
    increase = after['token_conformance_runs_total{result="not_conforming"}'] - \
        before['token_conformance_runs_total{result="not_conforming"}']
    assert increase == 1
    stale_reference = before["token_conformance_last_complete_run_timestamp_seconds"] or \
        before["token_conformance_watch_started_timestamp_seconds"]
    assert time.time() - stale_reference < 900
