"""load.json, plots and load.html from a run's summary (no Locust needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.load import plots
from conformance.load.markdown import load_markdown
from conformance.load.report import (
    LOAD_HTML,
    LOAD_JSON,
    build_load_json,
    capacity_line,
    lead_stats,
    mark_interrupted,
    write_load_reports,
)
from conformance.load.terminal import text_summary

T0 = 1_800_000_000
PNG = b"\x89PNG\r\n\x1a\n"


def entry(requests: int, failures: int, p95: int, per_second: dict[int, int]) -> dict[str, Any]:
    return {
        "requests": requests, "failures": failures, "p50_ms": p95 // 2, "p95_ms": p95, "p99_ms": p95 + 5,
        "avg_ms": p95 / 2, "max_ms": p95 + 9, "rps": requests / 10,
        "per_second": {str(T0 + k): v for k, v in per_second.items()}, "failures_per_second": {},
    }  # fmt: skip


def summary(breaches: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    route = "/rtc/{channel}/{role}/{tokentype}/{uid}/"
    return {
        "version": 1, "host": "http://127.0.0.1:1", "mode": "local", "started_at": T0, "stopped_at": T0 + 10.0, "ended_at": T0 + 11.2,
        "max_users": 20, "options": {"renew_margin_s": 5.0, "signature_checked": True},
        "thresholds": {"max_p95_ms": 500.0, "max_failure_ratio": 0.01, "max_dropped": 0, "max_invalid": 0},
        "rows": {
            "FETCH": {route: entry(20, 0, 40, {0: 20})},
            "RENEW": {route: entry(60, 1, 30, {5: 20, 6: 1, 10: 39})},
            "INVALID": {"expiry": entry(2, 2, 0, {})},
            "DROPPED": {},
        },
        "observed": {"requests": 80, "failures": 1, "p95_ms": {"fetch": 40, "renew": 30}, "dropped": 1, "invalid": 2},
        "tally": {
            "counts": {"fetch": 20, "renew": 60, "cycles": 57, "sessions_started": 20, "sessions_completed": 10},
            "invalid_reasons": {"expiry": 2}, "dropped_reasons": {"late": 1}, "examples": {"expiry": ["asked 10 s"]},
            "leads": [4.9] * 56 + [-0.2], "leads_total": 57,
        },
        "workers": {}, "extra": {},
        "slo": {"passed": not breaches, "breaches": breaches or []}, "exit_code": 1 if breaches else 0,
    }  # fmt: skip


def test_load_json_has_the_documented_keys_and_numbers() -> None:
    doc = build_load_json(summary(), scenario="fetch_and_renew", target="http://x", embedded=False, plan={"users": 20})
    for key in (
        "scenario",
        "target",
        "requests",
        "failures",
        "fetch",
        "renew",
        "cycles",
        "dropped",
        "invalid_tokens",
        "slo",
    ):
        assert key in doc
    assert set(doc["fetch"]) >= {"p50_ms", "p95_ms", "p99_ms", "rps"}
    assert (doc["requests"], doc["failures"], doc["cycles"], doc["dropped"], doc["invalid_tokens"]) == (80, 1, 57, 1, 2)
    # Rates over the run's measured time (test_start to test_stop), not Locust's first-to-last request span.
    assert doc["renew"]["p95_ms"] == 30 and doc["fetch"]["rps"] == 2.0 and doc["renew"]["rps"] == 6.0
    assert doc["peak_rps"] == 39  # the busiest second, FETCH and RENEW together
    assert doc["renewal_lead_s"]["late"] == 1 and doc["renewal_lead_s"]["count"] == 57
    assert doc["slo"]["passed"] is True and doc["duration_s"] == 10.0


def test_load_json_says_when_and_by_which_tool_like_conformance_json() -> None:
    from datetime import datetime, timezone

    from conformance import __version__

    when = datetime(2026, 11, 30, 1, 2, 3, tzinfo=timezone.utc)
    doc = build_load_json(summary(), scenario="fetch_and_renew", target="http://x", embedded=False, plan={}, now=when)
    assert doc["generated_at"] == "2026-11-30T01:02:03Z"
    assert doc["tool"] == {"name": "token-conformance", "version": __version__}
    assert doc["started_at"] == datetime.fromtimestamp(T0, timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
    # Without a clock given, now (UTC), in the same format as conformance.json.
    fresh = build_load_json(summary(), scenario="fetch_and_renew", target="http://x", embedded=False, plan={})
    stamp = datetime.strptime(fresh["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 60


def test_lead_stats() -> None:
    assert lead_stats([], 0)["min"] is None
    stats = lead_stats([3.0, 1.0, 2.0, -1.0], 4)
    assert (stats["min"], stats["p50"], stats["max"], stats["late"]) == (-1.0, 1.0, 3.0, 1)


def test_reports_are_written_with_plots_embedded(tmp_path: Path) -> None:
    history = tmp_path / "locust_stats_history.csv"
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%,Total Request Count\n"
        + "".join(f"{T0 + t},20,RENEW,/rtc,{t}.0,0.0,{10 + t},{20 + t},{30 + t},{t}\n" for t in range(1, 9))
        + f"{T0 + 9},20,,Aggregated,1.0,0.0,0,0,0,9\n"
    )
    breach = {"slo": "dropped", "limit": 0, "actual": 1, "message": "1 dropped <sessions>"}
    s = summary([breach])
    doc = build_load_json(s, scenario="fetch_and_renew", target="http://x", embedded=True, plan={})
    files = write_load_reports(tmp_path, doc, s)
    for name in ("latency", "rate", "renewal_leads"):
        assert files[name].read_bytes().startswith(PNG), name
    written = json.loads((tmp_path / LOAD_JSON).read_text())
    assert written["slo"]["breaches"] == [breach] and written["files"]["latency"] == "latency.png"
    page = (tmp_path / LOAD_HTML).read_text()
    assert page.count("data:image/png;base64,") == 3  # self-contained
    assert "1 dropped &lt;sessions&gt;" in page  # escaped
    assert not re.search(r'<img[^>]+src="(?!data:)', page)


def test_an_interrupted_run_is_never_reported_green(tmp_path: Path) -> None:
    s = summary()  # every SLO held until the signal
    doc = build_load_json(s, scenario="fetch_and_renew", target="http://x", embedded=False, plan={"run_time_s": 60})
    mark_interrupted(doc, "SIGTERM", 4.25)
    assert (doc["interrupted"], doc["verdict"], doc["exit_code"]) == ("SIGTERM", "interrupted", 2)
    assert doc["slo"]["passed"] is False and doc["slo"]["judged"] is False and doc["requests"] == 80
    assert doc["reason"] == ("interrupted by SIGTERM after 4.2 s of the 60 s run: the figures are what was measured "
                             "until then; the SLOs were not judged")
    write_load_reports(tmp_path, doc, s)
    assert json.loads((tmp_path / LOAD_JSON).read_text())["verdict"] == "interrupted"
    page = (tmp_path / LOAD_HTML).read_text()
    assert "interrupted by SIGTERM: SLOs not judged" in page and "SLOs held" not in page
    markdown = load_markdown(doc)
    assert markdown.startswith("## ⚠️ Token server load: interrupted by SIGTERM (exit 2)") and "SLOs held" not in markdown
    # Killed before it reported: load.json and load.html all the same, without plots.
    empty = build_load_json({}, scenario="ramp", target="http://x", embedded=False, plan={})
    mark_interrupted(empty, "SIGINT", 1.0, lost="Locust ended without reporting")
    (tmp_path / "none").mkdir()
    files = write_load_reports(tmp_path / "none", empty, None)
    assert set(files) == {"load_json", "load_html"} and "reporting: no figure was kept" in empty["reason"]


def test_an_interrupted_capacity_run_says_so_and_does_not_ask_for_more_run_time(tmp_path: Path) -> None:
    """The child records "run time" when Locust stops, whatever stopped it: a signal did, so ended_by says
    "interrupted" and no line asks for a longer --run-time (a newcomer's Ctrl-C at 10 s of a 25 s run)."""
    s = summary()
    s["extra"] = {"capacity": {"steps": [{"step": 1, "target_rps": 100, "held": True}], "knee": None,
                               "limited_by": None, "highest_held_rps": 100, "ended_by": "run time"}}
    doc = build_load_json(s, scenario="capacity", target="http://x", embedded=False, plan={"run_time_s": 25})
    assert "give --run-time more room" in capacity_line(doc["capacity"])  # a run that did reach its run time
    mark_interrupted(doc, "SIGINT", 10.0)
    assert doc["capacity"]["ended_by"] == "interrupted"
    line = capacity_line(doc["capacity"])
    assert line == "no knee found before the run was interrupted: the server held up to 100 requests/s"
    files = write_load_reports(tmp_path, doc, s)
    assert json.loads((tmp_path / LOAD_JSON).read_text())["capacity"]["ended_by"] == "interrupted"
    text = text_summary(doc, files)
    assert line in text and "--run-time" not in text and "INTERRUPTED by SIGINT" in text
    assert "run time" not in (tmp_path / LOAD_HTML).read_text()
    # A plan that ended by itself before the signal keeps its own reason.
    s["extra"]["capacity"]["ended_by"] = "every step held up to 100 requests/s"
    done = build_load_json(s, scenario="capacity", target="http://x", embedded=False, plan={})
    mark_interrupted(done, "SIGINT", 10.0)
    assert done["capacity"]["ended_by"] == "every step held up to 100 requests/s"
    # Interrupted before any step held: not "held up to 0 requests/s".
    s["extra"]["capacity"].update(ended_by="run time", highest_held_rps=None)
    early = build_load_json(s, scenario="capacity", target="http://x", embedded=False, plan={})
    mark_interrupted(early, "SIGINT", 2.0)
    assert capacity_line(early["capacity"]) == "no knee found before the run was interrupted: no step had held yet"


def test_the_summary_lists_only_the_locust_reports_that_exist(tmp_path: Path) -> None:
    """A second Ctrl-C kills Locust before it writes locust.html: the summary must not point at it."""
    doc = build_load_json({}, scenario="fetch_and_renew", target="http://x", embedded=False, plan={})
    mark_interrupted(doc, "SIGINT", 8.3, lost="Locust ended without reporting")
    files = write_load_reports(tmp_path, doc, None)
    assert text_summary(doc, files).endswith(f"report: {tmp_path / LOAD_HTML}  (load.json)")
    (tmp_path / "locust_stats.csv").write_text("")
    assert text_summary(doc, files).endswith("(load.json, Locust: locust_*.csv)")
    (tmp_path / "locust.html").write_text("")
    assert text_summary(doc, files).endswith("(load.json, Locust: locust.html, locust_*.csv)")


def test_history_parsing_skips_the_aggregated_row_and_empty_percentiles(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%\n"
        f"{T0},5,FETCH,/rtc,1.5,0,0,0,0\n{T0 + 1},5,FETCH,/rtc,2.5,0,12,N/A,30\n{T0 + 1},5,,Aggregated,2.5,0,12,20,30\n"
    )
    history = plots.read_history(path, origin=T0 - 1)
    assert history.t == {"FETCH": [1.0, 2.0]}
    assert history.series["FETCH"]["95%"] == [None, None] and history.series["FETCH"]["50%"] == [None, 12.0]
    assert history.series["FETCH"]["Requests/s"] == [1.5, 2.5]
    assert plots.read_history(tmp_path / "missing.csv").empty()


def test_plots_without_data_still_produce_images(tmp_path: Path) -> None:
    empty = plots.History()
    assert plots.latency_plot(empty, tmp_path / "a.png").read_bytes().startswith(PNG)
    assert plots.rate_plot(empty, {}, tmp_path / "b.png").read_bytes().startswith(PNG)
    assert plots.leads_histogram([], tmp_path / "c.png").read_bytes().startswith(PNG)


def test_a_burst_of_fetches_is_not_read_as_a_high_rate() -> None:
    """5 fetches sent in the first 14 ms of a 3 s run: 1.7/s, not Locust's 5 / 0.014 s = 351/s."""
    s = summary()
    s["rows"]["FETCH"]["/r"] = {**entry(5, 0, 4, {0: 5}), "rps": 351.0}
    del s["rows"]["FETCH"]["/rtc/{channel}/{role}/{tokentype}/{uid}/"]
    s["stopped_at"] = T0 + 3.0
    doc = build_load_json(s, scenario="fetch_and_renew", target="http://x", embedded=False, plan={})
    assert doc["fetch"]["rps"] == round(5 / 3.0, 3)


def test_plots_read_at_a_glance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """latency.png: log axis, the data and the objective both in view; rate.png: the users line in the legend."""
    figures: list[Any] = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or path)
    history = plots.History(
        t={"FETCH": [1.0, 2.0, 3.0]},
        series={"FETCH": {"50%": [5.0, 6.0, 7.0], "95%": [9.0, 11.0, 15.0], "99%": [12.0, 14.0, 20.0],
                          "Requests/s": [3.0, 3.0, 3.0]}},
        users=[(0.0, 5), (2.0, 10)],
    )
    plots.latency_plot(history, tmp_path / "l.png", 500.0)
    ax = figures[0].axes[0]
    low, high = ax.get_ylim()
    assert ax.get_yscale() == "log" and low <= 5.0 and high >= 500.0
    assert any("objective 500 ms" in t.get_text() for t in ax.get_legend().get_texts())
    plots.rate_plot(history, {"FETCH": {str(T0 + 1): 3}}, tmp_path / "r.png", T0)
    labels = [t.get_text() for t in figures[1].axes[0].get_legend().get_texts()]
    assert "users (right axis)" in labels


