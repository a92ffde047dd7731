"""Is the load generator the bottleneck? fetch_and_renew with full validation vs a bare GET.

Target (docs/load.md): the ``fetch_and_renew`` client, checking every token
(decode, binding, role, expiry, renewal, signature), reaches at least 0.8 of the
request rate of a bare FastHttpUser GET of the same route (``load_bare_user.py``),
on the same server, in the same run.

What is fair on a 2-core machine
--------------------------------
If generator and server share the cores, the contenders fight the server for CPU
and the comparison measures the scheduler. If the server is slower than the
generator, both contenders reach the server's ceiling and the ratio is 1 whatever
validation costs: a ratio that cannot fail says nothing. And on a shared machine
achieved rates swing with other people's load. So:

* the server runs in its own process on CPU 0 and Locust on CPU 1 (affinities
  set before each starts); one Locust process;
* **generator cost (the target).** Against a deliberately fast server
  (``load_fast_server.py``: bare asyncio, still a real signed, correctly bound
  token per request), both contenders run at the *same* paced request rates
  (``constant_throughput``; two rates), and the generator's CPU share is
  measured over the steady part of each run. A straight line
  ``cpu share = fixed + cost x rate`` per contender gives the CPU cost of one
  request; ``bare cost / full cost`` is the ratio of the highest rates the
  generator can reach (where its share hits 100 %), and ``(1 - fixed) / cost``
  each one's highest rate. CPU time per request hardly depends on other load on
  the machine, unlike a rate;
* **closed loop (context).** Against the fast server and the reference server
  (one uvicorn worker, what the harness ships), both contenders run flat out
  (``--renew-margin`` = ``--expiry``: a client renews as soon as it holds a
  token): the achieved rates and the generator's CPU share say who the
  bottleneck was (generator at ~100 %: the generator; below: the server);
* contenders run interleaved, bare and full alternating first, for several
  rounds; figures are medians; rates are counted from Locust's per-second
  request counts without the first 2 s and the last second.

    python benchmarks/load_generator_bench.py [--seconds 10] [--rounds 4] [--users 50] [--paced-rates 300,600,900]
        [--skip-closed-loop] [--json out.json] [--check]

``--check`` exits 1 when the target is missed. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from conformance.load.protocol import CERTIFICATE_ENV
from conformance.load.runner import LoadPlan, run_locust
from conformance.load.slo import Thresholds
from conformance.reference.app import demo_settings

TARGET = 0.8
WARMUP_S = 2
TAIL_S = 1
HERE = Path(__file__).resolve().parent
BARE_LOCUSTFILE = HERE / "load_bare_user.py"
FULL_LOCUSTFILE = HERE / "load_paced_scenario.py"
RATE_ENV = "BENCH_USER_RATE"


def pin(cpu: int | None) -> None:
    """Pin the calling thread (and what it starts afterwards) to one CPU, where the OS allows."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu} if cpu is not None else set(range(os.cpu_count() or 1)))


def steady_rate(per_second: dict[str, int]) -> float:
    """Requests per second over the full seconds between warm-up and tail."""
    seconds = sorted(int(s) for s in per_second)
    if not seconds:
        return 0.0
    window = list(range(seconds[0] + WARMUP_S, seconds[-1] + 1 - TAIL_S))
    if not window:
        return 0.0
    return sum(int(per_second.get(str(s), 0)) for s in window) / len(window)


class CpuSampler:
    """CPU share of the Locust child over (roughly) the steady window of a run.

    Locust needs about a second to start; the window runs from 1 s + warm-up after
    launch to the tail, matching the window the rate is counted over.
    """

    def __init__(self, seconds: int) -> None:
        self.start_at = 1.0 + WARMUP_S
        self.end_at = 1.0 + seconds - TAIL_S
        self.share: float | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._launched = 0.0

    def __enter__(self) -> CpuSampler:
        self._launched = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=30)

    @staticmethod
    def _child() -> psutil.Process | None:
        for child in psutil.Process().children(recursive=True):
            try:
                if "locust" in " ".join(child.cmdline()):
                    return child
            except psutil.Error:
                continue
        return None

    def _run(self) -> None:
        time.sleep(max(0.0, self._launched + self.start_at - time.monotonic()))
        child = self._child()
        if child is None:
            return
        try:
            t0, c0 = time.monotonic(), sum(child.cpu_times()[:2])
            time.sleep(max(0.0, self._launched + self.end_at - time.monotonic()))
            t1, c1 = time.monotonic(), sum(child.cpu_times()[:2])
        except psutil.Error:
            return
        self.share = (c1 - c0) / (t1 - t0) if t1 > t0 else None


