"""End-to-end load runs: the reference server passes, each faulty server fails for its own reason.

Each run is a real Locust subprocess against a server on 127.0.0.1, a few
seconds long (short expiry so that renewals happen within the run).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.load.protocol import CERTIFICATE_ENV
from conformance.reference.app import demo_settings
from conformance.reference.threaded import ThreadedServer

from . import faulty
from .outcomes import breached, found, held

PNG = b"\x89PNG\r\n\x1a\n"
#: Short cycles: a token lives 3 s and is renewed 1.5 s before it expires.
FAST = ["--expiry", "3", "--renew-margin", "1.5", "--cycles", "2", "--spawn-rate", "100", "--stop-timeout", "1s",
        "--progress-interval", "1"]  # fmt: skip


def run_load(
    capsys: pytest.CaptureFixture[str], report_dir: Path, *argv: str, url: str | None = None
) -> tuple[int, dict[str, Any] | None, str, str]:
    code = main(["load", *([url] if url else []), "--report-dir", str(report_dir), *FAST, *argv])
    out = capsys.readouterr()
    path = report_dir / "load.json"
    doc = json.loads(path.read_text()) if path.exists() else None
    return code, doc, out.out, out.err


def locust_rows(report_dir: Path) -> dict[str, int]:
    with open(report_dir / "locust_stats.csv", newline="") as handle:
        return {row["Type"]: int(row["Request Count"]) for row in csv.DictReader(handle) if row["Type"]}


def test_reference_server_holds_the_slos(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Run from a folder whose conformance/ would shadow the installed package (a clone's root): Locust puts
    # its working directory first on sys.path, so the child must not run here.
    shadow = tmp_path_factory.mktemp("clone")
    (shadow / "conformance").mkdir(parents=True)
    (shadow / "conformance" / "__init__.py").write_text("raise ImportError('the shadowing source folder')\n")
    monkeypatch.chdir(shadow)
    with faulty.serving() as (url, settings):
        monkeypatch.setenv(CERTIFICATE_ENV, settings.certificate)
        code, doc, out, err = run_load(
            capsys,
            tmp_path,
            "--users",
            "8",
            "--run-time",
            "5s",
            "--app-id",
            settings.app_id,
            "--max-p95-ms",
            "2000",
            url=url,
        )
    assert held(code, doc), err
    assert doc is not None
    if code == 0:
        assert doc["slo"] == {"passed": True, "breaches": [], "thresholds": doc["slo"]["thresholds"]}
        assert "SLOs held" in out and "generator: not the bottleneck" in out
    else:
        assert "GENERATOR-BOUND" in out and "--processes" in err
    proc = doc["generator"]["processes"][0]
    assert proc["role"] == "local" and proc["samples"] > 10 and proc["lag_ms"]["p95"] is not None
    assert 0 < proc["cpu"]["mean"] < 1.5
    assert doc["options"]["signature_checked"] is True and doc["options"]["app_id"] == settings.app_id
    assert doc["fetch"]["requests"] >= 8 and doc["renew"]["requests"] >= 8 and doc["cycles"] >= 8
    assert doc["dropped"] == 0 and doc["invalid_tokens"] == 0 and doc["failures"] == 0
    assert doc["requests"] == doc["fetch"]["requests"] + doc["renew"]["requests"]
    assert all(isinstance(doc["fetch"][k], (int, float)) for k in ("p50_ms", "p95_ms", "p99_ms", "rps"))
    assert 0 < doc["renewal_lead_s"]["min"] <= doc["renewal_lead_s"]["max"] <= 2.5
    # load.json agrees with Locust's own CSV report.
    rows = locust_rows(tmp_path)
    assert (rows["FETCH"], rows["RENEW"]) == (doc["fetch"]["requests"], doc["renew"]["requests"])
    for name in ("latency.png", "rate.png", "renewal_leads.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG)
    for name in ("load.html", "locust.html", "locust_stats_history.csv", "locust_failures.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert "[load]" in err
    first = next(line for line in err.splitlines() if line.startswith("[load]"))
    assert float(first.split("rps=")[1].split()[0]) > 0, first  # not Locust's empty first window
    assert "signatures are NOT checked" not in err and "NOT checked" not in out
    # The certificate reached the generator (signatures were verified) but no output, file or argv.
    assert settings.certificate not in out + err
    for path in tmp_path.iterdir():
        assert settings.certificate.lower() not in path.read_bytes().decode("latin-1").lower(), path.name


@pytest.mark.slow
def test_embedded_reference_server_is_loaded_with_signatures_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _out, err = run_load(capsys, tmp_path, "--users", "5", "--run-time", "4s", "--max-p95-ms", "2000")
    assert held(code, doc), err
    assert doc is not None and doc["embedded_reference_server"] is True
    assert doc["options"]["signature_checked"] is True and doc["options"]["app_id"]
    assert doc["cycles"] > 0 and doc["invalid_tokens"] == 0


@pytest.mark.slow
def test_slow_server_breaches_p95(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving(lambda app: faulty.slow(app, 0.35)) as (url, _settings):
        code, doc, out, err = run_load(
            capsys, tmp_path, "--users", "6", "--run-time", "5s", "--max-p95-ms", "150", url=url
        )
    assert code == 1
    assert doc is not None and {"fetch_p95_ms", "renew_p95_ms"} <= breached(doc)
    assert doc["fetch"]["p95_ms"] >= 350 and doc["dropped"] == 0 and doc["invalid_tokens"] == 0
    assert "SLO breached: fetch_p95_ms" in err
    assert "signatures are NOT checked" in err and "signatures NOT checked" in out  # no certificate was given


@pytest.mark.slow
def test_a_run_that_renewed_nothing_does_not_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Long enough on paper (3 s > 4 - 2), but the server answers in 1.5 s: the renewals sent at 2 s are still
    outstanding when the run ends at 3 s."""
    with faulty.serving(lambda app: faulty.slow(app, 1.5)) as (url, _settings):
        code, doc, out, err = run_load(
            capsys, tmp_path, "--users", "2", "--run-time", "3s", "--expiry", "4", "--renew-margin", "2",
            "--stop-timeout", "0s", "--max-p95-ms", "5000", url=url,
        )  # fmt: skip
    assert code == 2, err
    assert doc is not None and doc["renew"]["requests"] == 0 and doc["fetch"]["requests"] >= 1
    assert doc["slo"]["passed"] is False and "renewals" in breached(doc)
    assert "no renewal was made" in err and "SLOs held" not in out