def _capacity_summary() -> dict[str, Any]:
    s = summary()
    s["max_users"] = 1

    def step(n: int, rate: float, held: bool, p95: float, bound: bool = False) -> dict[str, Any]:
        return {
            "step": n, "plan": "search", "target_rps": rate, "started_s": 5.0 * (n - 1), "seconds": 5.0,
            "requests": int(rate * 5), "sent": int(rate * 5), "offered_rps": rate, "achieved_rps": rate * 0.99,
            "p50_ms": p95 / 3, "p95_ms": {"fetch": p95, "renew": p95}, "failures": 0, "failure_ratio": 0.0,
            "invalid": 0, "outstanding_at_end": 0,
            "connections": {"per_process": 10, "processes": 1, "used": 10},
            "generator": {"bound": bound, "lag_p50_ms": 0.4, "lag_p95_ms": 3.0, "cpu": 0.3, "late_p50_ms": 0.5,
                          "reasons": ["late"] if bound else [], "cleared": None},
            "partial": False, "held": held,
            "breaches": [] if held else [{"slo": "fetch_p95_ms", "limit": 500, "actual": p95,
                                          "message": f"fetch p95 latency {p95:g} ms exceeds 500 ms"}],
        }  # fmt: skip

    steps = [step(1, 50, True, 4), step(2, 100, True, 6), step(3, 200, False, 1900), step(4, 150, True, 40),
             step(5, 175, False, 900), step(6, 162, True, 80), step(7, 169, False, 700)]
    s["extra"] = {"capacity": {
        "plan": "search: from 50 requests/s ...", "plan_kind": "search", "steps": steps,
        "knee": {"rps": 162, "achieved_rps": 160.4, "broke_at_rps": 169, "broken": ["fetch_p95_ms"], "resolution": 0.043},
        "limited_by": "server", "highest_held_rps": 162, "generator_bound_at_rps": None,
        "ended_by": "knee found: 162 requests/s held, 169 broke",
    }}  # fmt: skip
    s["generator"] = {"bound": False, "reasons": [], "processes": [
        {"role": "local", "id": "local", "pid": 4242, "host": "gen-box", "samples": 9,
         "lag_ms": {"p50": 0.4, "p95": 3.0, "max": 9.0}, "cpu": {"mean": 0.3, "max": 0.5}}]}  # fmt: skip
    return s