def _env(rate_per_user: float | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_") and k != RATE_ENV}
    if rate_per_user:
        env[RATE_ENV] = f"{rate_per_user:g}"
    return env


def run_bare(url: str, users: int, seconds: int, workdir: Path, rate_per_user: float | None) -> dict[str, Any]:
    out = workdir / "bare.json"
    out.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "locust", "-f", str(BARE_LOCUSTFILE), "--host", url, "--headless", "--only-summary",
        "--users", str(users), "--spawn-rate", str(users * 10), "--run-time", f"{seconds}s", "--stop-timeout", "0",
        "--csv", str(workdir / "bare"), "--csv-full-history",
    ]  # fmt: skip
    env = {**_env(rate_per_user), "BENCH_SUMMARY_FILE": str(out)}
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60)
    data = json.loads(out.read_text())
    return {"rate": steady_rate(data["per_second"]), "failures": data["failures"], "invalid": 0}


def run_full(
    url: str, users: int, seconds: int, workdir: Path, settings: Any, rate_per_user: float | None
) -> dict[str, Any]:
    """The scenario's client, run exactly as ``token-conformance load`` runs it (run_locust)."""
    plan = LoadPlan(
        scenario=str(FULL_LOCUSTFILE),
        url=url,
        users=users,
        spawn_rate=users * 10,
        run_time=seconds,
        report_dir=workdir / "full",
        stop_timeout=0,
        thresholds=Thresholds(max_p95_ms=60_000, max_failure_ratio=1.0),
        scenario_options={"expiry": 60, "renew_margin": 60, "cycles": 10**6, "app_id": settings.app_id},
        progress_interval=0,
        certificate=settings.certificate,
    )
    previous = os.environ.get(RATE_ENV)
    os.environ.pop(RATE_ENV, None)
    if rate_per_user:
        os.environ[RATE_ENV] = f"{rate_per_user:g}"  # run_locust passes our environment on
    try:
        outcome = run_locust(plan)
    finally:
        os.environ.pop(RATE_ENV, None)
        if previous is not None:
            os.environ[RATE_ENV] = previous
    summary = outcome.summary
    if summary is None:
        raise RuntimeError("the scenario run left no summary:\n" + "\n".join(outcome.tail))
    if not summary["options"].get("signature_checked"):
        raise RuntimeError("the certificate did not reach the scenario: signatures were not verified")
    per_second: dict[str, int] = {}
    for kind in ("FETCH", "RENEW"):
        for entry in summary["rows"][kind].values():
            for second, n in entry["per_second"].items():
                per_second[second] = per_second.get(second, 0) + n
    return {
        "rate": steady_rate(per_second),
        "failures": summary["observed"]["failures"],
        "invalid": summary["observed"]["invalid"],
    }


@contextmanager
def server_process(kind: str, settings: Any, cpu: int | None) -> Iterator[str]:
    """The server in its own process, pinned to ``cpu``: nothing of it shares the harness's GIL or core."""
    env = {**os.environ, "APP_ID": settings.app_id, "APP_CERTIFICATE": settings.certificate}

    def pinned() -> None:
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    if kind == "fast":
        command = [sys.executable, str(HERE / "load_fast_server.py")]
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [
            sys.executable, "-m", "uvicorn", "conformance.reference.app:app_from_env", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=pinned
    )
    try:
        if kind == "fast":
            assert process.stdout is not None
            url = process.stdout.readline().strip()
        else:
            url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the {kind} server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def interleaved(
    url: str, settings: Any, args: argparse.Namespace, rate_per_user: float | None, label: str, workdir: Path
) -> dict[str, list[dict[str, Any]]]:
    """Both contenders, ``args.rounds`` times, alternating which goes first."""
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "full": []}
    for round_ in range(args.rounds):
        for contender in ("bare", "full") if round_ % 2 == 0 else ("full", "bare"):
            with CpuSampler(args.seconds) as sampler:
                if contender == "bare":
                    result = run_bare(url, args.users, args.seconds, workdir, rate_per_user)
                else:
                    result = run_full(url, args.users, args.seconds, workdir, settings, rate_per_user)
            result["cpu"] = sampler.share or 0.0
            results[contender].append(result)
            print(
                f"  {label:22} round {round_ + 1} {contender:4} {result['rate']:7.0f} req/s  generator cpu "
                f"{result['cpu']:4.0%}  failures {result['failures']}  invalid {result['invalid']}",
                file=sys.stderr,
                flush=True,
            )
    return results


