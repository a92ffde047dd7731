"""Detection score: run the suite against every faulty server of the catalogue and write docs/detection.md.

    python -m tools.detection_score [--out docs/detection.md] [--jobs 2] [--only KEY ...] [--no-load] [--no-shapes]

The faults of the servers that take fewer inputs (tests/faulty/small.py) get a table of their own, like the
faults behind other route shapes (``--no-shapes`` leaves both out).

Each fault (tests/faulty/servers.py) gets a full strict run with the app id and
certificate known; a fault is *detected* when its own requirement's case fails.
The table also says whether the run matched the catalogue exactly (the expected
cases failed, nothing else did, skips only where a prerequisite failed). The
load-only faults (tests/load/faulty.py: slow, flaky 5xx, wrong expiry, dies
mid-run) get a short ``token-conformance load`` run each; exit 1 is detection,
and the unmodified reference server under the same load must exit 0.

Exit code: 0 when every fault is detected as catalogued, 1 otherwise (the
Markdown says which and why), 2 on bad options.
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.contract import REQUIREMENTS, Level
from conformance.reference.app import create_app
from tests.faulty.runner import Run, child_environment, judge, run_check, serving
from tests.faulty.servers import BY_KEY, FAULTS, NEEDS_CREDENTIALS, NEEDS_WEB_ORIGIN, Fault
from tests.faulty.shapes import NOT_IN_SHAPE, SHAPE_FAULTS, SHAPES, judge_shape
from tests.faulty.small import SMALL_FAULTS, SmallFault
from tests.load import faulty

ROOT = Path(__file__).resolve().parents[1]

LEVELS = [level.value for level in Level]
JUDGED_BY = re.compile(r"[A-Z]+-[0-9]+")
#: A short, bounded load run: enough requests for p95, renewals and a failure ratio, a few seconds long.
LOAD_ARGS = ("--run-time", "8s", "--users", "4", "--spawn-rate", "4", "--expiry", "6", "--renew-margin", "3",
             "--request-timeout", "2", "--stop-timeout", "2", "--progress-interval", "0")


@dataclass
class Result:
    fault: Fault
    run: Run

    @property
    def detected(self) -> bool:
        return self.fault.requirement in self.run.failed

    @property
    def unexpected(self) -> set[str]:
        return self.run.failed - self.fault.expected

    @property
    def undetected(self) -> AbstractSet[str]:
        return self.fault.expected - self.run.failed

    @property
    def unexplained_skips(self) -> set[str]:
        # Without credentials configured the authentication cases skip by design ("nothing to enforce"); without a
        # web origin declared, HEADER-5 does.
        by_design = (frozenset() if self.fault.credentials else NEEDS_CREDENTIALS) | (
            frozenset() if self.fault.web_origins else NEEDS_WEB_ORIGIN)
        return self.run.skipped - self.fault.skips - by_design

    @property
    def misattributed_skips(self) -> dict[str, str]:
        """Skips whose "judged by" names no case that failed: the prerequisite they blame did pass."""
        out = {}
        for case in self.run.skipped:
            named = set(JUDGED_BY.findall(self.run.message(case).rsplit("judged by", 1)[-1]))
            if "judged by" in self.run.message(case) and not named & self.run.failed:
                out[case] = ", ".join(sorted(named))
        return out

    @property
    def as_catalogued(self) -> bool:
        return (self.run.document is not None and not self.unexpected and not self.undetected
                and not self.unexplained_skips and not self.run.having("error", "not run"))

    def miss_reason(self) -> str:
        if self.fault.known_miss:
            return self.fault.known_miss
        if self.run.document is None:
            return f"no report (exit {self.run.exit_code}): {_last_line(self.run.output)}"
        outcome = self.run.outcomes.get(self.fault.requirement, "absent")
        message = _first_line(self.run.message(self.fault.requirement))
        return f"{self.fault.requirement} {outcome}" + (f": {message}" if message else "")


@dataclass
class LoadResult:
    key: str
    fault: str
    objective: str
    exit_code: int
    verdict: str
    expected_exit: int

    @property
    def detected(self) -> bool:
        return self.exit_code == 1

    @property
    def as_expected(self) -> bool:
        return self.exit_code == self.expected_exit


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:200] if lines else ""


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


# --- load-only faults ----------------------------------------------------------


def load_faults() -> list[tuple[str, str, str, Callable[[Any], Any], int]]:
    """(key, fault, objective, factory(settings) -> app, expected exit) for tests/load/faulty.py's faults."""
    def wrapped(wrap: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda s: wrap(create_app(s))

    return [
        ("reference (control)", "The reference server, unmodified.", "all SLOs hold", wrapped(lambda app: app), 0),
        ("slow", "Every token request is answered 1 s late.", "p95 latency <= 500 ms",
         wrapped(lambda app: faulty.slow(app, 1.0)), 1),
        ("flaky-5xx", "Every 4th token request fails with 503.", "failure ratio <= 1 %",
         wrapped(lambda app: faulty.flaky(app, 4)), 1),
        ("wrong-expiry", "Every RTC token lapses 60 s later than asked.", "no invalid token",
         lambda s: create_app(s, faulty.WrongExpiryIssuer(s.app_id, s.certificate, extra=60)), 1),
        ("dies-mid-run", "After 6 token requests the server stops answering (requests hang).",
         "failure ratio <= 1 %, no dropped session", wrapped(lambda app: faulty.dying(app, 6, hang=30.0)), 1),
    ]


def run_load(factory: Callable[[Any], Any]) -> tuple[int, str]:
    with serving(factory) as (url, settings), tempfile.TemporaryDirectory(prefix="detect-load-") as tmp:
        # A server that hangs on purpose has its requests cancelled at shutdown; uvicorn logs each as an error.
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        argv = [sys.executable, "-m", "conformance", "load", url, "--app-id", settings.app_id,
                "--report-dir", tmp, *LOAD_ARGS]
        proc = subprocess.run(argv, env=child_environment(settings.certificate), cwd=tmp, capture_output=True,
                              text=True, timeout=180, check=False)
        output = proc.stdout + proc.stderr
        slo_lines = [ln.strip() for ln in output.splitlines() if "SLO" in ln]
        return proc.returncode, (slo_lines[-1] if slo_lines else _last_line(output))[:200]


# --- Markdown --------------------------------------------------------------------


def _cases(cases: AbstractSet[str]) -> str:
    order = {r.id: n for n, r in enumerate(REQUIREMENTS)}
    return ", ".join(sorted(cases, key=lambda c: order.get(c, 999))) or "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def score_lines(results: Sequence[Result]) -> list[str]:
    lines = ["| level | faults | detected | missed |", "| --- | --- | --- | --- |"]
    for level in LEVELS:
        these = [r for r in results if r.fault.level == level]
        if these:
            hit = sum(r.detected for r in these)
            lines.append(f"| {level} | {len(these)} | {hit} | {len(these) - hit} |")
    hit = sum(r.detected for r in results)
    lines.append(f"| **all** | **{len(results)}** | **{hit}** | **{len(results) - hit}** |")
    return lines


def load_score_lines(load: list[LoadResult] | None) -> list[str]:
    if load is None:
        return []
    faults = [lr for lr in load if not lr.key.startswith("reference")]
    controls = [lr for lr in load if lr.key.startswith("reference")]
    control = "passes" if all(lr.exit_code == 0 for lr in controls) else "**fails** (the load detections mean nothing)"
    return [f"**Load-only faults: {sum(lr.detected for lr in faults)} / {len(faults)} detected** "
            f"(`token-conformance load`; the reference server under the same load {control}).", ""]


@dataclass
class ShapeResult:
    """A server behind another route shape (tests/faulty/shapes.py), judged through that shape's profile."""

    shape: str
    fault: Fault | None  # None: the correct server of the shape
    run: Run

    @property
    def expected(self) -> set[str]:
        return set() if self.fault is None else set(self.fault.expected - NOT_IN_SHAPE)

    @property
    def as_expected(self) -> bool:
        if self.run.having("error", "not run"):
            return False
        if self.fault is None:
            others = self.run.skipped - NOT_IN_SHAPE
            return (not self.run.failed and NOT_IN_SHAPE <= self.run.skipped and self.run.exit_code == 0
                    and all("no credentials configured" in self.run.message(c)
                            or "no web origin declared" in self.run.message(c) for c in others))
        return self.run.failed == self.expected


def judge_shapes(jobs: int) -> list[ShapeResult]:
    """The correct server and each of SHAPE_FAULTS behind each shape: full strict runs."""
    todo = [(s, None) for s in SHAPES] + [(s, BY_KEY[k]) for s in SHAPES for k in SHAPE_FAULTS]

    def one(item: tuple[Any, Fault | None]) -> ShapeResult:
        shape, fault = item
        result = ShapeResult(shape.name, fault, judge_shape(shape, fault.make if fault else create_app))
        print(f"shape {shape.name:6} {fault.key if fault else 'correct':22} failed {_cases(result.run.failed)}",
              file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, todo))