def test_capacity_reports_fit_the_scenario(tmp_path: Path) -> None:
    """capacity: the per-step table and latency against the offered rate with the knee; no users axis, no user
    count and no renewal histogram, which mean nothing for an open model; generator rows name their host."""
    s = _capacity_summary()
    doc = build_load_json(s, scenario="capacity", target="http://x", embedded=False, plan={})
    (tmp_path / "renewal_leads.png").write_bytes(PNG)  # an earlier fetch_and_renew run's plot in the same folder
    files = write_load_reports(tmp_path, doc, s)
    assert set(files) >= {"capacity", "latency", "rate"} and "renewal_leads" not in files
    assert not (tmp_path / "renewal_leads.png").exists()  # never mistaken for this run's
    page = (tmp_path / LOAD_HTML).read_text()
    assert "<h2>Steps</h2>" in page and page.count("<tr><td>") == 7
    for column in ("target /s", "achieved /s", "p50", "p95", "failures", "connections", "generator"):
        assert f"<th>{column}</th>" in page, column
    assert "broke (server): fetch p95 latency 1900 ms exceeds 500 ms" in page
    assert "knee: 162 requests/s held" in page
    assert "users (max)" not in page and "renewal lead" not in page
    assert "generator: local process on host gen-box (pid 4242)" in page
    assert page.count("data:image/png;base64,") == 3
    md = load_markdown(doc)
    assert "**Capacity:** knee: 162 requests/s held" in md


