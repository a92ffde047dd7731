"""Time to verdict: ``token-conformance check`` against the embedded reference server, start to exit code.

Targets (docs/performance.md, "Time to verdict"), medians over rounds on the machine named:

* the default suite without the real-time renewal case (EXPIRY-6) reaches its
  verdict in 5 s or less, the embedded server's start included;
* the whole default suite, renewal included, in 15 s or less;
* cases that wait (those with a ``prefetch``) wait in parallel: the whole run
  takes less than the run without them plus each of them run alone.

What is timed: the ``token-conformance`` console script as a user runs it, from
``fork`` to exit code, with a fresh report directory each time. Each run's
``conformance.json`` says where the time went: ``summary.extra.elapsed_s`` is
the pytest session (first case to last), ``cases[].duration_s`` each case
(setup + call + teardown); the wall time minus the session is start-up and
shut-down (interpreter, imports, embedded server, pytest start and collection,
reports). The CPU time of the run (user + system, all threads) is printed too:
on a machine shared with other jobs it moves far less than the wall time, and
a run that mostly waits shows it. A case that waits runs its ``prefetch`` in a background thread from
the start of the session, and its own ``duration_s`` is only what was left to
wait when its turn came.

Variants run interleaved, in a rotated order each round, so a change in machine
load hits all of them alike:

* ``cli``: ``token-conformance --version`` (interpreter and CLI import only);
* ``full``: ``token-conformance check``, the default suite;
* ``no-renewal``: every case but EXPIRY-6 (the 5 s target);
* ``no-waits``: every case but those that wait;
* ``only:<id>``: each waiting case alone (what it costs when nothing overlaps it);
* with ``--try-pytest-args``, ``full+args`` and ``no-renewal+args``: the same
  through the Python API with extra pytest arguments, to measure a start-up
  change against the shipped command in the same rounds;
* ``imports``: one fresh interpreter importing what a check imports, group by
  group, and starting the reference server (the start-up breakdown);
* ``delay-<ms>ms``: ``check <URL>`` against one reference server behind a
  :mod:`delay_proxy` that holds back every answer by that delay (``--delays``),
  and ``delay-<ms>ms-serial`` the same with ``TOKEN_CONCURRENCY=1``
  (``--serial-delays``). Each report's ``requests_sent``, ``waiting_s`` and
  ``phases_s`` (EXPIRY-6's span: the renewal case's own wait) are kept.

``--variants full,delay-`` runs only the variants whose names start so.

Bytecode matters. pytest rewrites the asserts of every module of every
installed distribution that declares a pytest plugin (schemathesis' ~300
modules, hypothesis', ...) when such a module is imported during the run, and
caches the result next to the ordinary bytecode, but only where it may write:
with ``PYTHONDONTWRITEBYTECODE=1`` (common in containers) or a read-only
install, every run pays the rewrite again. A cache that exists is read either
way. The machine line gives the variable and how many schemathesis modules had
a rewrite cache before and after: "0 before" is the state of a fresh or
read-only install, a few hundred is a writable one after its first run. The
first, unmeasured run writes the caches when it may.

    python benchmarks/verdict_bench.py [--rounds 5] [--json out.json] [--check] [--try-pytest-args "..."]

``--check`` exits 1 when a target is missed. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pkgutil
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import cli, loadavg, machine, median, spread, tool_version, version_of, write_json
from delay_proxy import DelayProxy

from conformance.contract import REQUIREMENTS

RENEWAL = "EXPIRY-6"
TARGET_NO_RENEWAL_S = 5.0
TARGET_FULL_S = 15.0
#: Verdicts at the speed of the network (docs/performance.md, 1a): the embedded full check at a median of 3 s;
#: behind 100 ms, within 2 s of the renewal case's own wait; behind 300 ms, 12 s.
TARGET_EMBEDDED_S = 3.0
TARGET_BEYOND_RENEWAL_100_S = 2.0
TARGET_DELAY_300_S = 12.0
RUN_TIMEOUT_S = 300

#: What a child imports, group by group, in the order a check imports them (timed in one fresh interpreter).
_IMPORTS = (
    "import time, json; marks = {}; t = time.perf_counter()\n"
    "for name, mods in [('cli', ['conformance.cli']), ('pytest and the plugin', ['pytest', 'conformance.plugin']),\n"
    "                   ('reference server', ['conformance.reference.server']),\n"
    "                   ('suite modules', ['conformance.suite.test_routes', 'conformance.suite.test_token',\n"
    "                     'conformance.suite.test_input', 'conformance.suite.test_expiry', 'conformance.suite.test_security',\n"
    "                     'conformance.suite.test_headers', 'conformance.suite.test_property']),\n"
    "                   ('schemathesis and hypothesis (PROP-1)', ['schemathesis', 'hypothesis'])]:\n"
    "    for m in mods: __import__(m)\n"
    "    now = time.perf_counter(); marks[name] = round(now - t, 4); t = now\n"
    "from conformance.reference.server import ReferenceServer\n"
    "s = ReferenceServer(); t = time.perf_counter(); s.start(); marks['reference server start'] = "
    "round(time.perf_counter() - t, 4); s.stop()\n"
    "print(json.dumps(marks))\n"
)


def rewrite_cache_files() -> int | None:
    """How many of schemathesis' modules have a pytest assertion-rewrite cache (None: not installed).

    pytest rewrites the asserts of every module of a distribution that has a
    pytest plugin entry point, schemathesis' ~300 included, and caches the result
    next to the ordinary bytecode only where it may write: without that cache
    each run pays the rewrite again (seconds, on the case that imports them).
    """
    spec = importlib.util.find_spec("schemathesis")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return sum(1 for _ in root.rglob("*-pytest-*.pyc"))


def waiting_cases() -> list[str]:
    """Ids of the bundled cases that have a ``prefetch`` (they wait on the clock or on generation)."""
    from conformance import suite
    from conformance.cases import requirement_of

    found = []
    for info in pkgutil.iter_modules(suite.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"conformance.suite.{info.name}")
        for obj in vars(module).values():
            req = requirement_of(obj)
            if req is not None and getattr(obj, "__prefetch__", None) is not None:
                found.append(req.id)
    order = {r.id: n for n, r in enumerate(REQUIREMENTS)}
    return sorted(found, key=lambda i: order.get(i, 0))


@dataclass(frozen=True)
class Variant:
    """One way of running: ``cli`` (``--version`` only), ``check`` (the console script) or ``api``
    (``conformance.api.check`` with extra pytest arguments)."""

    kind: str
    cases: str | None = None
    pytest_args: tuple[str, ...] = ()
    #: ``delay``: seconds added to every answer by a proxy in front of a reference server (kind ``remote``).
    delay: float | None = None
    concurrency: int | None = None


def variants(waits: list[str], extra_pytest_args: list[str], delays_ms: Sequence[int] = (),
             serial_delays_ms: Sequence[int] = ()) -> dict[str, Variant]:
    ids = [r.id for r in REQUIREMENTS]
    no_renewal = ",".join(i for i in ids if i != RENEWAL)
    out = {
        "cli": Variant("cli"),
        "full": Variant("check"),
        "no-renewal": Variant("check", no_renewal),
        "no-waits": Variant("check", ",".join(i for i in ids if i not in waits)),
    }
    for case_id in waits:
        out[f"only:{case_id}"] = Variant("check", case_id)
    out["imports"] = Variant("imports")
    for ms in delays_ms:
        out[f"delay-{ms}ms"] = Variant("remote", delay=ms / 1000)
    for ms in serial_delays_ms:
        out[f"delay-{ms}ms-serial"] = Variant("remote", delay=ms / 1000, concurrency=1)
    if extra_pytest_args:
        out["full+args"] = Variant("api", None, tuple(extra_pytest_args))
        out["no-renewal+args"] = Variant("api", no_renewal, tuple(extra_pytest_args))
    return out


def command(v: Variant, report_dir: str, url: str | None = None, app_id: str | None = None) -> list[str]:
    if v.kind == "cli":
        return [*cli(), "--version"]
    if v.kind == "imports":
        return [sys.executable, "-c", _IMPORTS]
    if v.kind == "remote":
        assert url and app_id
        return [*cli(), "check", url, "--app-id", app_id, "--report-dir", report_dir]
    if v.kind == "api":
        code = (
            "import sys; from conformance.api import CheckOptions, check; "
            "sys.exit(check(CheckOptions(report_dir=sys.argv[1], cases=sys.argv[2] or None, "
            "extra_pytest_args=sys.argv[3:])).exit_code)"
        )
        return [sys.executable, "-c", code, report_dir, v.cases or "", *v.pytest_args]
    return [*cli(), "check", "--report-dir", report_dir, *(["--case", v.cases] if v.cases else [])]


class Remote:
    """The reference server on loopback, judged through a :class:`DelayProxy` per delay (started once)."""

    def __init__(self) -> None:
        from conformance.reference.server import ReferenceServer

        self.server = ReferenceServer().start()
        host, port = self.server.url.removeprefix("http://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.proxies: dict[float, DelayProxy] = {}

    def url(self, delay: float) -> str:
        if delay not in self.proxies:
            self.proxies[delay] = DelayProxy(self.upstream, delay).start()
        return self.proxies[delay].url

    def env(self, concurrency: int | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEN_")}
        env["TOKEN_SERVER_APP_CERTIFICATE"] = self.server.settings.certificate
        if concurrency is not None:
            env["TOKEN_CONCURRENCY"] = str(concurrency)
        return env

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
        self.server.stop()


def run_once(name: str, variant: Variant, remote: Remote | None = None) -> dict[str, Any]:
    """One timed run; the report it wrote, boiled down."""
    report_dir = tempfile.mkdtemp(prefix="verdict-bench-")
    try:
        load = loadavg()
        if variant.kind == "remote":
            assert remote is not None and variant.delay is not None
            argv = command(variant, report_dir, remote.url(variant.delay), remote.server.settings.app_id)
            env: dict[str, str] | None = remote.env(variant.concurrency)
        else:
            argv, env = command(variant, report_dir), None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        forked_at = time.time()
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE if variant.kind == "imports" else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=RUN_TIMEOUT_S, check=False, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        record: dict[str, Any] = {"variant": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                  "exit_code": proc.returncode, "loadavg_1m": load}
        report = Path(report_dir) / "conformance.json"
        if variant.kind == "imports":
            record["imports"] = json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])
        elif variant.kind != "cli":
            if not report.is_file():
                tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
                raise RuntimeError(f"{name}: no report (exit {proc.returncode}): {' | '.join(tail)}")
            doc = json.loads(report.read_text(encoding="utf-8"))
            record["verdict"] = doc["summary"]["verdict"]
            record["not_passed"] = {c["id"]: c["outcome"] for c in doc["cases"] if c["outcome"] in ("failed", "error")}
            record["session_s"] = doc["summary"]["extra"]["elapsed_s"]
            record["cases"] = {c["id"]: c["duration_s"] for c in doc["cases"] if c["outcome"] != "not run"}
            record["sections"] = {c["id"]: c["section"] for c in doc["cases"]}
            extra = doc["summary"]["extra"]
            record["requests_sent"] = extra.get("requests_sent")
            record["waiting_s"] = extra.get("waiting_s")
            phases = extra.get("phases_s") or {}
            if phases:
                record["phases"] = {
                    # interpreter, imports, embedded server start, pytest start-up: fork to the plugin's configure
                    "before_session": round(phases["started_at"] - forked_at, 3),
                    **{k: phases[k] for k in ("start_and_collection", "preflight", "cases", "after_cases") if k in phases},
                    "background": phases.get("background", {}),
                    "after_session": round(wall - (phases["started_at"] - forked_at) - doc["summary"]["extra"]["elapsed_s"], 3),
                }
        return record
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)


def analyse(runs: list[dict[str, Any]], waits: list[str], rounds: int) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[r["variant"]].append(r)
    table = {}
    for name, rs in by.items():
        table[name] = {
            "wall_s": spread(r["wall_s"] for r in rs),
            "cpu_s": median(r["cpu_s"] for r in rs),
            "session_s": spread(r.get("session_s") for r in rs),
            "outside_session_s": median(r["wall_s"] - r["session_s"] for r in rs if "session_s" in r),
            "loadavg_1m": spread((r["loadavg_1m"] for r in rs), 2),
            "exit_codes": sorted({r["exit_code"] for r in rs}),
            "runs": len(rs),
        }
    full = by["full"]
    sections: dict[str, str] = full[0]["sections"] if full else {}
    per_case = {cid: median(r["cases"].get(cid) for r in full) for cid in (full[0]["cases"] if full else {})}
    per_section: dict[str, float] = defaultdict(float)
    for cid, seconds in per_case.items():
        key = f"{sections[cid]} (waiting: {cid})" if cid in waits else sections[cid]
        per_section[key] += seconds or 0.0
    # Waiting in parallel, judged per round: the full session against the session without the
    # waiting cases plus each waiting case's session alone (what running them in turn would cost).
    ratios, serial = [], []
    for n in range(rounds):
        try:
            whole = by["full"][n]["session_s"]
            parts = by["no-waits"][n]["session_s"] + sum(by[f"only:{w}"][n]["session_s"] for w in waits)
        except (IndexError, KeyError):
            continue
        serial.append(parts)
        ratios.append(whole / parts)
    no_renewal = table.get("no-renewal", {}).get("wall_s", {}).get("median")
    whole_wall = table.get("full", {}).get("wall_s", {}).get("median")
    ratio = median(ratios)
    met: dict[str, bool] = {}
    if "no-renewal" in table:
        met["no_renewal_within_5s"] = no_renewal is not None and no_renewal <= TARGET_NO_RENEWAL_S
    if "full" in table:
        met["full_within_15s"] = whole_wall is not None and whole_wall <= TARGET_FULL_S
        met["embedded_full_within_3s"] = whole_wall is not None and whole_wall <= TARGET_EMBEDDED_S
    if ratios:
        met["waits_overlap"] = ratio is not None and ratio < 1.0
    delays = _delays(by, table)
    if "delay-100ms" in delays:
        beyond = delays["delay-100ms"]["wall_beyond_renewal_s"]
        met["delay_100ms_within_2s_of_renewal"] = beyond is not None and beyond <= TARGET_BEYOND_RENEWAL_100_S
    if "delay-300ms" in delays:
        w300 = delays["delay-300ms"]["wall_s"]
        met["delay_300ms_within_12s"] = w300 is not None and w300 <= TARGET_DELAY_300_S
    for tried, shipped in (("full+args", "full"), ("no-renewal+args", "no-renewal")):
        if tried in by:
            table[tried]["wall_over_" + shipped] = median(
                a["wall_s"] / b["wall_s"] for a, b in zip(by[tried], by[shipped], strict=False)
            )
    return {
        "variants": table,
        "delays": delays,
        "full_phases_s": _phase_medians(by.get("full", [])),
        "imports_s": {k: median(r["imports"][k] for r in by["imports"]) for k in by["imports"][0]["imports"]}
        if by.get("imports") else {},
        "full_per_case_s": dict(sorted(per_case.items(), key=lambda kv: -(kv[1] or 0))),
        "full_per_section_s": {k: round(v, 3) for k, v in sorted(per_section.items(), key=lambda kv: -kv[1])},
        "waits": {"cases": waits, "serial_estimate_session_s": spread(serial),
                  "full_session_over_serial": ratio},
        "targets_met": met,
    }


def _delays(by: dict[str, list[dict[str, Any]]], table: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per delay variant: medians of wall, session, requests, waiting, and the renewal case's own span."""
    out = {}
    for name, rs in by.items():
        if not name.startswith("delay-"):
            continue
        renewal = [r.get("phases", {}).get("background", {}).get(RENEWAL) for r in rs]
        out[name] = {
            "wall_s": table[name]["wall_s"]["median"],
            "session_s": table[name]["session_s"]["median"],
            "requests_sent": median(r.get("requests_sent") for r in rs),
            "waiting_s": median(r.get("waiting_s") for r in rs),
            "renewal_span_s": median(renewal),
            # Per round: what the verdict took beyond the renewal case's own real-time wait.
            "wall_beyond_renewal_s": median(r["wall_s"] - x for r, x in zip(rs, renewal, strict=True) if x),
            "session_beyond_renewal_s": median(r["session_s"] - x for r, x in zip(rs, renewal, strict=True) if x),
        }
    return out


