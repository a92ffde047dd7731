"""Time to verdict: ``token-conformance check`` against the embedded reference server, start to exit code.

Targets (issue "performance", item 1), medians over rounds on the machine named:

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
  change against the shipped command in the same rounds.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import cli, loadavg, machine, median, spread, tool_version, version_of, write_json

from conformance.contract import REQUIREMENTS

RENEWAL = "EXPIRY-6"
TARGET_NO_RENEWAL_S = 5.0
TARGET_FULL_S = 15.0
RUN_TIMEOUT_S = 180


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


def variants(waits: list[str], extra_pytest_args: list[str]) -> dict[str, Variant]:
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
    if extra_pytest_args:
        out["full+args"] = Variant("api", None, tuple(extra_pytest_args))
        out["no-renewal+args"] = Variant("api", no_renewal, tuple(extra_pytest_args))
    return out


def command(v: Variant, report_dir: str) -> list[str]:
    if v.kind == "cli":
        return [*cli(), "--version"]
    if v.kind == "api":
        code = (
            "import sys; from conformance.api import CheckOptions, check; "
            "sys.exit(check(CheckOptions(report_dir=sys.argv[1], cases=sys.argv[2] or None, "
            "extra_pytest_args=sys.argv[3:])).exit_code)"
        )
        return [sys.executable, "-c", code, report_dir, v.cases or "", *v.pytest_args]
    return [*cli(), "check", "--report-dir", report_dir, *(["--case", v.cases] if v.cases else [])]


def run_once(name: str, variant: Variant) -> dict[str, Any]:
    """One timed run; the report it wrote, boiled down."""
    report_dir = tempfile.mkdtemp(prefix="verdict-bench-")
    try:
        load = loadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(command(variant, report_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=RUN_TIMEOUT_S, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        record: dict[str, Any] = {"variant": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                  "exit_code": proc.returncode, "loadavg_1m": load}
        report = Path(report_dir) / "conformance.json"
        if variant.kind != "cli":
            if not report.is_file():
                tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
                raise RuntimeError(f"{name}: no report (exit {proc.returncode}): {' | '.join(tail)}")
            doc = json.loads(report.read_text(encoding="utf-8"))
            record["verdict"] = doc["summary"]["verdict"]
            record["session_s"] = doc["summary"]["extra"]["elapsed_s"]
            record["cases"] = {c["id"]: c["duration_s"] for c in doc["cases"] if c["outcome"] != "not run"}
            record["sections"] = {c["id"]: c["section"] for c in doc["cases"]}
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
    met = {
        "no_renewal_within_5s": no_renewal is not None and no_renewal <= TARGET_NO_RENEWAL_S,
        "full_within_15s": whole_wall is not None and whole_wall <= TARGET_FULL_S,
        "waits_overlap": ratio is not None and ratio < 1.0,
    }
    for tried, shipped in (("full+args", "full"), ("no-renewal+args", "no-renewal")):
        if tried in by:
            table[tried]["wall_over_" + shipped] = median(
                a["wall_s"] / b["wall_s"] for a, b in zip(by[tried], by[shipped], strict=False)
            )
    return {
        "variants": table,
        "full_per_case_s": dict(sorted(per_case.items(), key=lambda kv: -(kv[1] or 0))),
        "full_per_section_s": {k: round(v, 3) for k, v in sorted(per_section.items(), key=lambda kv: -kv[1])},
        "waits": {"cases": waits, "serial_estimate_session_s": spread(serial),
                  "full_session_over_serial": ratio},
        "targets_met": met,
    }


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
    print("\nfull run, per section (sum of the median case durations; a waiting case shows only what was left to wait):")
    for section, seconds in a["full_per_section_s"].items():
        print(f"  {section:32} {seconds:6.2f} s")
    slow = [(cid, s) for cid, s in a["full_per_case_s"].items() if s is not None][:8]
    print("slowest cases: " + ", ".join(f"{cid} {s:.2f} s" for cid, s in slow))
    w = a["waits"]
    print(f"\nwaiting cases {', '.join(w['cases'])}: full session / (no-waits session + each alone) = "
          f"{w['full_session_over_serial']} (serial estimate {w['serial_estimate_session_s']['median']} s)")
    met = a["targets_met"]
    print(f"targets: without {RENEWAL} <= {TARGET_NO_RENEWAL_S:g} s {'ok' if met['no_renewal_within_5s'] else 'MISS'}; "
          f"full <= {TARGET_FULL_S:g} s {'ok' if met['full_within_15s'] else 'MISS'}; "
          f"waits overlap {'ok' if met['waits_overlap'] else 'MISS'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every variant, at least 5 (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write every run and the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--try-pytest-args", metavar="ARGS", default="",
                        help="also time the default suite through the API with these extra pytest arguments")
    args = parser.parse_args(argv)
    rounds = max(5, args.rounds)
    waits = waiting_cases()
    plan = variants(waits, shlex.split(args.try_pytest_args))
    names = list(plan)
    info = machine(
        pytest=version_of("pytest"), schemathesis=version_of("schemathesis"), uvicorn=version_of("uvicorn"),
        PYTHONDONTWRITEBYTECODE=os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        hyperfine=tool_version(["hyperfine", "--version"]), rewrite_cache_before=rewrite_cache_files(),
    )
    run_once("warm-up", plan["full"])  # first run after an install compiles bytecode: not a user's steady state
    runs = []
    for n in range(rounds):
        order = names[n % len(names):] + names[: n % len(names)]
        for name in order:
            runs.append(run_once(name, plan[name]))
            print(f"round {n + 1}/{rounds} {name:18} {runs[-1]['wall_s']:6.2f} s  load {runs[-1]['loadavg_1m']}",
                  file=sys.stderr, flush=True)
    runs.sort(key=lambda r: names.index(r["variant"]))  # per variant, in round order
    info["rewrite_cache_after"] = rewrite_cache_files()
    result = {"machine": info, "rounds": rounds, "analysis": analyse(runs, waits, rounds), "runs": runs}
    print_report(result)
    write_json(args.json, result)
    return 1 if args.check and not all(result["analysis"]["targets_met"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
