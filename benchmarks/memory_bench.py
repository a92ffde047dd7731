"""Memory: peak resident memory of ``check`` and of a 60 s ``load`` run with 200 users, and whether it grows.

Targets (docs/performance.md, "Memory"): report the peak resident set size (RSS)
of ``token-conformance check`` (default suite, embedded reference server) and
of ``token-conformance load --users 200 --run-time 60s`` (default scenario,
embedded reference server); neither may grow with run length.

How it is measured
------------------
* Each run is the console script as a user runs it, under GNU ``/usr/bin/time``
  when it is installed: its ``%M`` is the peak RSS of the largest single process
  of the run (``wait4``'s ``ru_maxrss``), the public, independent figure.
* A sampler (psutil, every ``--interval`` s) reads the RSS of the command and of
  every process it started: per-process peaks and the peak of their sum (a
  ``load`` run is the harness process, which also serves the embedded reference
  server in a thread, plus a Locust child).
* **Growth, load:** within each run, the sum's samples over the steady part
  (from ``--settle`` s after start to the end of the run time) are fitted with a
  least-squares line; its slope (MiB per minute) and the difference between the
  medians of the last and the first third of that window say whether memory
  climbs with run length. Target: the last third is at most
  ``max(2 MiB, 2 %)`` above the first.
* **Growth, check:** a check's length is fixed by the suite, so "longer" means
  more checks in one process, as a script using ``conformance.api.check`` would
  run them: ``--check-repeats`` checks in one Python process, its RSS after
  each. The first checks fill caches (imports, allocator arenas), so growth is
  the least-squares slope of the RSS over the second half of the checks.
  Target: under 1 MiB per check.
* Figures are medians over ``--runs`` runs (at least 5), with the load average.

    python benchmarks/memory_bench.py [--runs 5] [--users 200] [--run-time 60] [--check-repeats 8]
                                      [--only check|load] [--json out.json] [--check]

``--check`` exits 1 when a target is missed. Traffic goes to 127.0.0.1 only;
every load run is bounded by ``--run-time`` (Locust's own deadline and the
harness's) plus this script's timeout.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import cli, loadavg, machine, median, spread, tool_version, version_of, write_json

MIB = 1024 * 1024
GROWTH_ABS_MIB = 2.0
GROWTH_REL = 0.02
CHECK_GROWTH_MIB = 1.0

# A check repeated in one process (the API), printing its RSS after each; the demo pair is per run.
_REPEAT_CODE = """
import resource, sys, tempfile
import psutil
from conformance.api import CheckOptions, check
me = psutil.Process()
for n in range(int(sys.argv[1])):
    with tempfile.TemporaryDirectory() as d:
        code = check(CheckOptions(report_dir=d, extra_pytest_args=["-qq"])).exit_code
    print("RSS", n, code, me.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
"""


class Sampler(threading.Thread):
    """RSS of a process and all its descendants, every ``interval`` seconds, until it exits."""

    def __init__(self, pid: int, interval: float, skip_root: bool) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.skip_root = skip_root  # the root is /usr/bin/time, not part of the run
        self.interval = interval
        self.start_time = time.monotonic()
        self.samples: list[tuple[float, int]] = []  # (seconds since start, RSS sum in bytes)
        self.peaks: dict[str, int] = {}  # label -> peak RSS of one process with that label
        self.first_seen: dict[str, float] = {}  # label -> seconds since start
        self._labels: dict[int, str] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                procs = ([] if self.skip_root else [self.root]) + self.root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            now = time.monotonic() - self.start_time
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    label = self._labels.get(p.pid) or self._labels.setdefault(p.pid, _label(p))
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                total += rss
                self.peaks[label] = max(self.peaks.get(label, 0), rss)
                self.first_seen.setdefault(label, now)
            self.samples.append((now, total))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def _label(p: psutil.Process) -> str:
    """'harness' for the command itself, 'locust' for Locust, else the executable's name."""
    try:
        cmd = " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "?"
    if "locust" in cmd:
        return "locust"
    if "token-conformance" in cmd or "conformance" in cmd:
        return "harness"
    return Path(p.name()).name


def timed(argv: list[str], interval: float, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` under /usr/bin/time (when present) with a sampler on its process tree."""
    gnu_time = Path("/usr/bin/time").exists()
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_file = tf.name
    full = (["/usr/bin/time", "-f", "%M %e", "-o", time_file] if gnu_time else []) + argv
    load = loadavg()
    started = time.monotonic()
    proc = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    sampler = Sampler(proc.pid, interval, skip_root=gnu_time)
    sampler.start()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    finally:
        sampler.stop()
    wall = time.monotonic() - started
    out: dict[str, Any] = {"exit_code": proc.returncode, "wall_s": round(wall, 2), "loadavg_1m": load,
                           "samples": sampler.samples}
    if gnu_time:
        try:
            text = Path(time_file).read_text().split()
            out["gnu_time_max_rss_mib"] = round(int(text[-2]) / 1024, 1)  # %M is in KiB
        except (OSError, ValueError, IndexError):
            out["gnu_time_max_rss_mib"] = None
    Path(time_file).unlink(missing_ok=True)
    out["peak_rss_mib_by_process"] = {k: round(v / MIB, 1) for k, v in sampler.peaks.items()}
    out["first_seen_s"] = {k: round(v, 2) for k, v in sampler.first_seen.items()}
    out["peak_rss_sum_mib"] = round(max((s for _, s in sampler.samples), default=0) / MIB, 1)
    if proc.returncode not in (0, 1):
        out["stderr_tail"] = err.decode("utf-8", "replace").strip().splitlines()[-3:]
    return out


def growth(samples: list[tuple[float, int]], start: float, end: float) -> dict[str, float | None]:
    """Slope (MiB/min) and last-third minus first-third median (MiB) of the samples in [start, end]."""
    window = [(t, s / MIB) for t, s in samples if start <= t <= end]
    if len(window) < 6:
        return {"slope_mib_per_min": None, "last_minus_first_third_mib": None, "first_third_mib": None}
    ts = [t for t, _ in window]
    ys = [y for _, y in window]
    slope = statistics.linear_regression(ts, ys).slope * 60
    third = len(window) // 3
    first, last = statistics.median(ys[:third]), statistics.median(ys[-third:])
    return {"slope_mib_per_min": round(slope, 2), "last_minus_first_third_mib": round(last - first, 2),
            "first_third_mib": round(first, 1)}


def bench_check(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="memory-bench-") as d:
            r = timed([*cli(), "check", "--report-dir", d], args.interval, 300)
        r.pop("samples")
        runs.append(r)
        print(f"check run {n + 1}/{args.runs}: peak {r.get('gnu_time_max_rss_mib')} MiB (GNU time), "
              f"sum {r['peak_rss_sum_mib']} MiB, exit {r['exit_code']}, load {r['loadavg_1m']}",
              file=sys.stderr, flush=True)
    repeats = []
    for n in range(args.runs):
        load = loadavg()
        proc = subprocess.run([sys.executable, "-c", _REPEAT_CODE, str(args.check_repeats)], capture_output=True,
                              text=True, timeout=120 * args.check_repeats, check=False)
        rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("RSS ")]
        rss = [int(r[3]) / MIB for r in rows]
        if len(rss) < 4:
            raise RuntimeError(f"repeated check failed: {proc.stderr.strip()[-500:]}")
        # The first checks fill caches (imports, allocator arenas): judge the second half only.
        half = len(rss) // 2
        per_check = statistics.linear_regression(range(half, len(rss)), rss[half:]).slope
        repeats.append({"rss_after_each_mib": [round(x, 1) for x in rss], "exit_codes": [int(r[2]) for r in rows],
                        "growth_mib_per_check": round(per_check, 2), "loadavg_1m": load})
        print(f"check x{args.check_repeats} in one process {n + 1}/{args.runs}: RSS after each "
              f"{[round(x) for x in rss]} MiB, {per_check:+.2f} MiB/check", file=sys.stderr, flush=True)
    per_check_growth = median(r["growth_mib_per_check"] for r in repeats)
    return {
        "runs": runs,
        "peak_rss_mib_gnu_time": spread((r.get("gnu_time_max_rss_mib") for r in runs), 1),
        "peak_rss_sum_mib": spread((r["peak_rss_sum_mib"] for r in runs), 1),
        "wall_s": median(r["wall_s"] for r in runs),
        "loadavg_1m": spread((r["loadavg_1m"] for r in runs), 2),
        "repeated_in_one_process": repeats,
        "growth_mib_per_check": per_check_growth,
        "no_growth": per_check_growth is not None and per_check_growth < CHECK_GROWTH_MIB,
    }


def bench_load(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="memory-bench-load-") as d:
            argv = [*cli(), "load", "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                    "--run-time", f"{args.run_time}s", "--report-dir", d, "--progress-interval", "0"]
            r = timed(argv, args.interval, args.run_time + 180)
        # Locust starts after the harness: the steady window is measured from Locust's first sample.
        locust_start = r["first_seen_s"].get("locust", 0.0)
        g = growth(r["samples"], locust_start + args.settle, locust_start + args.run_time)
        r["growth"] = g
        r["timeline_mib"] = [(round(t, 1), round(s / MIB, 1)) for t, s in r.pop("samples")]
        rel_limit = max(GROWTH_ABS_MIB, GROWTH_REL * (g["first_third_mib"] or 0))
        r["no_growth"] = g["last_minus_first_third_mib"] is not None and g["last_minus_first_third_mib"] <= rel_limit
        runs.append(r)
        print(f"load run {n + 1}/{args.runs}: peaks {r['peak_rss_mib_by_process']} MiB, sum {r['peak_rss_sum_mib']}"
              f" MiB, slope {g['slope_mib_per_min']} MiB/min, last-first third {g['last_minus_first_third_mib']} "
              f"MiB, exit {r['exit_code']}, load {r['loadavg_1m']}", file=sys.stderr, flush=True)
    labels = sorted({k for r in runs for k in r["peak_rss_mib_by_process"]})
    return {
        "runs": runs,
        "peak_rss_mib_gnu_time": spread((r.get("gnu_time_max_rss_mib") for r in runs), 1),
        "peak_rss_mib_by_process": {k: spread((r["peak_rss_mib_by_process"].get(k) for r in runs), 1)
                                    for k in labels},
        "peak_rss_sum_mib": spread((r["peak_rss_sum_mib"] for r in runs), 1),
        "slope_mib_per_min": spread((r["growth"]["slope_mib_per_min"] for r in runs), 2),
        "last_minus_first_third_mib": spread((r["growth"]["last_minus_first_third_mib"] for r in runs), 2),
        "loadavg_1m": spread((r["loadavg_1m"] for r in runs), 2),
        "exit_codes": sorted({r["exit_code"] for r in runs}),
        "no_growth": sum(r["no_growth"] for r in runs) > len(runs) / 2,
    }


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(f"commit {m['commit']} | machine: {m['platform']} | {m['cpu']} | {m['cpus_online']} CPUs | {m['memory_mib']} MiB | {m['python']} "
          f"| locust {m['locust']} | {m['gnu_time'] or 'no GNU time'}")
    print(f"runs: {result['runs']} per figure; medians (min-max); RSS in MiB\n")
    c = result.get("check")
    if c:
        g, s, ld = c["peak_rss_mib_gnu_time"], c["peak_rss_sum_mib"], c["loadavg_1m"]
        print(f"check (default suite, embedded server): peak RSS {g['median']} ({g['min']}-{g['max']}) [GNU time], "
              f"sampled {s['median']} ({s['min']}-{s['max']}); wall {c['wall_s']} s; load {ld['median']}")
        print(f"  {result['check_repeats']} checks in one process: {c['growth_mib_per_check']:+.2f} MiB per check "
              f"(median) -> {'no growth' if c['no_growth'] else 'GROWS'} (target < {CHECK_GROWTH_MIB:g} MiB/check)")
    lo = result.get("load")
    if lo:
        g, s, ld = lo["peak_rss_mib_gnu_time"], lo["peak_rss_sum_mib"], lo["loadavg_1m"]
        print(f"load ({result['users']} users, {result['run_time']} s, embedded server): largest process "
              f"{g['median']} ({g['min']}-{g['max']}) [GNU time]; all processes {s['median']} ({s['min']}-{s['max']}) "
              f"[sampled]; load {ld['median']} ({ld['min']}-{ld['max']}); exit codes {lo['exit_codes']}")
        for label, v in lo["peak_rss_mib_by_process"].items():
            print(f"  {label:10} peak {v['median']} ({v['min']}-{v['max']})")
        sl, d = lo["slope_mib_per_min"], lo["last_minus_first_third_mib"]
        print(f"  steady part: slope {sl['median']} ({sl['min']}-{sl['max']}) MiB/min; last third - first third "
              f"{d['median']} ({d['min']}-{d['max']}) MiB -> {'no growth' if lo['no_growth'] else 'GROWS'} "
              f"(target <= max({GROWTH_ABS_MIB:g} MiB, {GROWTH_REL:.0%}))")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure, at least 5 (default 5)")
    parser.add_argument("--users", type=int, default=200, help="load: simulated users (default 200)")
    parser.add_argument("--spawn-rate", type=int, default=100, help="load: users started per second (default 100)")
    parser.add_argument("--run-time", type=int, default=60, help="load: seconds (default 60)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="load: seconds after Locust starts before the growth window (default 15)")
    parser.add_argument("--check-repeats", type=int, default=8, help="checks in one process (default 8)")
    parser.add_argument("--interval", type=float, default=0.5, help="sampling interval, seconds (default 0.5)")
    parser.add_argument("--only", choices=("check", "load"), help="measure only one of them")
    parser.add_argument("--json", metavar="PATH", help="also write every run and the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    args.runs = max(5, args.runs)
    args.check_repeats = max(4, args.check_repeats)
    info = machine(locust=version_of("locust"), gnu_time=tool_version(["/usr/bin/time", "--version"]))
    result: dict[str, Any] = {"machine": info, "runs": args.runs, "users": args.users, "run_time": args.run_time,
                              "check_repeats": args.check_repeats}
    if args.only in (None, "check"):
        result["check"] = bench_check(args)
    if args.only in (None, "load"):
        result["load"] = bench_load(args)
    print_report(result)
    write_json(args.json, result)
    met = all(part["no_growth"] for part in (result.get("check"), result.get("load")) if part)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