@pytest.mark.slow
def test_a_breach_wins_over_nothing_renewed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every answer a 200 that is not a token (an HTML page, a proxy's text): no fetch brings a token, so nothing
    is renewed, and the run is still a finding (exit 1), as README and --help say; it notes renewal was not
    judged (newcomer finding 12)."""
    with faulty.serving(lambda app: faulty.flaky(app, every=1, status=200)) as (url, _settings):
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "3", "--run-time", "3s", url=url)
    assert doc is not None and doc["renew"]["requests"] == 0 and doc["fetch"]["requests"] > 0, err
    assert "failure_ratio" in breached(doc) and doc["failures"] == doc["requests"]
    assert code == 1, err
    assert "SLO breached: failure_ratio" in err and "no renewal was made, so renewal was not judged" in err
    assert "error: no renewal was made" not in err  # not the could-not-judge verdict (exit 2)
    assert err.index("renewal was not judged") < err.rindex("SLO breached")  # the breach stays the last word


@pytest.mark.slow
def test_flaky_server_breaches_the_failure_ratio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving(lambda app: faulty.flaky(app, every=4)) as (url, _settings):
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "8", "--run-time", "5s", url=url)
    assert code == 1
    assert doc is not None and "failure_ratio" in breached(doc)
    assert 0.1 < doc["failure_ratio"] < 0.5 and doc["invalid_tokens"] == 0
    assert doc["failure_reasons"] == {"HTTP 503": doc["failures"]}
    assert "SLO breached: failure_ratio" in err and '"HTTP 503"' in err


@pytest.mark.slow
def test_wrong_expiry_counts_invalid_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def issuer(settings: Any) -> faulty.WrongExpiryIssuer:
        return faulty.WrongExpiryIssuer(settings.app_id, settings.certificate, extra=60)

    with faulty.serving(issuer=issuer) as (url, _settings):
        code, doc, _out, err = run_load(
            capsys, tmp_path, "--users", "5", "--run-time", "4s", "--max-p95-ms", "5000", url=url
        )
    assert code == 1
    assert doc is not None and found(doc) == {"invalid_tokens"}
    assert doc["invalid_tokens"] >= 5 and doc["invalid_reasons"] == {"expiry": doc["invalid_tokens"]}
    assert doc["failures"] == 0  # the HTTP requests worked; the tokens are wrong
    assert "SLO breached: invalid_tokens" in err


@pytest.mark.slow
def test_server_that_stops_answering_drops_sessions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every session's fetch is answered, every renewal hangs: each session is dropped. (Counting answers would not
    # do: clients start spread over a renewal period, so early clients renew before late ones fetch.)
    with faulty.serving(faulty.renewals_hang) as (url, _settings):
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "8", "--run-time", "5s", url=url)
    assert code == 1
    assert doc is not None and "dropped" in breached(doc)
    assert doc["dropped"] == 8 and doc["cycles"] == 0
    assert doc["dropped_reasons"] == {"pending": 8}
    assert "SLO breached: dropped" in err


@pytest.mark.slow
def test_redirects_are_not_followed_to_another_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bystander, seen = faulty.counting(faulty.reference_app(demo_settings()))
    with (
        ThreadedServer(bystander) as elsewhere,
        ThreadedServer(faulty.redirecting(elsewhere.url + "/rtc/x/publisher/uid/1/")) as target,
    ):
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "3", "--run-time", "3s", url=target.url)
    assert code == 1
    assert doc is not None and doc["requests"] > 0 and doc["failure_reasons"] == {"HTTP 302": doc["requests"]}
    assert seen == []  # the load stayed on the target
    assert '"HTTP 302"' in err


@pytest.mark.slow
def test_no_completed_request_means_could_not_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving(lambda app: faulty.dying(app, answered=1)) as (url, _settings):  # only the probe
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "3", "--run-time", "3s", url=url)
    assert code == 2
    assert doc is not None and doc["requests"] == 0
    assert "no token request completed" in err


@pytest.mark.slow
def test_processes_aggregate_across_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving() as (url, _settings):
        code, doc, _out, err = run_load(
            capsys,
            tmp_path,
            "--users",
            "6",
            "--run-time",
            "5s",
            "--processes",
            "2",
            "--max-p95-ms",
            "2000",
            "--expiry",
            "4",
            "--renew-margin",
            "2.5",
            url=url,
        )
    assert held(code, doc), err
    assert doc is not None and doc["mode"] == "master" and len(doc["workers"]) == 2
    assert sum(w["fetch"] for w in doc["workers"].values()) == doc["fetch"]["requests"]
    assert sum(w["renew"] for w in doc["workers"].values()) == doc["renew"]["requests"]
    assert all(w["fetch"] > 0 for w in doc["workers"].values())


@pytest.mark.slow
def test_renew_storm_lands_renewals_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving() as (url, _settings):
        code, doc, _out, err = run_load(
            capsys,
            tmp_path,
            "--scenario",
            "renew_storm",
            "--users",
            "30",
            "--run-time",
            "5s",
            "--max-p95-ms",
            "3000",
            url=url,
        )
    assert held(code, doc), err
    assert doc is not None and doc["storm"]["cohorts"] == 1
    # 30 clients joined in one instant: their fetches, then their renewals, each fall within a second or two.
    assert doc["peak_rps"] >= 15
    assert doc["renew"]["requests"] >= 30


@pytest.mark.slow
def test_ramp_reports_the_knee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One request at a time, 25 ms each: latency grows with the number of clients (closed loop).
    with faulty.serving(lambda app: faulty.serial(app, 0.025)) as (url, _settings):
        code, doc, out, err = run_load(
            capsys,
            tmp_path,
            "--scenario",
            "ramp",
            "--users",
            "30",
            "--step-users",
            "2",
            "--step-time",
            "2",
            "--run-time",
            "16s",
            "--expiry",
            "2",
            "--renew-margin",
            "2",
            "--cycles",
            "1000",
            "--max-p95-ms",
            "150",
            url=url,
        )
    assert held(code, doc), err
    assert doc is not None and doc["knee"] is not None
    steps = doc["ramp"]["steps"]
    assert doc["ramp"]["ended_by"].endswith("broke the SLOs")
    assert doc["knee"]["users"] < steps[-1]["users"] and not steps[-1]["held"]
    assert max(p for p in steps[-1]["p95_ms"].values() if p) > 150
    assert doc["knee"]["rps"] > 0 and f"ramp: {doc['knee']['users']} users held at" in out


@pytest.mark.slow
def test_capacity_finds_the_rate_where_the_server_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that serves one token at a time, 50 ms each (20 tokens/s at best), offered 8, 16, 24 ...
    requests/s: past its capacity the queue grows without bound and the p95 breaks; the knee is the last rate
    that held, and the server is named. The capacity is far below what even a starved generator sends (sharing
    two cores with two busy loops, it kept to 60 requests/s with 6 % of a core and an event-loop lag p50 near
    1 ms), so the verdict cannot be the machine's. 4 s a step: an arrival loop that starts 0.25 s late on a busy
    machine lost 2 of a 2 s step's 16 requests, which read as a rate the server missed."""
    with faulty.serving(lambda app: faulty.limited(app, 20)) as (url, _settings):
        code, doc, out, err = run_load(
            capsys, tmp_path, "--scenario", "capacity", "--start-rate", "8", "--step-rate", "8", "--max-rate", "48",
            "--step-time", "4", "--run-time", "30s", "--max-p95-ms", "250", url=url,
        )  # fmt: skip
    assert doc is not None, err
    steps = doc["capacity"]["steps"]
    assert steps[0]["target_rps"] == 8 and steps[0]["held"], steps
    assert doc["capacity"]["limited_by"] == "server" and not steps[-1]["held"], steps
    broke = steps[-1]
    assert not broke["generator"]["bound"] and {"fetch_p95_ms", "renew_p95_ms"} & set(doc["knee"]["broken"]), broke
    assert max(p for p in broke["p95_ms"].values() if p) > 250, broke
    # The server's ceiling, not the offered rate, is what came back in the step that broke.
    assert broke["achieved_rps"] <= 21, broke
    # The knee sits just below the 20 tokens/s (a busy machine slows the server a little: 16 may break too).
    assert doc["knee"] == doc["capacity"]["knee"] and doc["knee"]["rps"] in (8, 16), doc["knee"]
    assert doc["knee"]["broke_at_rps"] == doc["knee"]["rps"] + 8
    assert doc["renew"]["requests"] > 0 and doc["invalid_tokens"] == 0  # the same validated requests
    assert code == 0, err
    assert f"knee: {doc['knee']['rps']:g} requests/s held" in out
    assert doc["generator"]["processes"][0]["samples"] > 0


@pytest.mark.slow
def test_capacity_without_a_break_claims_no_knee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving() as (url, _settings):
        code, doc, out, err = run_load(
            capsys, tmp_path, "--scenario", "capacity", "--start-rate", "20", "--max-rate", "40", "--step-time", "3",
            "--run-time", "10s", "--max-p95-ms", "2000", url=url,
        )  # fmt: skip
    assert doc is not None and doc["knee"] is None, err
    steps = doc["capacity"]["steps"]
    if code == 2:  # a generator starved of CPU says so, and claims no knee either (not the server's fault)
        assert doc["capacity"]["limited_by"] == "generator" and steps[-1]["generator"]["bound"], steps
        assert "no knee: generator-bound at" in out
        return
    assert code == 0, err
    assert doc["capacity"]["limited_by"] is None
    assert [s["target_rps"] for s in steps] == [20, 40]
    assert all(s["held"] and s["requests"] >= 0.9 * s["sent"] for s in steps), steps  # what was sent came back
    # The rate was kept (the first step may lose the arrival loop's late start on a busy machine).
    assert abs(steps[-1]["achieved_rps"] - 40) <= 4, steps
    assert "no knee up to 40 requests/s" in out


@pytest.mark.slow
def test_capacity_past_the_generator_claims_no_knee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """8000 validated requests/s from one Python process: the generator gives out first and says so."""
    with faulty.serving() as (url, _settings):
        code, doc, out, err = run_load(
            capsys, tmp_path, "--scenario", "capacity", "--start-rate", "8000", "--step-rate", "1000",
            "--max-rate", "8000", "--step-time", "2", "--run-time", "5s", url=url,
        )  # fmt: skip
    assert doc is not None, err
    step = doc["capacity"]["steps"][0]
    if doc["capacity"]["limited_by"] == "server":
        # Which gives out first at 8000/s, the generator or a reference server on the same two busy cores, is a
        # race (seen with both cores busy). Then the run must still not invent a rate that held: the only step broke.
        assert not step["held"] and step["breaches"], step
        assert doc["knee"] is None or doc["knee"]["rps"] is None, doc["knee"]
        assert code == 1 and "even the first step (8000 requests/s) broke" in out + err, out[-2000:]
        return
    assert doc["capacity"]["limited_by"] == "generator" and doc["knee"] is None, step
    assert step["generator"]["bound"] and step["generator"]["reasons"]
    assert code == 2 and "no knee: generator-bound at 8000 requests/s" in out and "--processes" in out
    assert doc["generator"]["bound"] and "GENERATOR-BOUND" in out  # the generator line tells the same story
