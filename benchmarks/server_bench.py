"""Reference server: tokens per second at saturation on loopback and p99 latency, with wrk, 1 and 2 workers.

Target (docs/performance.md, "Reference server"): every token route serves at least half
the request rate of a bare ``GET /ping`` on the same server, in the same run
(``ping rate / token rate <= 2``), with one worker and with two.

How it is measured
------------------
* The server is ``token-conformance serve --port 0 --workers N`` as a user runs
  it (uvicorn; h11 unless httptools is installed, which the machine line says),
  with a random demo app id / certificate pair.
* The client is wrk (https://github.com/wg/wrk; ``apt-get install wrk``), one
  thread, ``--connections`` keep-alive connections, ``--seconds`` per run, after
  a 1 s warm-up per route. A Lua ``done`` hook prints wrk's own counts and
  latency percentiles as JSON; any socket error or non-2xx answer fails the run.
* Routes: ``/ping``, ``/rtc/bench/publisher/uid/42/`` (a publisher token for a
  numeric uid), ``/rtm/bench-user/`` and ``POST /getToken`` (RTC, JSON body).
* Each round runs every route once, in a rotated order, so a change in machine
  load hits all routes alike; each ratio is taken within a round (token run
  next to its ping run) and the figure is the median over rounds.
* Besides rates, the server's CPU time per request (its processes' user + system
  time over the run, from /proc, divided by the requests wrk completed): a rate
  depends on how much CPU other jobs leave; CPU per request hardly does. At
  saturation with a core of its own per worker, a server serves
  ``workers / CPU per request`` requests a second: the "cpu-bound req/s" column,
  what the rates tend to on an idle machine, and the ping/route ratio of CPU per
  request is the rate ratio there.

Which cores, and why it is fair
-------------------------------
On a 2-core machine: with **one worker** the server runs on CPU 1 and wrk on
CPU 0 (``sched_setaffinity`` before exec; uvicorn's workers inherit it), so
neither steals the other's core, and wrk, written in C, needs a small part of
its core to keep a Python server busy (its CPU share is printed: well under
100 % means the server, not wrk, was the bottleneck). With **two workers** there
is no third core: the workers get both cores and wrk shares them, so the
absolute rate understates what two workers do on an idle 2-core machine by
about wrk's CPU share; the ping/token ratio stays fair, since wrk costs about
the same per request on every route. With more cores, wrk gets the first one
and the server the next N.

Two runs' rates are compared only when the server got about the same CPU in
both (within 20 %): other jobs can take part of the server's core, and with
two workers wrk's 32 connections, opened at once, are often all accepted by
one worker (asyncio accepts a whole burst per wake-up, and a keep-alive
connection stays with the worker that accepted it), so that run has one core
instead of two. The table says in how many rounds that held, gives the ratio
over all rounds too, and counts the runs in which one worker served every
connection.

    python benchmarks/server_bench.py [--rounds 5] [--seconds 5] [--connections 32] [--workers 1 2]
                                      [--json out.json] [--check]

``--check`` exits 1 when the target is missed. Traffic goes to 127.0.0.1 only;
every run is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import cli, loadavg, machine, median, spread, tool_version, version_of, write_json

RATIO_TARGET = 2.0
#: Two runs' rates compare only if the server got about the same CPU in both (see "Which cores").
SAME_CPU = 0.8
PING = "ping"
#: name -> (method, path, JSON body or None)
ROUTES: dict[str, tuple[str, str, str | None]] = {
    PING: ("GET", "/ping", None),
    "rtc": ("GET", "/rtc/bench/publisher/uid/42/", None),
    "rtm": ("GET", "/rtm/bench-user/", None),
    "post": ("POST", "/getToken", '{"tokenType":"rtc","channel":"bench","role":"publisher","uid":"42"}'),
}

# wrk's summary as one JSON line: counts, errors, latency percentiles in microseconds.
_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def lua_script(method: str, body: str | None, folder: Path, name: str) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = {json.dumps(body)}", 'wrk.headers["Content-Type"] = "application/json"']
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n" + _LUA_DONE, encoding="utf-8")
    return path


def cpu_layout(workers: int) -> tuple[set[int] | None, set[int] | None, str]:
    """(client CPUs, server CPUs, description): separate cores when there are enough."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned (no sched_setaffinity)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, f"not pinned (one CPU: {cpus})"
    client = {cpus[0]}
    if len(cpus) >= workers + 1:
        server = set(cpus[1 : workers + 1])
        return client, server, f"wrk on CPU {cpus[0]}, server on CPU {sorted(server)} (separate cores)"
    return client, set(cpus), f"wrk on CPU {cpus[0]}, server on CPUs {cpus} (shared: no core left for wrk alone)"


