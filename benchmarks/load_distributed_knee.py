"""Capacity across generator processes: the knee found with ``--processes 2`` and with a master and two separately
started workers, against wrk's saturation rate of the same server, in the same round.

The server is ``load_knee_server.py`` (the reference app, TCP_NODELAY; ``--cost-ms`` adds a fixed CPU cost per
token) pinned to CPU 0; wrk (32 connections, closed loop) right before and right after each capacity run, the mean
as the reference (a shared machine's server drifts within minutes). One generator process (pinned to CPU 1) runs
too, as the baseline the issue asks to beat: a server faster than one validating generator process is what the
extra processes are for. On a 2-vCPU machine two generator processes and the server share two cores, so read the
figures with the machine's load average (printed).

    python benchmarks/load_distributed_knee.py [--cost-ms 0] [--rounds 1] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_accuracy_bench import KneeServer, cli, loadavg, wrk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def capacity_args(folder: Path) -> list[str]:
    return ["--scenario", "capacity", "--max-p95-ms", "500", "--progress-interval", "0", "--report-dir", str(folder)]


def summary(doc: dict[str, Any], seconds: float) -> dict[str, Any]:
    cap = doc.get("capacity") or {}
    return {
        "knee": (cap.get("knee") or {}).get("rps"), "limited_by": cap.get("limited_by"), "ended_by": cap.get("ended_by"),
        "highest_held_rps": cap.get("highest_held_rps"), "seconds": round(seconds, 1), "load": loadavg(),
        "steps": [(s["target_rps"], s["achieved_rps"], s["held"], s["generator"]["late_p50_ms"],
                   [b["slo"] for b in s["breaches"]]) for s in cap.get("steps", [])],
    }  # fmt: skip


def run_local(url: str, folder: Path, *extra: str, pin: int | None = None) -> dict[str, Any]:
    report = Path(tempfile.mkdtemp(dir=folder))
    started = time.monotonic()

    def pinned() -> None:
        if pin is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {pin})

    subprocess.run([*cli(), "load", url, *capacity_args(report), *extra], capture_output=True, text=True,
                   timeout=900, preexec_fn=pinned, check=False)  # fmt: skip
    return summary(json.loads((report / "load.json").read_text()), time.monotonic() - started)


def run_master_workers(url: str, folder: Path) -> dict[str, Any]:
    report = Path(tempfile.mkdtemp(dir=folder))
    port = free_port()
    started = time.monotonic()
    master = subprocess.Popen([*cli(), "load", url, *capacity_args(report), "--master", "--expect-workers", "2",
                               "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    workers = [subprocess.Popen([*cli(), "load", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                                 "--report-dir", str(report / f"w{i}")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in (1, 2)]  # fmt: skip
    try:
        master.wait(timeout=900)
        for w in workers:
            w.wait(timeout=120)
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
    return summary(json.loads((report / "load.json").read_text()), time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cost-ms", type=float, default=0.0, help="CPU per token added to the reference server")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="distributed-knee-") as tmp:
        folder = Path(tmp)
        server = KneeServer(args.cost_ms)
        try:
            for _ in range(args.rounds):
                row: dict[str, Any] = {"wrk_before": wrk(server.url, args.seconds, 32, 0, folder)}
                row["one_process"] = run_local(server.url, folder, pin=1)
                row["processes_2"] = run_local(server.url, folder, "--processes", "2")
                row["master_2_workers"] = run_master_workers(server.url, folder)
                row["wrk_after"] = wrk(server.url, args.seconds, 32, 0, folder)
                reference = (row["wrk_before"]["rps"] + row["wrk_after"]["rps"]) / 2
                row["wrk_rps"] = round(reference, 1)
                for name in ("one_process", "processes_2", "master_2_workers"):
                    knee = row[name]["knee"]
                    row[name]["knee_over_wrk"] = round(knee / reference, 3) if knee else None
                results.append(row)
                print(json.dumps({k: v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "steps"}
                                  for k, v in row.items()}), flush=True)  # fmt: skip
        finally:
            server.stop()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
