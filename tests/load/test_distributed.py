"""A master and two workers on loopback: the counts of a distributed run add up.

Three separate ``locust`` processes run the bundled scenario exactly as a user
would on several machines (``--master`` / ``--worker``), against a server whose
every fourth token has the wrong expiry, so FETCH, RENEW and INVALID all occur.
Each worker also writes what it recorded itself (TOKEN_LOAD_WORKER_SUMMARY_DIR);
the master's aggregated Locust rows, the per-worker counts it received and the
workers' own files must all agree.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.load.protocol import CERTIFICATE_ENV, WORKER_SUMMARY_DIR_ENV
from conformance.load.runner import scenario_path

from . import faulty


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rows_total(summary: dict[str, Any], kind: str) -> int:
    return sum(e["requests"] for e in summary["rows"][kind].values())


@pytest.mark.slow
def test_master_and_two_workers_add_up(tmp_path: Path) -> None:
    port = free_port()

    def issuer(settings: Any) -> faulty.WrongExpiryIssuer:
        return faulty.WrongExpiryIssuer(settings.app_id, settings.certificate, extra=60, every=4)

    with faulty.serving(issuer=issuer) as (url, settings):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")},
            CERTIFICATE_ENV: settings.certificate,
            WORKER_SUMMARY_DIR_ENV: str(tmp_path / "workers"),
        }
        locust = [sys.executable, "-m", "locust", "-f", str(scenario_path("fetch_and_renew"))]
        scenario = ["--expiry", "3", "--renew-margin", "1.5", "--cycles", "2", "--app-id", settings.app_id]
        master_cmd = [
            *locust, *scenario, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
            "--expect-workers", "2", "--expect-workers-max-wait", "20", "--headless", "--only-summary",
            "--users", "8", "--spawn-rate", "100", "--run-time", "5s", "--host", url,
            "--summary-file", str(tmp_path / "summary.json"), "--csv", str(tmp_path / "locust"),
        ]  # fmt: skip
        worker_cmd = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        logs = [open(tmp_path / f"{name}.log", "wb") for name in ("master", "worker1", "worker2")]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(subprocess.Popen(master_cmd, env=env, stdout=logs[0], stderr=subprocess.STDOUT))
            for log in logs[1:]:
                procs.append(subprocess.Popen(worker_cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
            for proc in procs:
                proc.wait(timeout=45)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            for log in logs:
                log.close()

    master_log = (tmp_path / "master.log").read_text()
    assert (tmp_path / "summary.json").exists(), master_log[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    workers = [json.loads(p.read_text())["tally"]["counts"] for p in sorted((tmp_path / "workers").glob("*.json"))]
    assert summary["mode"] == "master" and len(summary["workers"]) == 2 and len(workers) == 2
    received = list(summary["workers"].values())
    for kind, counter in (("FETCH", "fetch"), ("RENEW", "renew"), ("INVALID", "invalid")):
        total = rows_total(summary, kind)
        assert total > 0, kind
        assert total == sum(w[counter] for w in received) == sum(w[counter] for w in workers), kind
    assert summary["observed"]["invalid"] == summary["tally"]["counts"]["invalid"]
    assert summary["tally"]["invalid_reasons"] == {"expiry": summary["observed"]["invalid"]}
    assert all(w["fetch"] > 0 for w in workers)  # both workers took part
    assert summary["exit_code"] == 1  # the invalid tokens break the default SLO
    # Every worker reports its own generator delay (event-loop lag, CPU); the master lists itself too.
    generator = summary["generator"]
    roles = sorted(proc["role"] for proc in generator["processes"])
    assert roles == ["master", "worker", "worker"], roles
    for proc in generator["processes"]:
        assert proc["samples"] > 10 and proc["lag_ms"]["p50"] is not None and proc["cpu"]["mean"] is not None
    assert {p["id"] for p in generator["processes"] if p["role"] == "worker"} == set(summary["workers"])
    assert settings.certificate not in master_log
