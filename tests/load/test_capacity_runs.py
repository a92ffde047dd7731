"""capacity end to end, against loopback servers whose limit is known: the search finds the knee and stops by
itself, every step that ran is kept and nothing is sent after the end, and a server that gives out under many
connections breaks where it does. Each run is a real Locust subprocess, bounded to well under 30 s.

A busy CI machine can starve the generator: then the run must say so (generator-bound, exit 2, no knee claimed),
and the tests accept that story instead of a knee, as tests/load/outcomes.py does for latency verdicts.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main

from . import faulty

FAST = ["--expiry", "3", "--renew-margin", "1.5", "--stop-timeout", "1s", "--progress-interval", "1",
        "--scenario", "capacity"]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], report_dir: Path, url: str, *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(["load", url, "--report-dir", str(report_dir), *FAST, *argv])
    out = capsys.readouterr()
    doc = json.loads((report_dir / "load.json").read_text())
    return code, doc, out.out + out.err


def generator_story(code: int, doc: dict[str, Any], text: str) -> bool:
    """The run was spoiled by the generator and says so everywhere: no knee, the line, the breach, exit 2."""
    cap = doc["capacity"]
    if cap["limited_by"] != "generator":
        return False
    assert doc["knee"] is None and doc["generator"]["bound"] is True, cap
    assert "no knee: generator-bound at" in text and "were not measured" in text, text[-3000:]
    assert code == 2 and {b["slo"] for b in doc["slo"]["breaches"]} == {"generator"}, (code, doc["slo"])
    return True


@pytest.mark.slow
def test_the_default_search_finds_the_knee_and_ends_by_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One token at a time, 1/24 s each: 24 tokens/s at best. The search doubles from 8/s (8, 16, 32), lets the
    server drain after the break, then bisects between 16 and 32 until the two are within 10 % — and stops, long
    before its 60 s bound."""
    with faulty.serving(lambda app: faulty.limited(app, 24)) as (url, _settings):
        code, doc, text = run(capsys, tmp_path, url, "--start-rate", "8", "--step-time", "3", "--run-time", "60s",
                              "--max-p95-ms", "400")
    cap = doc["capacity"]
    steps = cap["steps"]
    assert cap["plan_kind"] == "search" and [s["target_rps"] for s in steps[:2]] == [8, 16], steps
    if generator_story(code, doc, text):
        return
    assert cap["limited_by"] == "server" and cap["ended_by"].startswith("knee found"), cap["ended_by"]
    knee = doc["knee"]
    assert knee is not None and knee["rps"] is not None, cap
    # Within 10 % of each other, around the server's 24/s (a busy machine slows the server a little).
    assert knee["broke_at_rps"] <= knee["rps"] * 1.1 + 1 and 12 <= knee["rps"] <= 26, knee
    assert any(s.get("drain_s") is not None for s in steps), steps  # the backlog was let go before bisecting
    assert not any(s["partial"] for s in steps) and doc["duration_s"] < 55, (doc["duration_s"], steps)
    assert code == 0 and f"knee: {knee['rps']:g} requests/s held" in text
    html = (tmp_path / "load.html").read_text()
    assert "<h2>Steps</h2>" in html and "target /s" in html and "users (max)" not in html
    assert (tmp_path / "capacity.png").stat().st_size > 0 and not (tmp_path / "renewal_leads.png").exists()