@dataclass
class SmallResult:
    """A server that takes fewer inputs (tests/faulty/small.py) with one fault, judged through its own profile."""

    fault: SmallFault
    run: Run

    @property
    def unexplained_skips(self) -> set[str]:
        return {c for c in self.run.skipped - self.fault.skips - NEEDS_CREDENTIALS
                if not self.run.message(c).startswith("not applicable")}

    @property
    def as_expected(self) -> bool:
        return (not self.run.having("error", "not run") and self.run.failed == set(self.fault.expected)
                and not self.unexplained_skips and self.run.exit_code == 1)


def judge_small(jobs: int) -> list[SmallResult]:
    """Each of SMALL_FAULTS: a full strict run with its profile (app id and certificate known)."""

    def one(fault: SmallFault) -> SmallResult:
        with serving(fault.make) as (url, settings):
            run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                            profile=fault.profile)
        print(f"small {fault.key:26} failed {_cases(run.failed)}", file=sys.stderr, flush=True)
        return SmallResult(fault, run)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, SMALL_FAULTS))


def small_lines(small: list[SmallResult] | None) -> list[str]:
    out = ["## Servers that take fewer inputs", ""]
    if small is None:
        return [*out, "Not run (`--no-shapes` or `--only`).", ""]
    out += [
        "The small servers of the long tail (tests/faulty/small.py: a one-role `{\"key\"}` query server with a fixed "
        "lifetime, a chosen-uid POST server with a boolean role, a fixed-lifetime server), each with one fault, judged "
        "through its hand-written profile (tests/faulty/profiles/; docs/profiles.md, worked examples 3-6). Full strict "
        "runs; a case the shape cannot express says \"not applicable\" with the reason. Their correct twins are in "
        "docs/false-alarms.md.",
        "",
        "| fault | behaviour | violates | detected | failing cases | skipped | exit | as expected |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in small:
        detected = "yes" if r.fault.requirement in r.run.failed else "**MISSED**"
        ok = "yes" if r.as_expected else f"**no** (expected {_cases(set(r.fault.expected))})"
        out.append(f"| `{r.fault.key}` | {_cell(r.fault.fault)} | {r.fault.requirement} | {detected} | "
                   f"{_cases(r.run.failed)} | {_cases(r.run.skipped)} | {r.run.exit_code} | {ok} |")
    explained = [r for r in small if r.fault.also]
    out += [""] + [f"- `{r.fault.key}`: {_cases(r.fault.also)} - {_cell(r.fault.why)}" for r in explained]
    return [*out, ""]


def shape_lines(shapes: list[ShapeResult] | None) -> list[str]:
    out = ["## Other route shapes", ""]
    if shapes is None:
        return [*out, "Not run (`--no-shapes` or `--only`).", ""]
    out += [
        "The same servers behind two other front doors (tests/faulty/shapes.py), each judged through its profile "
        "file (tests/faulty/profiles/, docs/profiles.md): `query` answers `GET /token?channel=&uid=&role=&expiry=` "
        "with `{\"token\"}`; `json` answers `POST /api/token {channelName, uid (a number), role host|audience, "
        "expireSeconds}` with `{\"data\": {\"token\"}}`. Full strict runs. Cases a shape cannot express skip with "
        f"the reason ({_cases(NOT_IN_SHAPE)}); a fault must fail the cases it fails in the Go shape, less those.",
        "",
        "| shape | server | violates | failing cases | skipped | exit | as in the Go shape |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in shapes:
        server = "correct (must pass --strict)" if r.fault is None else f"`{r.fault.key}`: {_cell(r.fault.fault)}"
        violates = "-" if r.fault is None else r.fault.requirement
        ok = "yes" if r.as_expected else f"**no** (expected {_cases(r.expected)})"
        out.append(f"| {r.shape} | {server} | {violates} | {_cases(r.run.failed)} | {_cases(r.run.skipped)} | "
                   f"{r.run.exit_code} | {ok} |")
    return [*out, ""]


def render(results: Sequence[Result], load: list[LoadResult] | None, command: str,
           shapes: list[ShapeResult] | None = None, small: list[SmallResult] | None = None) -> str:
    hit = sum(r.detected for r in results)
    out = [
        "# Detection score",
        "",
        "Generated by `python -m tools.detection_score` - do not edit by hand.",
        "",
        f"Each faulty server of `tests/faulty/servers.py` differs from the reference server in one way. The whole "
        f"suite ran against each one (`--strict`, app id and certificate known{', except where noted' if any(not r.fault.know_app_id for r in results) else ''}). "
        "A fault is **detected** when the case of the requirement it violates fails. *As catalogued* means the run "
        "failed exactly the expected cases (the requirement's own case, plus the listed ones whose reason the "
        "catalogue gives), nothing else, and skipped only cases whose prerequisite failed.",
        "",
        f"**Score: {hit} / {len(results)} faults detected.**",
        "",
        *score_lines(results),
        "",
        *load_score_lines(load),
        "## Conformance faults",
        "",
        "| fault | behaviour | violates | level | detected | failing cases | skipped | exit | as catalogued |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        f = r.fault
        detected = "yes" if r.detected else "**MISSED**"
        catalogued = "yes" if r.as_catalogued else "no"
        behaviour = f.fault + ("" if f.know_app_id else " *(run without --app-id)*")
        out.append(f"| `{f.key}` | {_cell(behaviour)} | {f.requirement} | {f.level} | {detected} | "
                   f"{_cases(r.run.failed)} | {_cases(r.run.skipped)} | {r.run.exit_code} | {catalogued} |")
    misses = [r for r in results if not r.detected]
    out += ["", "## Missed faults", ""]
    if misses:
        for r in misses:
            out.append(f"- `{r.fault.key}` ({r.fault.requirement}, {r.fault.level}): {_cell(r.miss_reason())}")
    else:
        out.append("None.")
    others = [r for r in results if r.detected and not r.as_catalogued]
    out += ["", "## Detected, but not as catalogued", ""]
    if others:
        for r in others:
            parts = []
            if r.unexpected:
                parts.append(f"also failed {_cases(r.unexpected)}")
            if r.undetected:
                parts.append(f"expected but passed {_cases(r.undetected)}")
            if r.unexplained_skips:
                parts.append(f"skipped without a failed prerequisite {_cases(r.unexplained_skips)}")
            if r.run.having("error", "not run"):
                parts.append(f"error or not run {_cases(r.run.having('error', 'not run'))}")
            out.append(f"- `{r.fault.key}`: " + "; ".join(parts))
    else:
        out.append("None.")
    blamed = [(r, case, named) for r in results for case, named in sorted(r.misattributed_skips.items())]
    out += ["", "## Skips that blame a case which passed", "",
            "A case skips when it has nothing to judge; its message names the case that judges the missing "
            "prerequisite. These skips name cases that passed in the same run, so the fault is reported by "
            "another case than the one named, or not at all:", ""]
    out += [f"- `{r.fault.key}`: {case} skipped, blaming {named}; failed: {_cases(r.run.failed)}"
            for r, case, named in blamed] or ["None."]
    explained = [r for r in results if r.fault.also]
    out += ["", "## Faults that fail more than one case, and why", ""]
    out += [f"- `{r.fault.key}`: {_cases(r.fault.also)} - {_cell(r.fault.why)}" for r in explained]
    out += ["", "## Load-only faults", ""]
    if load is None:
        out.append("Not run (`--no-load`, or tests/load/faulty.py is absent).")
    else:
        out += [
            f"Each ran `token-conformance load URL {' '.join(LOAD_ARGS)}` (app id and certificate known). "
            "Exit 1 (an SLO breached) is detection; the unmodified reference server must exit 0.",
            "",
            "| fault | behaviour | objective that must break | exit | verdict | detected |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for lr in load:
            if lr.key.startswith("reference"):
                ok = "control: passes" if lr.exit_code == 0 else "**control failed**"
            else:
                ok = "yes" if lr.detected else "**MISSED**"
            out.append(f"| `{lr.key}` | {_cell(lr.fault)} | {lr.objective} | {lr.exit_code} | {_cell(lr.verdict)} | {ok} |")
    out += ["", *shape_lines(shapes), *small_lines(small)]
    out += ["## Reproduce", "", "```", command, "```", ""]
    return "\n".join(out)


# --- main ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.detection_score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "detection.md", help="Markdown to write")
    parser.add_argument("--jobs", type=int, default=2, help="faults judged at once (default 2)")
    parser.add_argument("--only", nargs="+", metavar="KEY", help="only these faults (keys of the catalogue)")
    parser.add_argument("--no-load", action="store_true", help="skip the load-only faults")
    parser.add_argument("--no-shapes", action="store_true",
                        help="skip the faults re-run behind other route shapes and the small servers' faults")
    args = parser.parse_args(argv)
    keys = {f.key for f in FAULTS}
    if args.only and set(args.only) - keys:
        parser.error(f"unknown fault(s): {', '.join(sorted(set(args.only) - keys))}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    faults = [f for f in FAULTS if not args.only or f.key in args.only]
    started = time.monotonic()

    def one(fault: Fault) -> Result:
        result = Result(fault, judge(fault, full=True))
        mark = "detected" if result.detected else "MISSED"
        print(f"{fault.key:24} {mark:9} failed {_cases(result.run.failed)}", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, faults))
    load: list[LoadResult] | None = None
    if not args.no_load and not args.only:
        load = []
        for key, what, objective, factory, expected in load_faults():  # one at a time: latency is measured
            code, verdict = run_load(factory)
            load.append(LoadResult(key, what, objective, code, verdict, expected))
            print(f"load {key:20} exit {code} {verdict}", file=sys.stderr, flush=True)
    shapes = None if args.no_shapes or args.only else judge_shapes(args.jobs)
    small = None if args.no_shapes or args.only else judge_small(args.jobs)
    command = "python -m tools.detection_score" + (f" --out {args.out}" if args.out != ROOT / "docs" / "detection.md" else "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, load, command, shapes, small), encoding="utf-8")
    hit = sum(r.detected for r in results)
    by_level = ", ".join(f"{lvl} {sum(r.detected for r in results if r.fault.level == lvl)}/"
                         f"{sum(r.fault.level == lvl for r in results)}" for lvl in LEVELS)
    print(f"detected {hit}/{len(results)} ({by_level}) in {time.monotonic() - started:.0f} s; wrote {args.out}",
          file=sys.stderr)
    load_ok = load is None or all(lr.as_expected for lr in load)
    shapes_ok = shapes is None or all(r.as_expected for r in shapes)
    small_ok = small is None or all(r.as_expected for r in small)
    return 0 if all(r.as_catalogued for r in results) and load_ok and shapes_ok and small_ok else 1


if __name__ == "__main__":
    sys.exit(main())
