"""Capacity across generator processes: the knee found with ``--processes 2`` and with a master and two separately
started workers, against wrk's saturation rate of the same server, in the same round.

The server is ``load_knee_server.py`` (the reference app, TCP_NODELAY; ``--cost-ms`` adds a fixed CPU cost per
token) pinned to CPU 0; wrk (32 connections, closed loop) right before and right after each capacity run, the mean
as that run's reference (a shared machine's server drifts within minutes). One generator process (pinned to CPU 1) runs
too, as the baseline the issue asks to beat: a server faster than one validating generator process is what the
extra processes are for. On a 2-vCPU machine two generator processes and the server share two cores, so read the
figures with the machine's load average (printed).

``--generator-cores X`` emulates generator machines slower than the server's on a 2-core box: every generator
process (the single one, each of ``--processes 2``'s, each separately started worker) gets X of a core, by a
Linux cgroup-v1 CPU quota over the shortest period that holds it (root needed), on CPU 1 while the server has CPU 0 to itself. A
server that one whole generator core cannot outrun here becomes one that one generator process cannot drive,
which is what the extra processes are for; wrk (unthrottled, CPU 1) still measures the server.

    python benchmarks/load_distributed_knee.py [--cost-ms 0] [--rounds 1] [--seconds 10] [--generator-cores 0.3]
"""

from __future__ import annotations

import argparse
import json
import math
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


CGROUP_ROOT = Path("/sys/fs/cgroup/cpu")
#: The shortest quota the kernel takes (µs): the period is the shortest that holds it at the share asked, so the
#: pauses stay as short as they can (2.3 ms at 0.3 of a core), as close to a slower core as a quota gets.
MIN_QUOTA_US = 1000


class CpuShare:
    """A cgroup-v1 CPU quota of ``cores`` cores; processes started with ``start()`` as preexec_fn run in it."""

    def __init__(self, name: str, cores: float) -> None:
        self.path = CGROUP_ROOT / f"token-conformance-bench-{os.getpid()}-{name}"
        self.path.mkdir()
        period = max(MIN_QUOTA_US, math.ceil(MIN_QUOTA_US / cores))
        (self.path / "cpu.cfs_period_us").write_text(str(period))
        (self.path / "cpu.cfs_quota_us").write_text(str(max(MIN_QUOTA_US, round(cores * period))))

    def join(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:  # a process of it is still exiting
                time.sleep(0.1)


def starter(pin: int | None, share: CpuShare | None) -> Any:
    def start() -> None:
        if pin is not None and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {pin})
        if share is not None:
            share.join()

    return start


def shares(cores: float | None, *names: str) -> list[CpuShare | None]:
    return [CpuShare(n, cores) if cores else None for n in names]


def run_local(url: str, folder: Path, *extra: str, pin: int | None = 1, cores: float | None = None) -> dict[str, Any]:
    """One local capacity run; ``cores``: the CPU its processes share (with ``--processes N``, N times one's)."""
    report = Path(tempfile.mkdtemp(dir=folder))
    started = time.monotonic()
    (share,) = shares(cores, "local")
    try:
        subprocess.run([*cli(), "load", url, *capacity_args(report), *extra], capture_output=True, text=True,
                       timeout=900, preexec_fn=starter(pin, share), check=False)  # fmt: skip
    finally:
        if share is not None:
            share.remove()
    return summary(json.loads((report / "load.json").read_text()), time.monotonic() - started)


def run_master_workers(url: str, folder: Path, cores: float | None = None) -> dict[str, Any]:
    report = Path(tempfile.mkdtemp(dir=folder))
    port = free_port()
    started = time.monotonic()
    worker_shares = shares(cores, "w1", "w2")
    master = subprocess.Popen([*cli(), "load", url, *capacity_args(report), "--master", "--expect-workers", "2",
                               "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=starter(1, None))  # fmt: skip
    workers = [subprocess.Popen([*cli(), "load", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                                 "--report-dir", str(report / f"w{i}")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=starter(1, worker_shares[i - 1])) for i in (1, 2)]  # fmt: skip
    try:
        master.wait(timeout=900)
        for w in workers:
            w.wait(timeout=120)
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
        for share in worker_shares:
            if share is not None:
                share.remove()
    return summary(json.loads((report / "load.json").read_text()), time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cost-ms", type=float, default=0.0, help="CPU per token added to the reference server")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="each wrk run")
    parser.add_argument("--generator-cores", type=float, default=None,
                        help="CPU of each generator process, in cores (cgroup-v1 quota; root): emulates generator "
                             "machines slower than the server's")
    args = parser.parse_args()
    if args.generator_cores is not None and not os.access(CGROUP_ROOT, os.W_OK):
        parser.error(f"--generator-cores needs a writable cgroup-v1 CPU controller at {CGROUP_ROOT} (root)")
    cores = args.generator_cores
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="distributed-knee-") as tmp:
        folder = Path(tmp)
        server = KneeServer(args.cost_ms)
        try:
            for _ in range(args.rounds):
                # wrk right before and right after each capacity run, the mean of the two its reference: on a shared
                # machine the server's rate drifts within minutes (830 -> 378/s over one round at load 3 -> 8).
                row: dict[str, Any] = {"generator_cores": cores}
                runs = {
                    "one_process": lambda: run_local(server.url, folder, cores=cores),
                    # --processes 2 under the quota: two processes' worth of CPU for the two of them (and the
                    # parent, which only waits); without it, free to use either core.
                    "processes_2": lambda: run_local(server.url, folder, "--processes", "2",
                                                     pin=None if cores is None else 1,
                                                     cores=None if cores is None else 2 * cores),
                    "master_2_workers": lambda: run_master_workers(server.url, folder, cores),
                }
                for name, run in runs.items():
                    before = wrk(server.url, args.seconds, 32, 0, folder)
                    row[name] = run()
                    after = wrk(server.url, args.seconds, 32, 0, folder)
                    reference = (before["rps"] + after["rps"]) / 2
                    knee = row[name]["knee"]
                    row[name].update(wrk_before_rps=before["rps"], wrk_after_rps=after["rps"],
                                     wrk_rps=round(reference, 1),
                                     knee_over_wrk=round(knee / reference, 3) if knee else None)
                results.append(row)
                print(json.dumps({k: v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "steps"}
                                  for k, v in row.items()}), flush=True)  # fmt: skip
        finally:
            server.stop()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