def _phase_medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if not runs or "phases" not in runs[0]:
        return {}
    keys = [k for k in runs[0]["phases"] if k != "background"]
    out: dict[str, Any] = {k: median(r["phases"].get(k) for r in runs) for k in keys}
    jobs = {j for r in runs for j in r["phases"].get("background", {})}
    out["background"] = {j: median(r["phases"]["background"].get(j) for r in runs) for j in sorted(jobs)}
    return out


def print_report(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(f"commit {m['commit']} | machine: {m['platform']} | {m['cpu']} | {m['cpus_online']} CPUs | {m['python']} | "
          f"pytest {m['pytest']} | PYTHONDONTWRITEBYTECODE={m['PYTHONDONTWRITEBYTECODE'] or '(unset)'} | "
          f"schemathesis modules with an assert-rewrite cache: {m['rewrite_cache_before']} before, "
          f"{m['rewrite_cache_after']} after")
    a = result["analysis"]
    print(f"rounds: {result['rounds']} (variants interleaved, order rotated each round); medians (min-max)\n")
    head = (f"{'variant':18} {'wall s':>20} {'cpu s':>6} {'pytest session s':>20} {'outside s':>9} {'load 1m':>15} "
            f"{'exit':>6}")
    print(head)
    print("-" * len(head))
    for name, v in a["variants"].items():
        w, s, ld = v["wall_s"], v["session_s"], v["loadavg_1m"]
        sess = f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})" if s["median"] is not None else "-"
        outside = f"{v['outside_session_s']:.2f}" if v["outside_session_s"] is not None else "-"
        print(f"{name:18} {w['median']:7.2f} ({w['min']:.2f}-{w['max']:.2f}) {v['cpu_s']:6.2f} {sess:>20} {outside:>9} "
              f"{ld['median']:5.2f} ({ld['min']:.1f}-{ld['max']:.1f}) {','.join(map(str, v['exit_codes'])):>6}")
        for key in [k for k in v if k.startswith("wall_over_")]:
            print(f"{'':18} wall / {key.removeprefix('wall_over_')} (same rounds): {v[key]:.2f}")
    if a["imports_s"]:
        print("\nimports, one fresh interpreter, cumulative order (median s): "
              + "; ".join(f"{k} {v:.3f}" for k, v in a["imports_s"].items()))
    if a["full_phases_s"]:
        ph = a["full_phases_s"]
        print("full run phases (median s): " + "; ".join(f"{k} {v:.3f}" for k, v in ph.items() if k != "background"))
        print("  background jobs from the session start (span): "
              + "; ".join(f"{k} {v:.3f}" for k, v in ph["background"].items()))
    if a["delays"]:
        print("\nbehind a delaying proxy (reference server, medians): wall, session, requests, waiting, "
              f"{RENEWAL} span, wall and session beyond it")
        for name, d in a["delays"].items():
            print(f"  {name:22} wall {d['wall_s']:6.2f}  session {d['session_s']:6.2f}  requests {d['requests_sent']:.0f}  "
                  f"waiting {d['waiting_s']:6.2f}  renewal {d['renewal_span_s'] or 0:5.2f}  "
                  f"beyond: wall {d['wall_beyond_renewal_s'] or 0:5.2f} session {d['session_beyond_renewal_s'] or 0:5.2f}")
    print("\nfull run, per section (sum of the median case durations; a waiting case shows only what was left to wait):")
    for section, seconds in a["full_per_section_s"].items():
        print(f"  {section:32} {seconds:6.2f} s")
    slow = [(cid, s) for cid, s in a["full_per_case_s"].items() if s is not None][:8]
    print("slowest cases: " + ", ".join(f"{cid} {s:.2f} s" for cid, s in slow))
    w = a["waits"]
    if w["full_session_over_serial"] is not None:
        print(f"\nwaiting cases {', '.join(w['cases'])}: full session / (no-waits session + each alone) = "
              f"{w['full_session_over_serial']} (serial estimate {w['serial_estimate_session_s']['median']} s)")
    met = a["targets_met"]
    print("targets: " + "; ".join(f"{k} {'ok' if v else 'MISS'}" for k, v in met.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant, at least 5 (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write every run and the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--try-pytest-args", metavar="ARGS", default="",
                        help="also time the default suite through the API with these extra pytest arguments")
    parser.add_argument("--delays", default="0,50,100,300", metavar="MS,...",
                        help="answer delays (ms) of a proxy in front of a reference server to time the check against "
                             "(default 0,50,100,300; '' for none)")
    parser.add_argument("--serial-delays", default="100", metavar="MS,...",
                        help="of those, the delays to also time with --token-concurrency 1 (default 100)")
    parser.add_argument("--variants", metavar="NAME,...", default="",
                        help="run only the variants whose names start with one of these (e.g. full,delay-)")
    args = parser.parse_args(argv)
    rounds = max(5, args.rounds)
    waits = waiting_cases()
    plan = variants(waits, shlex.split(args.try_pytest_args), _ms(args.delays), _ms(args.serial_delays))
    if args.variants:
        wanted = [w.strip() for w in args.variants.split(",") if w.strip()]
        plan = {k: v for k, v in plan.items() if any(k.startswith(w) for w in wanted)}
    names = list(plan)
    remote = Remote() if any(v.kind == "remote" for v in plan.values()) else None
    info = machine(
        pytest=version_of("pytest"), schemathesis=version_of("schemathesis"), uvicorn=version_of("uvicorn"),
        PYTHONDONTWRITEBYTECODE=os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        hyperfine=tool_version(["hyperfine", "--version"]), rewrite_cache_before=rewrite_cache_files(),
    )
    run_once("warm-up", Variant("check"))  # first run after an install compiles bytecode: not a user's steady state
    runs = []
    try:
        for n in range(rounds):
            order = names[n % len(names):] + names[: n % len(names)]
            for name in order:
                runs.append(run_once(name, plan[name], remote))
                print(f"round {n + 1}/{rounds} {name:18} {runs[-1]['wall_s']:6.2f} s  load {runs[-1]['loadavg_1m']}",
                      file=sys.stderr, flush=True)
    finally:
        if remote is not None:
            remote.stop()
    runs.sort(key=lambda r: names.index(r["variant"]))  # per variant, in round order
    info["rewrite_cache_after"] = rewrite_cache_files()
    result = {"machine": info, "rounds": rounds, "analysis": analyse(runs, waits, rounds), "runs": runs}
    print_report(result)
    write_json(args.json, result)
    return 1 if args.check and not all(result["analysis"]["targets_met"].values()) else 0


def _ms(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


if __name__ == "__main__":
    sys.exit(main())