def test_every_plot_keeps_its_legend_outside_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A legend inside the axes hid the breach it named (latency.png): on every plot, the legend's box lies
    outside the axes' box."""
    figures: list[tuple[str, Any]] = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: fig.tight_layout() or figures.append((path.name, fig)) or path)
    history = plots.History(
        t={"FETCH": [1.0, 2.0, 3.0]},
        series={"FETCH": {"50%": [5.0, 6.0, 7.0], "95%": [9.0, 11.0, 15.0], "99%": [12.0, 14.0, 900.0],
                          "Requests/s": [3.0, 3.0, 3.0]}},
        users=[(0.0, 5), (2.0, 10)],
    )
    steps = _capacity_summary()["extra"]["capacity"]["steps"]
    plots.latency_plot(history, tmp_path / "latency.png", 500.0)
    plots.rate_plot(history, {"FETCH": {str(T0 + 1): 3}}, tmp_path / "rate.png", T0)
    plots.rate_plot(history, {"FETCH": {str(T0 + 1): 3}}, tmp_path / "rate_capacity.png", T0,
                    targets=[(0.0, 5.0, 50.0), (5.0, 10.0, 100.0)])
    plots.leads_histogram([4.9, 4.8, -0.2], tmp_path / "leads.png", 5.0)
    plots.capacity_plot(steps, tmp_path / "capacity.png", {"rps": 162, "broke_at_rps": 169}, 500.0)
    assert len(figures) == 5
    for name, fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend()
        assert legend is not None, name
        box, inside = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        overlap = box.x0 < inside.x1 and box.x1 > inside.x0 and box.y0 < inside.y1 and box.y1 > inside.y0
        assert not overlap, (name, box, inside)
    capacity_ax = figures[-1][1].axes[0]
    assert capacity_ax.get_xscale() == "log"
    labels = [t.get_text() for t in capacity_ax.get_legend().get_texts()]
    assert "knee 162/s (held)" in labels and "broke at 169/s" in labels
    rate_capacity = figures[2][1]
    assert len(rate_capacity.axes) == 1  # no users axis for capacity