class Server:
    """``token-conformance serve --port 0 --workers N`` on given CPUs; its URL and its processes' CPU time."""

    def __init__(self, workers: int, cpus: set[int] | None) -> None:
        self.workers = workers
        env = {k: v for k, v in os.environ.items() if k not in ("APP_ID", "APP_CERTIFICATE")}  # a demo pair

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.proc = subprocess.Popen(
            [*cli(), "serve", "--port", "0", "--workers", str(workers)], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, preexec_fn=pin, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"serve did not print its URL: {line!r}")
        self.url = found.group(1)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import http.client

        host, port = self.url.removeprefix("http://").split(":")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            try:
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200 and len(self.processes()) >= (self.workers + 1 if self.workers > 1 else 1):
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /ping")

    def processes(self) -> list[psutil.Process]:
        parent = psutil.Process(self.proc.pid)
        return [parent, *parent.children(recursive=True)]

    def cpu_seconds(self) -> dict[int, float]:
        """User + system CPU seconds of each server process, by pid."""
        out = {}
        for p in self.processes():
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wrk(url: str, script: Path, seconds: float, connections: int, cpus: set[int] | None) -> dict[str, Any]:
    """One bounded wrk run; its JSON summary plus wrk's own CPU time."""

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30, preexec_fn=pin, check=False,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    data: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    data["wrk_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return data


def run_layout(workers: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    client_cpus, server_cpus, layout = cpu_layout(workers)
    scripts = {name: lua_script(m, b, folder, name) for name, (m, _p, b) in ROUTES.items()}
    server = Server(workers, server_cpus)
    runs: list[dict[str, Any]] = []
    try:
        for name, (_m, path, _b) in ROUTES.items():  # warm-up: connections, caches, first-call imports
            wrk(server.url + path, scripts[name], 1, args.connections, client_cpus)
        names = list(ROUTES)
        for n in range(args.rounds):
            for name in names[n % len(names):] + names[: n % len(names)]:
                path = ROUTES[name][1]
                load = loadavg()
                cpu0 = server.cpu_seconds()
                data = wrk(server.url + path, scripts[name], args.seconds, args.connections, client_cpus)
                cpu1 = server.cpu_seconds()
                per_process = sorted((cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1), reverse=True)
                server_cpu = sum(per_process)
                # With N workers, the share of the busiest one: 1/N is even, 1.0 is one worker doing all.
                busiest = per_process[0] / server_cpu if server_cpu > 0 and workers > 1 else None
                seconds = data["duration_us"] / 1e6
                errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
                if errors:
                    raise RuntimeError(f"{name}: {errors} errors or non-2xx answers in {data['requests']} requests")
                runs.append({
                    "round": n, "route": name, "loadavg_1m": load, "requests": data["requests"],
                    "rps": data["requests"] / seconds, "p50_ms": data["p50_us"] / 1000,
                    "p99_ms": data["p99_us"] / 1000, "max_ms": data["max_us"] / 1000,
                    "server_cpu_us_per_request": server_cpu / data["requests"] * 1e6,
                    "server_cpu_share": server_cpu / seconds, "wrk_cpu_share": data["wrk_cpu_s"] / seconds,
                    "busiest_worker_share": busiest,
                })  # fmt: skip
                r = runs[-1]
                print(f"workers={workers} round {n + 1}/{args.rounds} {name:5} {r['rps']:8.0f} req/s  "
                      f"p99 {r['p99_ms']:6.1f} ms  server cpu {r['server_cpu_us_per_request']:5.0f} us/req  "
                      f"load {load}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return {"workers": workers, "layout": layout, "runs": runs, "summary": summarise(runs, workers)}


def summarise(runs: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    by_route: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_round: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in runs:
        by_route[r["route"]].append(r)
        by_round[r["round"]][r["route"]] = r
    out: dict[str, Any] = {}
    for route, rs in by_route.items():
        entry: dict[str, Any] = {
            "rps": spread((r["rps"] for r in rs), 0),
            "p99_ms": spread((r["p99_ms"] for r in rs), 1),
            "p50_ms": median((r["p50_ms"] for r in rs), 2),
            "server_cpu_us_per_request": median((r["server_cpu_us_per_request"] for r in rs), 0),
            "cpu_bound_rps": median((workers * 1e6 / r["server_cpu_us_per_request"] for r in rs), 0),
            "server_cpu_share": median((r["server_cpu_share"] for r in rs), 2),
            "wrk_cpu_share": median((r["wrk_cpu_share"] for r in rs), 2),
            "busiest_worker_share": spread((r.get("busiest_worker_share") for r in rs), 2),
            "runs_one_worker_did_all": (
                sum(1 for r in rs if r["busiest_worker_share"] > 0.95)
                if all(r.get("busiest_worker_share") is not None for r in rs) else None
            ),
            "loadavg_1m": spread((r["loadavg_1m"] for r in rs), 2),
        }
        if route != PING:
            pairs = [(rr[PING], rr[route]) for rr in by_round.values() if PING in rr and route in rr]
            same = [(p, t) for p, t in pairs if _same_cpu(p, t)]
            entry["ping_over_route_rps_all_rounds"] = median((p["rps"] / t["rps"] for p, t in pairs), 2)
            entry["ping_over_route_rps"] = median((p["rps"] / t["rps"] for p, t in same), 2)
            entry["rounds_same_cpu"] = f"{len(same)}/{len(pairs)}"
            entry["route_over_ping_cpu"] = median(
                (t["server_cpu_us_per_request"] / p["server_cpu_us_per_request"] for p, t in pairs), 2
            )
            ratio = entry["ping_over_route_rps"]
            entry["within_2x_of_ping"] = ratio is not None and ratio <= RATIO_TARGET
        out[route] = entry
    return out


def _same_cpu(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the server got comparable CPU in both runs (within ``SAME_CPU``), so their rates compare."""
    low, high = sorted((a["server_cpu_share"], b["server_cpu_share"]))
    return high > 0 and low / high >= SAME_CPU


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(f"commit {m['commit']} | machine: {m['platform']} | {m['cpu']} | {m['cpus_online']} CPUs | {m['python']} | "
          f"uvicorn {m['uvicorn']} ({m['http']}) | starlette {m['starlette']} | {m['wrk']}")
    print(f"wrk: 1 thread, {result['connections']} connections, {result['seconds']} s per run, "
          f"{result['rounds']} rounds (routes interleaved, order rotated); medians (min-max)")
    for layout in result["layouts"]:
        print(f"\n{layout['workers']} worker(s): {layout['layout']}")
        head = (f"{'route':6} {'req/s':>20} {'p99 ms':>18} {'p50 ms':>7} {'cpu us/req':>10} {'cpu-bound':>9} "
                f"{'srv cpu':>7} {'wrk cpu':>7} {'ping/route':>10} {'rounds':>6} {'(all)':>6} {'cpu/ping':>8} "
                f"{'load 1m':>15}")
        print(head)
        print("-" * len(head))
        for route, e in layout["summary"].items():
            rps, p99, ld = e["rps"], e["p99_ms"], e["loadavg_1m"]
            ratio = ""
            if route != PING:
                shown = "-" if e["ping_over_route_rps"] is None else f"{e['ping_over_route_rps']:.2f}x"
                ratio = f"{shown} {'ok' if e['within_2x_of_ping'] else 'MISS'}"
            cpu_ratio = f"{e['route_over_ping_cpu']:.2f}" if route != PING else ""
            print(f"{route:6} {rps['median']:7.0f} ({rps['min']:.0f}-{rps['max']:.0f}) "
                  f"{p99['median']:6.1f} ({p99['min']:.1f}-{p99['max']:.1f}) {e['p50_ms']:7.2f} "
                  f"{e['server_cpu_us_per_request']:10.0f} {e['cpu_bound_rps']:9.0f} {e['server_cpu_share']:7.2f} {e['wrk_cpu_share']:7.2f} "
                  f"{ratio:>10} {e.get('rounds_same_cpu', ''):>6} "
                  f"{e.get('ping_over_route_rps_all_rounds') or '':>6} {cpu_ratio:>8} "
                  f"{ld['median']:5.2f} ({ld['min']:.1f}-{ld['max']:.1f})")
    for layout in result["layouts"]:
        if layout["workers"] > 1:
            alone = {route: e["runs_one_worker_did_all"] for route, e in layout["summary"].items()}
            print(f"\n{layout['workers']} workers: runs in which one worker served every connection: {alone} "
                  f"of {result['rounds']} each (wrk opens its connections at once; a worker accepts a burst)")
    print(f"\nping/route: median over the rounds in which the server got about the same CPU for both runs "
          f"(within {SAME_CPU:.0%}; 'rounds' says how many), '(all)' over every round; srv cpu in cores")
    print(f"target: ping rate / token rate <= {RATIO_TARGET:g} on every token route, both layouts "
          f"({'met' if result['target_met'] else 'MISSED'})")


def _target_met(layouts: list[dict[str, Any]]) -> bool:
    return all(e.get("within_2x_of_ping", True) for lay in layouts for e in lay["summary"].values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds, at least 5 (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections (default 32)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default: 1 2)")
    parser.add_argument("--json", metavar="PATH", help="also write every run and the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    parser.add_argument("--reanalyse", metavar="PATH", help="recompute and print the figures of a --json file")
    args = parser.parse_args(argv)
    if args.reanalyse:
        result = json.loads(Path(args.reanalyse).read_text(encoding="utf-8"))
        for lay in result["layouts"]:
            lay["summary"] = summarise(lay["runs"], lay["workers"])
        result["target_met"] = _target_met(result["layouts"])
        print_report(result)
        return 1 if args.check and not result["target_met"] else 0
    args.rounds = max(5, args.rounds)
    if shutil.which("wrk") is None:
        print("server_bench needs wrk: apt-get install wrk (Debian/Ubuntu) or brew install wrk", file=sys.stderr)
        return 2
    try:
        import httptools  # noqa: F401

        http = f"httptools {version_of('httptools')}"
    except ImportError:
        http = f"h11 {version_of('h11')}"
    info = machine(uvicorn=version_of("uvicorn"), starlette=version_of("starlette"), http=http,
                   wrk=tool_version(["wrk", "--version"]) or "wrk")
    with tempfile.TemporaryDirectory(prefix="server-bench-") as tmp:
        layouts = [run_layout(w, args, Path(tmp)) for w in args.workers]
    met = _target_met(layouts)
    result = {"machine": info, "rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
              "layouts": layouts, "target_met": met}
    print_report(result)
    write_json(args.json, result)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
