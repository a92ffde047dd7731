"""How a master's view of its workers reaches the reader: terminal, load.json and load.html (no run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.load.report import build_load_json, render_html
from conformance.load.terminal import text_summary


def summary() -> dict[str, Any]:
    workers = [
        {"id": "h1_aa", "host": "gen-1", "pid": 11, "version": "0.1.0", "signature_checked": True, "reports": 9,
         "connected_s": -2.0, "last_report_s": 20.1, "lost": False, "lost_s": None, "lost_how": None},
        {"id": "h2_bb", "host": "gen-2", "pid": 12, "version": "0.0.9", "signature_checked": True, "reports": 3,
         "connected_s": -1.5, "last_report_s": 6.0, "lost": True, "lost_s": 9.2, "lost_how": "missing"},
    ]  # fmt: skip
    return {
        "mode": "master",
        "observed": {"requests": 30, "failures": 0},
        "rows": {},
        "workers": {"h1_aa": {"fetch": 12, "renew": 10}, "h2_bb": {"fetch": 5, "renew": 3}},
        "distributed": {"expected": 2, "connected": 2, "lost": ["h2_bb"], "workers": workers,
                        "versions": ["0.0.9", "0.1.0"], "master_version": "0.1.0"},
        "slo": {"passed": False, "breaches": [{"slo": "workers", "limit": 0, "actual": 1,
                                                "message": "1 of 2 workers lost during the run: h2_bb (gen-2, ...)"}]},
        "options": {"signature_checked": True},
    }  # fmt: skip


def test_each_worker_is_listed_with_its_counts_and_the_lost_one_is_named(tmp_path: Path) -> None:
    doc = build_load_json(summary(), scenario="fetch_and_renew", target="http://t", embedded=False, plan={})
    assert doc["distributed"]["lost"] == ["h2_bb"]
    text = text_summary(doc, {"load_html": tmp_path / "load.html", "load_json": tmp_path / "load.json"})
    assert "workers: 2 connected of 2 expected, 1 LOST" in text
    assert "h1_aa (gen-1): 12 fetch, 10 renew, 0 invalid" in text
    assert "h2_bb (gen-2): 5 fetch, 3 renew, 0 invalid; LOST 9.2 s into the run (missing)" in text
    assert "WARNING: workers run token-conformance 0.0.9, the master 0.1.0" in text
    page = render_html(doc, {})
    assert "worker h2_bb (gen-2)" in page and "LOST 9.2 s into the run" in page
    assert "1 of 2 workers lost during the run" in page


def test_a_local_run_has_no_workers_section(tmp_path: Path) -> None:
    local = {k: v for k, v in summary().items() if k not in ("distributed", "workers")}
    doc = build_load_json({**local, "mode": "local"}, scenario="fetch_and_renew", target="http://t", embedded=False,
                          plan={})  # fmt: skip
    assert "distributed" not in doc
    text = text_summary(doc, {"load_html": tmp_path / "load.html", "load_json": tmp_path / "load.json"})
    assert "workers:" not in text