@pytest.mark.slow
def test_every_step_that_ran_is_kept_and_nothing_is_sent_after_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A linear plan of 10 steps of 3 s in a 10 s run: warned about before it starts; the three full steps and
    the one the run's end cut short are all in load.json, and the server sees no request once the run is over
    (arrivals used to go on at the next rate through the stop timeout)."""
    app_with_times: list[list[float]] = []

    def wrap(app: faulty.ASGIApp) -> faulty.ASGIApp:
        wrapped, times = faulty.arrivals(app)
        app_with_times.append(times)
        return wrapped

    with faulty.serving(wrap) as (url, _settings):
        code, doc, text = run(capsys, tmp_path, url, "--start-rate", "10", "--step-rate", "10", "--max-rate", "100",
                              "--step-time", "3", "--run-time", "10s", "--max-p95-ms", "2000", "--stop-timeout", "5s")
        # Long enough for anything still being sent to arrive (the server is stopped after this).
        times = list(app_with_times[0])
    assert "warning: the linear plan needs 30 s for its 10 steps" in text and "after 3 steps" in text
    cap = doc["capacity"]
    steps = cap["steps"]
    assert cap["plan_kind"] == "linear" and len(steps) >= 3, steps
    assert [s["target_rps"] for s in steps] == [10 * (i + 1) for i in range(len(steps))]
    # The steps cover the run: back to back from its start to its run time (then the stop timeout, no step).
    covered = sum(s["seconds"] for s in steps)
    assert covered >= doc["plan"]["run_time_s"] - 1.5, (covered, steps)
    assert all(abs(a["started_s"] + a["seconds"] - b["started_s"]) < 0.5 for a, b in itertools.pairwise(steps)), steps
    if len(steps) == 4:
        assert steps[-1]["partial"] and not any(s["partial"] for s in steps[:3]), steps
    assert cap["ended_by"] == "run time"
    # Nothing sent after the run's end: no request reaches the server after the last step ended (started_at is
    # whole seconds, and a request sent just before the end may reach the server a little later: 1.5 s of slack).
    assert doc["started_at"] and times
    start = datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00")).timestamp()
    end = start + 1.0 + steps[-1]["started_s"] + steps[-1]["seconds"]
    late = [round(t - end, 2) for t in times if t > end + 1.5]
    assert late == [], late[:5]
    assert code in (0, 2), text[-2000:]
    if code == 0:
        assert "no knee found before the run ended" in text and "a lower bound" in text


@pytest.mark.slow
def test_a_server_that_fails_under_many_connections_breaks_where_it_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reference server behind a front that resets every connection beyond 3 open ones: one client on one
    keep-alive connection would find it healthy at any of these rates. Arrivals are spread over rate x latency x 2
    connections (at least rate / 10): 2 at 10 and 20/s, 3 at 30/s, 4 at 40/s, where the resets begin. The run
    names them ("connection reset") and puts the knee below the rate that needed a fourth connection."""
    with faulty.serving() as (upstream, _settings), faulty.ConnectionLimiter(upstream, limit=3) as front:
        code, doc, text = run(capsys, tmp_path, front.url, "--start-rate", "10", "--step-rate", "10",
                              "--max-rate", "60", "--step-time", "3", "--run-time", "25s", "--max-p95-ms", "2000")
        reset = front.reset
    cap = doc["capacity"]
    steps = cap["steps"]
    assert steps[0]["held"] and steps[0]["connections"]["per_process"] == 2, steps[0]
    if generator_story(code, doc, text):
        return
    assert cap["limited_by"] == "server" and reset > 0, (cap, reset)
    broke = steps[-1]
    assert not broke["held"] and "failure_ratio" in [b["slo"] for b in broke["breaches"]], broke
    # Where it broke: at the step that needed a 4th connection (40/s), or at 30/s if a slow answer made the
    # generator open a 4th one early (a busy machine); never where 2 connections were enough.
    assert broke["target_rps"] in (30, 40), steps
    assert broke["connections"]["used"] >= 4 or broke["connections"]["per_process"] >= 4, broke
    assert doc["knee"] == cap["knee"] and doc["knee"]["rps"] == broke["target_rps"] - 10
    assert set(doc["failure_reasons"]) <= {"no response (connection reset)", "no response (connection closed)"}, \
        doc["failure_reasons"]
    assert "no response (connection reset)" in doc["failure_reasons"] and "RetriesExceeded" not in text
    assert code == 0 and f"knee: {doc['knee']['rps']:g} requests/s held" in text
    html = (tmp_path / "load.html").read_text()
    assert "connection reset" in html and "connections" in html