def fit(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Least squares ``cpu = fixed + cost * rate`` over the runs; cost in µs of CPU per request."""
    xs = [r["rate"] for r in runs]
    ys = [r["cpu"] for r in runs]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else float("nan")
    fixed = my - slope * mx
    return {
        "cpu_us_per_request": slope * 1e6,
        "fixed_cpu_share": fixed,
        "highest_rate": (1 - fixed) / slope if slope > 0 else float("nan"),
    }


def generator_cost(settings: Any, args: argparse.Namespace, cpus: tuple[int | None, int | None]) -> dict[str, Any]:
    server_cpu, generator_cpu = cpus
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "full": []}
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp, server_process("fast", settings, server_cpu) as url:
        pin(generator_cpu)  # Locust children inherit this
        for total in args.paced_rates:
            found = interleaved(url, settings, args, total / args.users, f"fast, paced {total:g}/s", Path(tmp))
            for contender, results in found.items():
                runs[contender].extend(results)
        pin(None)
    bare, full = fit(runs["bare"]), fit(runs["full"])
    return {
        "bare": bare,
        "full": full,
        "capacity_ratio": bare["cpu_us_per_request"] / full["cpu_us_per_request"],
        "runs": {k: [{"rps": round(r["rate"], 1), "cpu": round(r["cpu"], 3)} for r in v] for k, v in runs.items()},
        "invalid_tokens": sum(r["invalid"] for r in runs["full"]),
        "failures": sum(r["failures"] for v in runs.values() for r in v),
    }


def closed_loop(
    name: str, settings: Any, args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> dict[str, Any]:
    server_cpu, generator_cpu = cpus
    with tempfile.TemporaryDirectory(prefix="load-bench-") as tmp, server_process(name, settings, server_cpu) as url:
        pin(generator_cpu)
        results = interleaved(url, settings, args, None, f"{name}, closed loop", Path(tmp))
        pin(None)
    bare, full = results["bare"], results["full"]
    return {
        "bare_rps": statistics.median(r["rate"] for r in bare),
        "full_rps": statistics.median(r["rate"] for r in full),
        "ratio": statistics.median(f["rate"] / b["rate"] for b, f in zip(bare, full, strict=True) if b["rate"]),
        "bare_generator_cpu": statistics.median(r["cpu"] for r in bare),
        "full_generator_cpu": statistics.median(r["cpu"] for r in full),
        "invalid_tokens": sum(r["invalid"] for r in full),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10, help="run time of each Locust run")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--users", type=int, default=50, help="clients per run")
    parser.add_argument(
        "--paced-rates", type=lambda s: [float(x) for x in s.split(",")], default=[300.0, 600.0, 900.0],
        help="total request rates of the paced runs (generator cost)",
    )  # fmt: skip
    parser.add_argument("--skip-closed-loop", action="store_true")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the capacity ratio is < {TARGET}")
    args = parser.parse_args()
    cpus: tuple[int | None, int | None] = (None, None)
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        cpus = (first, second)
    settings = demo_settings()
    os.environ.pop(CERTIFICATE_ENV, None)
    figures: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pinned": cpus != (None, None),
            "load_average_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "users": args.users, "paced": args.paced_rates},
    }
    cost = generator_cost(settings, args, cpus)
    figures["generator_cost"] = cost
    if not args.skip_closed_loop:
        figures["closed_loop"] = {name: closed_loop(name, settings, args, cpus) for name in ("fast", "reference")}
    figures["machine"]["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None

    b, f = cost["bare"], cost["full"]
    print("generator cost (fast server, paced, equal rates):")
    print(f"  {'':6} {'CPU µs/request':>15} {'fixed CPU':>9} {'highest rate':>12}")
    for name, c in (("bare", b), ("full", f)):
        print(f"  {name:6} {c['cpu_us_per_request']:15.0f} {c['fixed_cpu_share']:9.0%} {c['highest_rate']:10.0f}/s")
    for name, c in figures.get("closed_loop", {}).items():
        print(
            f"closed loop, {name} server: bare {c['bare_rps']:.0f}/s (generator cpu {c['bare_generator_cpu']:.0%}), "
            f"full {c['full_rps']:.0f}/s (cpu {c['full_generator_cpu']:.0%}), full/bare {c['ratio']:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    ok = cost["capacity_ratio"] >= TARGET and cost["invalid_tokens"] == 0 and cost["failures"] == 0
    print(f"target: full/bare highest rate >= {TARGET}: {'met' if ok else 'MISSED'} ({cost['capacity_ratio']:.2f})")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
