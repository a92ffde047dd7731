"""Do the load numbers describe the server? This tool against wrk, same server, same run, interleaved.

Four measurements (docs/performance.md, "Load generator"), each round running
every contender once, the order rotating between rounds; figures are medians
over rounds; the load average is recorded with every run:

1. **latency accuracy**: against a fast server (``load_fast_server.py``, its
   own process), ``capacity`` held at one fixed low rate (one step, open model)
   against wrk paced to the same rate (one connection, a Lua ``delay()``):
   p50 and p95 of each;
2. **no lock-step**: ``fetch_and_renew`` with 1, 20 and 200 users (a short
   cycle: ``--expiry 3 --renew-margin 2.5``, each client renews every 0.5 s) on
   the same fast server: fetch p50 at 20 and 200 users against 1 user's
   (target: within 2 ms), with the generator's event-loop lag of each run;
3. **capacity knee against wrk's saturation**: servers of known capacity
   (``load_knee_server.py``: 300, 800 and 2 000 tokens/s, one token at a time,
   TCP_NODELAY, its own process) saturated by wrk (``-c 32``, closed loop, the
   same route), and the *default* ``load URL --scenario capacity`` (the search)
   on each (target: the knee within 25 % of wrk's rate, in at most 150 s);
4. **ceiling per generator process**: ``capacity`` against the fast server
   stepped up until the generator (not the server) gives out: the highest
   rate of validated token requests one process held.

The servers run pinned to CPU 0, wrk and Locust to CPU 1 (when there are two).
Traffic goes to 127.0.0.1 only; every run is bounded in time.

    python benchmarks/load_accuracy_bench.py [--rounds 3] [--seconds 10] [--only 1,2,3,4] [--json out.json]
    python benchmarks/load_accuracy_bench.py --only 3 --rounds 3 --knee-capacities 300,800,2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench_common import cli, loadavg, machine, median, spread, write_json  # noqa: E402
from load_generator_bench import server_process  # noqa: E402

from conformance.reference.app import demo_settings  # noqa: E402

ROUTE = "/rtc/bench-channel/publisher/uid/42/?expiry=600"
SERVER_CPU, CLIENT_CPU = 0, 1
_LUA = """
local gap_ms = %(gap)s
function delay() return gap_ms end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p95_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
"""


def _pin(cpu: int) -> Any:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
            os.sched_setaffinity(0, {cpu})

    return pin


def wrk(url: str, seconds: float, connections: int, gap_ms: float, folder: Path) -> dict[str, Any]:
    script = folder / f"wrk-{gap_ms:g}.lua"
    script.write_text(_LUA % {"gap": f"{gap_ms:g}"}, encoding="utf-8")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script), url + ROUTE],
        capture_output=True, text=True, timeout=seconds + 30, preexec_fn=_pin(CLIENT_CPU), check=False,
    )  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    data = json.loads(line.removeprefix("WRKJSON "))
    return {
        "rps": round(data["requests"] / (data["duration_us"] / 1e6), 1),
        "p50_ms": data["p50_us"] / 1000, "p95_ms": data["p95_us"] / 1000, "p99_ms": data["p99_us"] / 1000,
        "errors": data["errors"], "load": loadavg(),
    }  # fmt: skip


def tool(url: str, settings: Any | None, folder: Path, *args: str, timeout: float = 600) -> dict[str, Any]:
    """One ``token-conformance load`` run (signatures checked when ``settings`` are the server's); its load.json."""
    report = Path(tempfile.mkdtemp(dir=folder))
    env = {k: v for k, v in os.environ.items() if k != "TOKEN_SERVER_APP_CERTIFICATE"}
    known: list[str] = []
    if settings is not None:
        env["TOKEN_SERVER_APP_CERTIFICATE"] = settings.certificate
        known = ["--app-id", settings.app_id]
    out = subprocess.run(
        [*cli(), "load", url, "--report-dir", str(report), *known, "--progress-interval", "0",
         "--max-p95-ms", "250", *args],
        capture_output=True, text=True, timeout=timeout, preexec_fn=_pin(CLIENT_CPU), env=env, check=False,
    )  # fmt: skip
    path = report / "load.json"
    if not path.exists():
        raise RuntimeError(f"load failed (exit {out.returncode}): {out.stderr[-2000:]}")
    doc: dict[str, Any] = json.loads(path.read_text())
    doc["exit_code"] = out.returncode
    doc["load"] = loadavg()
    return doc


def fixed_rate(url: str, settings: Any, folder: Path, rate: float, seconds: float) -> dict[str, Any]:
    doc = tool(url, settings, folder, "--scenario", "capacity", "--start-rate", f"{rate:g}", "--max-rate", f"{rate:g}",
               "--step-time", f"{seconds:g}", "--run-time", f"{seconds + 2:g}s")  # fmt: skip
    step = doc["capacity"]["steps"][0]
    both = [doc["fetch"], doc["renew"]]
    return {
        "rps": step["achieved_rps"], "p50_ms": step["p50_ms"], "p95_ms": max(step["p95_ms"].values()),
        "fetch_p50_ms": doc["fetch"]["p50_ms"], "requests": sum(k["requests"] for k in both),
        "lag_p95_ms": step["generator"]["lag_p95_ms"], "load": doc["load"],
    }  # fmt: skip


def users_run(url: str, settings: Any, folder: Path, users: int, seconds: float) -> dict[str, Any]:
    doc = tool(url, settings, folder, "--users", str(users), "--spawn-rate", str(max(users, 10)),
               "--run-time", f"{seconds:g}s", "--expiry", "3", "--renew-margin", "1.5", "--cycles", "1")  # fmt: skip
    gen = doc["generator"]
    return {
        "users": users, "fetch_p50_ms": doc["fetch"]["p50_ms"], "renew_p50_ms": doc["renew"]["p50_ms"],
        "fetch_p95_ms": doc["fetch"]["p95_ms"], "rps": round(doc["fetch"]["rps"] + doc["renew"]["rps"], 1),
        "lag_p50_ms": gen.get("worst_lag_p50_ms"), "lag_p95_ms": gen.get("worst_lag_p95_ms"),
        "generator_bound": gen.get("bound"), "exit_code": doc["exit_code"], "load": doc["load"],
    }  # fmt: skip


def rotate(items: list[Any], k: int) -> list[Any]:
    k %= len(items)
    return items[k:] + items[:k]


class KneeServer:
    """``load_knee_server.py``: the reference app with a fixed CPU cost per token request, pinned to SERVER_CPU."""

    def __init__(self, cost_ms: float) -> None:
        def pin() -> None:
            if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {SERVER_CPU})

        self.proc = subprocess.Popen([sys.executable, str(HERE / "load_knee_server.py"), str(cost_ms)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=pin)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        time.sleep(1.0)  # uvicorn's start-up after the socket is bound

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


#: CPU per token request of the plain reference app here (4 300-4 900 tokens/s on one quiet core): a server of
#: capacity C spins 1/C minus this, so that its saturation lands near C (wrk says where it really is).
BASE_COST_MS = 0.22


def knee_series(capacity: float, args: Any, folder: Path) -> dict[str, Any]:
    """The default ``load URL --scenario capacity`` against a server of about ``capacity`` tokens/s, and wrk's
    saturation rate of the same server, interleaved, ``args.rounds`` times."""
    cost_ms = max(0.0, 1000.0 / capacity - BASE_COST_MS)
    server = KneeServer(cost_ms)
    knees = []
    try:
        for _r in range(args.rounds):
            got: dict[str, Any] = {}
            # wrk right before and right after: on a shared machine the server's own rate drifts within minutes
            # (it got 70-160/s of a nominal 800/s at load 10-17), so the reference is the mean of the two.
            for who in ["wrk_before", "capacity", "wrk_after"]:
                if who.startswith("wrk"):
                    got[who] = wrk(server.url, args.seconds, 32, 0, folder)
                    continue
                started = time.monotonic()
                # The default run, as a user would start it (serve's own demo key pair: no signature check).
                doc = tool(server.url, None, folder, "--scenario", "capacity", "--max-p95-ms", "500")
                cap = doc["capacity"]
                got["capacity"] = {
                    "seconds": round(time.monotonic() - started, 1), "exit_code": doc["exit_code"],
                    "knee": cap["knee"], "limited_by": cap["limited_by"], "ended_by": cap["ended_by"],
                    "highest_held_rps": cap["highest_held_rps"],
                    "generator_bound_at_rps": cap.get("generator_bound_at_rps"), "load": doc["load"],
                    "steps": [{k: s.get(k) for k in ("target_rps", "achieved_rps", "p50_ms", "p95_ms", "held",
                                                     "seconds", "connections")}
                              | {"generator": s["generator"]["bound"], "lag_p50_ms": s["generator"]["lag_p50_ms"],
                                 "late_p50_ms": s["generator"]["late_p50_ms"],
                                 "breaches": [b["slo"] for b in s["breaches"]]} for s in cap["steps"]],
                }  # fmt: skip
            got["wrk"] = {"rps": round((got["wrk_before"]["rps"] + got["wrk_after"]["rps"]) / 2, 1),
                          "before": got["wrk_before"]["rps"], "after": got["wrk_after"]["rps"]}
            knee = (got["capacity"]["knee"] or {}).get("rps")
            got["knee_over_wrk"] = round(knee / got["wrk"]["rps"], 3) if knee else None
            knees.append(got)
            print(f"knee C={capacity:g}", got["wrk"], got["capacity"]["knee"], got["capacity"]["limited_by"],
                  got["capacity"].get("generator_bound_at_rps"), got["knee_over_wrk"],
                  f'{got["capacity"]["seconds"]} s', f'load {got["capacity"]["load"]}', flush=True)  # fmt: skip
    finally:
        server.stop()
    return {
        "cost_ms": round(cost_ms, 3),
        "runs": knees,
        "wrk_rps": spread(k["wrk"]["rps"] for k in knees),
        "knee_rps": spread((k["capacity"]["knee"] or {}).get("rps") for k in knees),
        "knee_over_wrk": spread(k["knee_over_wrk"] for k in knees),
        "seconds": spread(k["capacity"]["seconds"] for k in knees),
        "generator_bound": sum(1 for k in knees if k["capacity"]["limited_by"] == "generator"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="20,100", help="fixed low rates for the latency comparison")
    parser.add_argument("--only", default="1,2,3,4")
    parser.add_argument("--json", default=None)
    parser.add_argument("--knee-capacities", default="300,800,2000",
                        help="measurement 3: servers of about these capacities, tokens/s (load_knee_server.py: the "
                             "reference app with a fixed CPU cost per token, one at a time, TCP_NODELAY)")
    args = parser.parse_args()
    only = {int(x) for x in args.only.split(",")}
    settings = demo_settings()
    result: dict[str, Any] = {"machine": machine(load_start=loadavg()), "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="load-accuracy-") as tmp:
        folder = Path(tmp)
        if only & {1, 2, 4}:
            with server_process("fast", settings, SERVER_CPU) as url:
                if 1 in only:
                    runs: dict[str, list[dict[str, Any]]] = {}
                    for r in range(args.rounds):
                        jobs = [(f"{who} {rate}", rate, who) for rate in map(float, args.rates.split(","))
                                for who in ("wrk", "tool")]  # fmt: skip
                        for name, rate, who in rotate(jobs, r):
                            if who == "wrk":
                                runs.setdefault(name, []).append(wrk(url, args.seconds, 1, 1000.0 / rate, folder))
                            else:
                                runs.setdefault(name, []).append(fixed_rate(url, settings, folder, rate, args.seconds))
                            print(name, runs[name][-1], flush=True)
                    result["latency"] = {name: {k: spread(x.get(k) for x in v) for k in ("rps", "p50_ms", "p95_ms", "load")}
                                         for name, v in runs.items()}  # fmt: skip
                if 2 in only:
                    runs = {}
                    for r in range(args.rounds):
                        for users in rotate([1, 20, 200], r):
                            runs.setdefault(str(users), []).append(users_run(url, settings, folder, users, args.seconds + 5))
                            print("users", runs[str(users)][-1], flush=True)
                    result["lockstep"] = {
                        users: {k: spread(x.get(k) for x in v) for k in ("fetch_p50_ms", "renew_p50_ms", "fetch_p95_ms",
                                                                            "rps", "lag_p50_ms", "lag_p95_ms", "load")}
                        for users, v in runs.items()
                    }  # fmt: skip
                    result["lockstep"]["fetch_p50_gap_ms"] = {
                        users: median(x["fetch_p50_ms"] - one["fetch_p50_ms"] for x, one in zip(runs[users], runs["1"], strict=True))
                        for users in ("20", "200")
                    }  # fmt: skip
                if 4 in only:
                    ceil = []
                    for _r in range(args.rounds):
                        doc = tool(url, settings, folder, "--scenario", "capacity", "--start-rate", "500",
                                   "--step-rate", "250", "--max-rate", "8000", "--step-time", "4", "--run-time", "150s")  # fmt: skip
                        cap = doc["capacity"]
                        ceil.append({"highest_held_rps": cap["highest_held_rps"], "limited_by": cap["limited_by"],
                                     "broke": cap["steps"][-1] if cap["steps"] else None, "load": doc["load"]})  # fmt: skip
                        print("ceiling", {k: v for k, v in ceil[-1].items() if k != "broke"}, flush=True)
                    result["ceiling"] = {"runs": ceil, "median_highest_held_rps": median(c["highest_held_rps"] for c in ceil)}
        if 3 in only:
            result["knee"] = {}
            for capacity in [float(c) for c in args.knee_capacities.split(",")]:
                result["knee"][f"{capacity:g}"] = knee_series(capacity, args, folder)
    result["machine"]["load_end"] = loadavg()
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1, default=str)[:6000])
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"({time.monotonic() - started:.0f} s)")
    sys.exit(code)
