"""Load's Python API: :class:`LoadOptions` in, :class:`LoadResult` out (``token-conformance load`` is a thin layer).

:func:`run_load` checks the options (a mistake raises :class:`LoadOptionError` before anything starts), chooses the
target (a URL, probed with one GET, or the embedded reference server), runs the Locust child
(``conformance.load.runner``), writes the reports and judges the run: the result carries the exit code
(0 the SLOs held, 1 breached or regressed against the baseline, 2 could not judge), load.json as written, the
report paths and the lines to show. :func:`run_worker` is ``load --worker``. Nothing here imports locust.

Lines shown while the run goes (progress, what runs where) go to the ``show`` callback as they come; the text
summary, the Markdown summary and the closing lines are in the result, redacted, for the caller to print.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..certificate import CertificateError, read_certificate
from ..headers import HeaderError, resolve
from ..interruption import last_signal, signals_as_interrupt
from ..reference.server import ReferenceServer
from ..report.baseline import (
    BaselineError,
    LoadComparison,
    baseline_for_load,
    compare_load,
    load_terminal_lines,
    plot_load,
)
from ..report.markdown import load_markdown
from .protocol import CERTIFICATE_ENV, NO_RENEWAL, SCENARIOS
from .report import LOAD_JSON, PLOTS, build_load_json, mark_interrupted, render_html, write_load_reports
from .runner import (
    DEFAULT_EXPECT_WORKERS_MAX_WAIT,
    DEFAULT_MASTER_BIND_HOST,
    DEFAULT_MASTER_PORT,
    DEFAULT_MASTER_WAIT,
    GAVE_UP_WAITING,
    LoadPlan,
    MasterSpec,
    Refusal,
    WorkerPlan,
    free_cores,
    run_locust,
    unreachable_reason,
)
from .runner import run_worker as run_locust_worker
from .scenario.capacity_plan import LinearPlan, SearchPlan, fit_problem, plan_from
from .scenario.validation import OptionError, ScenarioConfig, build_config
from .slo import DEFAULT_MAX_FAILURE_RATIO, DEFAULT_MAX_P95_MS, Thresholds, check_thresholds
from .terminal import failure_reasons_line, text_summary

__all__ = ["LoadOptionError", "LoadOptions", "LoadResult", "parse_seconds", "run_load", "run_worker"]

_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")
MAX_RUN_TIME = 24 * 3600

#: Where a line goes as soon as it is known (stderr for the CLI); already redacted.
Show = Callable[[str], None]


class LoadOptionError(ValueError):
    """A mistake in the options: one line saying what to fix (the CLI's usage error, exit 2); nothing started."""


@dataclass
class LoadOptions:
    """What ``token-conformance load`` takes, by its option names (dest); the defaults are the CLI's."""

    url: str | None = None
    # run
    scenario: str = "fetch_and_renew"
    users: int | None = None
    spawn_rate: float = 10.0
    run_time: str | None = None
    stop_timeout: str = "3s"
    processes: str | int | None = None
    report_dir: str = "reports"
    progress_interval: float = 3.0
    # clients
    profile: str | None = None
    app_id: str | None = None
    certificate_file: str | None = None
    expiry: int = 10
    renew_margin: float = 5.0
    cycles: int = 3
    role_mix: str = "publisher=1,subscriber=1"
    tokentype_mix: str | None = None
    expiry_tolerance: float = 2.0
    strict_roles: bool = False
    request_timeout: float = 10.0
    retry_interval: float = 1.0
    insecure: bool = False
    header: Sequence[str] | None = None
    header_file: str | None = None
    # SLOs
    max_p95_ms: float = DEFAULT_MAX_P95_MS
    max_failure_ratio: float = DEFAULT_MAX_FAILURE_RATIO
    max_dropped: int = 0
    max_invalid: int = 0
    max_limited_ratio: float = 1.0
    # baseline and CI
    baseline: str | None = None
    baseline_force: bool = False
    summary_md: str | None = None
    # several machines
    master: bool = False
    expect_workers: int | None = None
    expect_workers_max_wait: int | None = None
    master_bind_host: str | None = None
    master_bind_port: int | None = None
    worker: bool = False
    master_host: str | None = None
    master_port: int | None = None
    master_wait: float | None = None
    # renew_storm, ramp and capacity
    cohorts: int | None = None
    cohort_interval: float | None = None
    step_users: int | None = None
    step_time: float | None = None
    start_rate: float | None = None
    step_rate: float | None = None
    max_rate: float | None = None


@dataclass
class LoadResult:
    """How a run ended: the exit code, load.json as written (None when none was), and what to print.

    ``summary`` goes to stdout, then ``markdown`` to the CI summary (--summary-md, $GITHUB_STEP_SUMMARY; None:
    nothing to write), then ``messages`` to stderr, in that order. All three are redacted.
    """

    exit_code: int
    document: dict[str, Any] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    comparison: LoadComparison | None = None
    summary: str | None = None
    markdown: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        """load.json's verdict ("passed", "failed", "not judged", ...); None when no load.json was written."""
        return None if self.document is None else self.document.get("verdict")

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The judged steps of a stepped scenario (capacity, ramp); empty for the others."""
        doc = self.document or {}
        for key in ("capacity", "ramp"):
            steps = (doc.get(key) or {}).get("steps")
            if steps:
                return list(steps)
        return []


def parse_seconds(text: str, option: str, minimum: int = 1) -> int:
    """'90', '90s', '2m', '1h30m' -> whole seconds (Locust counts whole seconds too)."""
    match = _TIMESPAN.fullmatch(text.strip().lower()) if text and text.strip() else None
    if match is None or not any(match.groups()):
        raise LoadOptionError(f"{option}: {text!r} is not a duration; use e.g. 30s, 2m, 1h30m or a number of seconds")
    h, m, s = (int(g or 0) for g in match.groups())
    seconds = h * 3600 + m * 60 + s
    if not minimum <= seconds <= MAX_RUN_TIME:
        raise LoadOptionError(f"{option} must be between {minimum} s and {MAX_RUN_TIME // 3600} h, got {seconds} s")
    return seconds


def _print_show(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- checking the options ------------------------------------------------------------------------------------


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise LoadOptionError(message)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadOptionError(f"the URL must look like http://host:port, got {url!r}")
    if parts.query or parts.fragment:
        raise LoadOptionError("the URL must be the server's base URL, without query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise LoadOptionError(f"the URL has an invalid port: {url!r}") from None
    return url.rstrip("/")


def _headers(opts: LoadOptions) -> dict[str, str]:
    try:
        return resolve(opts.header or (), opts.header_file)
    except HeaderError as exc:
        raise LoadOptionError(str(exc)) from None


def _certificate(path: str | None) -> str | None:
    try:
        return read_certificate(path)
    except CertificateError as exc:
        raise LoadOptionError(str(exc)) from None


def _report_dir(name: str) -> Path:
    report_dir = Path(name)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoadOptionError(f"cannot create the report directory {name!r}: {exc.strerror}") from None
    return report_dir


def scenario_values(opts: LoadOptions) -> dict[str, Any]:
    """The scenario's own options, keyed by the Locust option dest (see conformance/load/scenario/common.py)."""
    values: dict[str, Any] = {
        "expiry": opts.expiry,
        "renew_margin": opts.renew_margin,
        "cycles": opts.cycles,
        "role_mix": opts.role_mix,
        "tokentype_mix": opts.tokentype_mix,
        "token_profile": opts.profile,
        "app_id": opts.app_id,
        "expiry_tolerance": opts.expiry_tolerance,
        "strict_roles": opts.strict_roles,
        "request_timeout": opts.request_timeout,
        "retry_interval": opts.retry_interval,
        "insecure": opts.insecure,
    }
    shape: dict[str | tuple[str, ...], dict[str, Any]] = {
        "renew_storm": {"cohorts": opts.cohorts, "cohort_interval": opts.cohort_interval},
        "ramp": {"step_users": opts.step_users},
        "capacity": {"start_rate": opts.start_rate, "step_rate": opts.step_rate, "max_rate": opts.max_rate},
        ("ramp", "capacity"): {"step_time": opts.step_time},
    }
    for scenario, options in shape.items():
        given = {k: v for k, v in options.items() if v is not None}
        names_ok = scenario if isinstance(scenario, tuple) else (scenario,)
        if given and opts.scenario not in names_ok:
            scenario = " or --scenario ".join(names_ok)
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise LoadOptionError(f"{names} only apply to --scenario {scenario}")
        values.update(given)
    return values


def _check_capacity_fit(plan: LinearPlan | SearchPlan, run_time: int, show: Show) -> None:
    """A --run-time that cannot hold one step is refused; one that may cut the plan short is warned about."""
    problem = fit_problem(plan, run_time)
    if problem is None:
        return
    what, why = problem
    if what == "refuse":
        raise LoadOptionError(why)
    show(f"token-conformance load: warning: {why}")


#: Options only a master takes, and only a worker takes (dest names).
_MASTER_ONLY = ("expect_workers", "expect_workers_max_wait", "master_bind_host", "master_bind_port")
_WORKER_ONLY = ("master_host", "master_port", "master_wait")
#: What a worker may be given: the rest (the scenario, its options, SLOs, the target) comes from the master.
_WORKER_OPTIONS = ("worker", *_WORKER_ONLY, "processes", "certificate_file", "header", "header_file", "report_dir")


def _flag_name(dest: str) -> str:
    return "URL" if dest == "url" else "--" + dest.replace("_", "-")


def _given(opts: LoadOptions) -> list[str]:
    """The options given (those not at their defaults), by dest."""
    defaults = LoadOptions()
    return [f.name for f in dataclasses.fields(opts) if getattr(opts, f.name) != getattr(defaults, f.name)]


def _integer(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _check_port(value: int | None, option: str) -> None:
    _check(value is None or 1 <= value <= 65535, f"{option} must be a port number (1-65535), got {value}")


def _check_roles(opts: LoadOptions) -> None:
    """--master and --worker: each with its own options, never both; neither: none of theirs."""
    given = _given(opts)
    _check(not (opts.master and opts.worker), "--master and --worker exclude each other: a process is one or the other")
    for dest, option in (("master_bind_port", "--master-bind-port"), ("master_port", "--master-port")):
        _check_port(getattr(opts, dest), option)
    if not opts.master:
        stray = [d for d in _MASTER_ONLY if d in given]
        _check(not stray, f"{', '.join(map(_flag_name, stray))} only apply with --master")
    if not opts.worker:
        stray = [d for d in _WORKER_ONLY if d in given]
        _check(not stray, f"{', '.join(map(_flag_name, stray))} only apply with --worker")
    if opts.master:
        _check(opts.url is not None, "--master needs the token server's URL (the embedded reference server listens on "
               "this machine's loopback only, out of the workers' reach)")
        _check(opts.expect_workers is not None, "--master needs --expect-workers N: how many workers must connect "
               "before the load starts")
        assert opts.expect_workers is not None
        _check(opts.expect_workers >= 1, "--expect-workers must be at least 1")
        _check(opts.expect_workers_max_wait is None or opts.expect_workers_max_wait >= 1,
               "--expect-workers-max-wait must be at least 1 (second)")
        _check(opts.processes is None, "--processes does not apply to --master: start workers with --worker (and "
               "--processes N or auto on each worker machine)")
    if opts.worker:
        _check(opts.master_host is not None and opts.master_host.strip() != "",
               "--worker needs --master-host: the address of the machine running --master")
        _check(opts.master_wait is None or opts.master_wait > 0, "--master-wait must be > 0 (seconds)")
        stray = [d for d in given if d not in _WORKER_OPTIONS]
        _check(not stray, f"{', '.join(map(_flag_name, stray))}: set on the master; a worker takes the scenario, "
               "its options and the target from the master (its certificate and headers from here)")


def _check_can_listen(host: str, port: int) -> None:
    """A master's port taken (another master?) is one clear line, before anything starts."""
    address = None if host in ("*", "0.0.0.0") else host  # noqa: S104 - where the user asked the master to listen
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise LoadOptionError(f"--master-bind-host {host!r}: {exc.strerror}") from None
    family, kind, proto, _name, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            raise LoadOptionError(f"the master cannot listen on {host}:{port} ({exc.strerror}): another master "
                                  "there? choose --master-bind-port") from None


def _auto_processes(opts: LoadOptions) -> str:
    """``--processes auto``: one worker per free core (the embedded server keeps one); one: no workers at all."""
    free, why = free_cores(reserve=1 if opts.url is None and not opts.worker else 0)
    if opts.worker:
        opts.processes = free
        return f"--processes auto: {why}: {free} worker process{'es' if free > 1 else ''}"
    opts.processes = free if free > 1 else None
    chosen = f"{free} worker processes" if free > 1 else "one process, no workers (a master and one worker gain nothing)"
    return f"--processes auto: {why}: {chosen}"


def _check_summary_folder(path: str | None) -> None:
    """--summary-md must be writable before the run starts, not found unwritable after it. Its folder is created
    as --report-dir's is: ``--summary-md reports/summary.md`` in a fresh CI workspace is the common case."""
    if not path:
        return
    folder = Path(path).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LoadOptionError(f"--summary-md: cannot create the folder of {path!r}: {exc.strerror or exc}") from None


@dataclass
class _Baseline:
    """The --baseline document, read and matched against this run before it starts."""

    document: dict[str, Any]
    notes: list[str]
    path: str


def _baseline(opts: LoadOptions, url: str | None, run_time: int) -> _Baseline | None:
    """--baseline read and matched against this run before it starts; --summary-md checked too."""
    _check_summary_folder(opts.summary_md)
    if opts.baseline_force and not opts.baseline:
        raise LoadOptionError("--baseline-force needs --baseline LOAD_JSON")
    if not opts.baseline:
        return None
    assert opts.users is not None  # resolved by now
    try:
        doc, notes = baseline_for_load(opts.baseline, force=opts.baseline_force, scenario=opts.scenario, target=url,
                                       users=opts.users, run_time_s=run_time)
    except BaselineError as exc:
        raise LoadOptionError(str(exc)) from None
    return _Baseline(doc, notes, opts.baseline)


# --- a run -----------------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """The options checked and resolved: everything a run needs before it starts."""

    opts: LoadOptions
    values: dict[str, Any]
    config: ScenarioConfig
    headers: dict[str, str]
    certificate: str | None
    url: str | None
    run_time: int
    stop_timeout: int
    thresholds: Thresholds
    report_dir: Path
    baseline: _Baseline | None
    #: the run's load.json document, once there is one (what an interruption keeps)
    measured: list[dict[str, Any]] = field(default_factory=list)


def run_load(options: LoadOptions, show: Show = _print_show) -> LoadResult:
    """One load run (or ``options.worker``: :func:`run_worker`). Raises :class:`LoadOptionError` before it starts.

    SIGINT and SIGTERM end the run as "interrupted" (exit 2): Locust and the embedded server are stopped and
    load.json keeps what was measured (conformance/interruption.py, conformance.load.runner).
    """
    opts = dataclasses.replace(options)  # resolved in place (users, processes, run time): the caller's stays
    _check_roles(opts)
    if opts.worker:
        return run_worker(opts, show)
    prepared, auto_note = _prepare(opts, show)
    if auto_note:
        show(f"load: {auto_note}")
    started = time.monotonic()
    with signals_as_interrupt():
        try:
            return _run_on_target(prepared, show)
        except KeyboardInterrupt:
            return _interrupted(prepared, time.monotonic() - started)


def _prepare(opts: LoadOptions, show: Show) -> tuple[_Prepared, str | None]:
    processes = opts.processes
    _check(processes is None or processes == "auto" or _integer(str(processes)),
           f"--processes takes a number or 'auto', not {processes!r}")
    if processes is not None and processes != "auto":
        opts.processes = int(processes)
        _check(opts.processes >= 1, "--processes must be at least 1")
    auto_note = _auto_processes(opts) if opts.processes == "auto" else None
    if opts.scenario == "capacity":
        _check(opts.users is None, "--users does not apply to --scenario capacity: it sets rates (--start-rate, "
               "--step-rate, --max-rate) and runs one arrival loop per generator process (--processes)")
        opts.users = int((opts.expect_workers if opts.master else opts.processes) or 1)
    elif opts.users is None:
        opts.users = 10
    _check(opts.users >= 1, "--users must be at least 1")
    for name in ("start_rate", "step_rate", "max_rate"):
        value = getattr(opts, name)
        _check(value is None or value > 0, f"--{name.replace('_', '-')} must be > 0")
    _check(opts.spawn_rate > 0, "--spawn-rate must be > 0")
    capacity_plan = (plan_from(opts.start_rate, opts.step_rate, opts.max_rate, opts.step_time)
                     if opts.scenario == "capacity" else None)
    if opts.run_time is None:
        opts.run_time = f"{math.ceil(capacity_plan.worst_case_s())}s" if capacity_plan else "30s"
    run_time = parse_seconds(opts.run_time, "--run-time")
    if capacity_plan is not None:
        _check_capacity_fit(capacity_plan, run_time, show)
    stop_timeout = parse_seconds(opts.stop_timeout, "--stop-timeout", minimum=0)
    _check(opts.progress_interval >= 0, "--progress-interval must be >= 0")
    if opts.processes and sys.platform == "win32":
        raise LoadOptionError("--processes needs fork(): not available on Windows")
    _check(opts.cohorts is None or opts.cohorts >= 1, "--cohorts must be at least 1")
    _check(opts.cohort_interval is None or opts.cohort_interval >= 0, "--cohort-interval must be >= 0")
    _check(opts.step_users is None or opts.step_users >= 1, "--step-users must be at least 1")
    _check(opts.step_time is None or opts.step_time >= 1, "--step-time must be at least 1 (second)")
    if opts.scenario not in SCENARIOS and not (opts.scenario.endswith(".py") and Path(opts.scenario).is_file()):
        raise LoadOptionError(
            f"unknown scenario {opts.scenario!r}: use one of {', '.join(SCENARIOS)} or a locustfile path")
    thresholds = Thresholds(opts.max_p95_ms, opts.max_failure_ratio, opts.max_dropped, opts.max_invalid,
                            opts.max_limited_ratio)
    headers = _headers(opts)
    problem = check_thresholds(thresholds)
    if problem:
        raise LoadOptionError(problem)
    values = scenario_values(opts)
    if opts.url is None and opts.app_id:
        raise LoadOptionError("--app-id is for a URL target; the embedded reference server's app id is used")
    if opts.url is None and opts.certificate_file:
        raise LoadOptionError("--certificate-file is for a URL target; the embedded server's certificate is used")
    certificate = _certificate(opts.certificate_file) if opts.url else None
    try:
        config = build_config(values, certificate)
    except OptionError as exc:
        raise LoadOptionError(str(exc)) from None
    first_renewal = config.expiry - config.renew_margin
    if opts.scenario in SCENARIOS and opts.scenario != "capacity" and run_time <= first_renewal:
        raise LoadOptionError(
            f"--run-time {run_time} s ends before the first renewal ({config.expiry} s expiry - "
            f"{config.renew_margin:g} s margin = {first_renewal:g} s after a fetch): nothing would be renewed; "
            f"run for at least {2 * first_renewal:g} s, or shorten the cycle (--expiry, --renew-margin)"
        )
    report_dir = _report_dir(opts.report_dir)
    url = _check_url(opts.url) if opts.url else None
    baseline = _baseline(opts, url, run_time)
    if opts.master:
        _check_can_listen(opts.master_bind_host or DEFAULT_MASTER_BIND_HOST,
                          opts.master_bind_port or DEFAULT_MASTER_PORT)
    prepared = _Prepared(opts, values, config, headers, certificate, url, run_time, stop_timeout, thresholds,
                         report_dir, baseline)
    return prepared, auto_note


def _interrupted(run: _Prepared, elapsed: float) -> LoadResult:
    """Interrupted outside Locust's run (probe, server start, report writing): load.json says so anyway.

    Written with whatever this run has measured, or the bare document: a stale load.json of an earlier run must
    not pass for this one.
    """
    opts = run.opts
    signal_name = last_signal()
    if run.measured:
        doc = run.measured[-1]
    else:
        doc = build_load_json({}, scenario=opts.scenario, target=run.url or "embedded reference server",
                              embedded=run.url is None, plan={"users": opts.users, "run_time_s": run.run_time})
    if not doc.get("interrupted"):
        mark_interrupted(doc, signal_name, elapsed, lost=None if run.measured else "before the load started")
    path = run.report_dir / LOAD_JSON
    try:
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    except OSError:
        pass
    return LoadResult(
        exit_code=2,
        document=doc,
        files={"load_json": path},
        markdown=None if run.measured else load_markdown(doc),  # CI pages show the Markdown summary: it says so too
        messages=[f"token-conformance load: {doc['reason']} (exit 2; report: {path})"],
    )


def _plan_for(run: _Prepared, target: str, certificate: str | None, app_id: str | None) -> LoadPlan:
    opts = run.opts
    master = None
    if opts.master:
        assert opts.expect_workers is not None
        master = MasterSpec(
            expect_workers=opts.expect_workers,
            bind_host=opts.master_bind_host or DEFAULT_MASTER_BIND_HOST,
            bind_port=opts.master_bind_port or DEFAULT_MASTER_PORT,
            max_wait=opts.expect_workers_max_wait or DEFAULT_EXPECT_WORKERS_MAX_WAIT,
        )
    options = dict(run.values)
    if app_id:
        options["app_id"] = app_id
    assert opts.users is not None and not isinstance(opts.processes, str)
    return LoadPlan(
        scenario=opts.scenario,
        url=target,
        users=opts.users,
        spawn_rate=opts.spawn_rate,
        run_time=run.run_time,
        report_dir=run.report_dir,
        stop_timeout=run.stop_timeout,
        processes=opts.processes,
        thresholds=run.thresholds,
        scenario_options=options,
        progress_interval=opts.progress_interval,
        certificate=certificate,
        headers=run.headers,
        master=master,
    )


def _run_on_target(run: _Prepared, show: Show) -> LoadResult:
    if run.url is not None:
        # Any answer will do (a POST shape answers a GET with 405): the probe asks whether the target is there.
        probe_path = run.config.profile.rtc_request("load-probe", "publisher", "uid", "1", expiry=run.config.expiry,
                                                    lenient=True).path
        problem = unreachable_reason(
            run.url,
            probe_path,
            timeout=run.config.request_timeout,
            verify_tls=not run.config.insecure,
            headers=run.headers,
        )
        if problem:
            # A 401/403 is an answer: the address is right, the credentials are not.
            what = f"{run.url} refused the probe request" if isinstance(problem, Refusal) else f"cannot reach {run.url}"
            return LoadResult(exit_code=2, messages=[f"token-conformance load: error: {what}: {problem}"])
        return _execute(run, _plan_for(run, run.url, run.certificate, None), show, embedded=False)
    with ReferenceServer() as server:
        plan = _plan_for(run, server.url, server.settings.certificate, server.settings.app_id)
        return _execute(run, plan, show, embedded=True)


def _against_baseline(baseline: _Baseline, doc: dict[str, Any], files: dict[str, Path]) -> LoadComparison:
    """Compare, plot both runs side by side, and add both to load.json and load.html."""
    comparison = compare_load(baseline.document, doc, baseline_path=baseline.path)
    comparison.notes = baseline.notes
    doc["baseline"] = comparison.as_dict()
    images = {name: files[name] for name in PLOTS if name in files}
    images["baseline"] = plot_load(baseline.document, doc, files["load_json"].with_name("baseline.png"))
    doc.setdefault("files", {})["baseline"] = "baseline.png"
    files["load_json"].write_text(json.dumps(doc, indent=2), encoding="utf-8")
    files["load_html"].write_text(render_html(doc, images), encoding="utf-8")
    return comparison


def _execute(run: _Prepared, plan: LoadPlan, show_raw: Show, *, embedded: bool) -> LoadResult:
    redactor = plan.redactor()

    def show(line: str) -> None:
        show_raw(redactor.redact(line))

    where = f"{plan.url} (embedded reference server)" if embedded else plan.url
    show(
        f"load: {plan.scenario} against {where}: "
        + ("" if plan.scenario == "capacity" else f"{plan.users} users, ")
        + f"{plan.run_time} s"
        + (f", {plan.processes} processes" if plan.processes else "")
        + (f", master for {plan.master.expect_workers} worker{'s' if plan.master.expect_workers > 1 else ''} "
           f"listening on {plan.master.bind_host}:{plan.master.bind_port} (waiting up to {plan.master.max_wait} s "
           "for them)" if plan.master else "")
    )
    if plan.master:
        show("load: the workers check the tokens, each with the certificate and headers of its own environment")
    elif not plan.certificate:
        show(
            "load: signatures are NOT checked: no app certificate "
            f"(give it in {CERTIFICATE_ENV} or --certificate-file to verify every token's signature)"
        )
    outcome = run_locust(plan, show)
    if outcome.summary is None and not outcome.interrupted and plan.master:
        arrived = _workers_arrived(outcome.log_path)
        if arrived is not None:
            return _too_few_workers(plan, embedded, arrived)
    if outcome.summary is None and not outcome.interrupted:
        messages = [f"token-conformance load: error: Locust exited with code {outcome.returncode} and left no summary"]
        messages += ["  " + line for line in outcome.tail[-15:]]
        messages.append(f"  full log: {outcome.log_path}")
        return LoadResult(exit_code=2, messages=[redactor.redact(m) for m in messages])
    summary = outcome.summary or {}
    plan_info: dict[str, Any] = {
        "users": plan.users,
        "spawn_rate": plan.spawn_rate,
        "run_time_s": plan.run_time,
        "stop_timeout_s": plan.stop_timeout,
        "processes": plan.processes,
        "locust_exit_code": outcome.returncode,
        "overran": outcome.overran,
        "interrupted": outcome.interrupted,
    }
    if plan.master:
        plan_info["master"] = {"expect_workers": plan.master.expect_workers, "bind_host": plan.master.bind_host,
                               "bind_port": plan.master.bind_port, "max_wait_s": plan.master.max_wait}
    doc = build_load_json(summary, scenario=plan.scenario, target=plan.url, embedded=embedded, plan=plan_info)
    if outcome.summary is None:  # killed before it reported: the limits it was given, at least
        doc["slo"]["thresholds"] = plan.thresholds.as_dict()
    if outcome.interrupted:
        mark_interrupted(doc, outcome.interrupted, outcome.interrupted_after or outcome.elapsed,
                         lost=None if outcome.summary else "Locust ended without reporting")
    run.measured.append(doc)
    files = write_load_reports(plan.report_dir, doc, outcome.summary)
    comparison = (  # partial figures of an interrupted run are no measurement to compare
        _against_baseline(run.baseline, doc, files)
        if run.baseline and doc["requests"] and not outcome.interrupted
        else None
    )
    text = redactor.redact(text_summary(doc, files))
    if comparison is not None:
        text += "\n" + "\n".join(load_terminal_lines(comparison))
    code, messages = _judge(doc, outcome.interrupted, outcome.overran, comparison, files)
    return LoadResult(
        exit_code=code,
        document=doc,
        files=files,
        comparison=comparison,
        summary=text,
        markdown=redactor.redact(load_markdown(doc)),
        messages=[redactor.redact(m) for m in messages],
    )


def _judge(doc: dict[str, Any], interrupted: str | None, overran: bool, comparison: LoadComparison | None,
           files: dict[str, Path]) -> tuple[int, list[str]]:
    """The exit code of a run that left a report, and the lines that say why."""
    if interrupted:
        return 2, [f"token-conformance load: {doc['reason']} (exit 2; report: {files['load_json']})"]
    if overran:
        return 2, ["token-conformance load: error: Locust overran its time bound and was stopped; results are partial"]
    if doc["requests"] == 0:
        return 2, ["token-conformance load: error: no token request completed; nothing to judge"]
    messages: list[str] = []
    # A breach is a finding (exit 1); a run that renewed nothing, or whose latency is the generator's, and
    # breached nothing else judged too little (2).
    gen = doc.get("generator") or {}
    if gen.get("bound"):
        messages.append("token-conformance load: the generator was the bottleneck: " + "; ".join(gen.get("reasons", [])))
        messages.append(f"  what to do: {gen.get('advice')}")
    breaches = [b for b in doc["slo"]["breaches"] if b["slo"] not in ("renewals", "generator", "workers")]
    if breaches and doc["renew"]["requests"] == 0:
        # A finding wins over "could not judge" (README, docs/load.md): failures, invalid tokens or dropped
        # sessions stand whether or not anything was renewed. Say that renewal was not judged, though: first,
        # so that the breach stays the last line.
        messages.append("token-conformance load: note: no renewal was made, so renewal was not judged; "
                        "the SLO breached below decides the exit code (1)")
    for breach in breaches:
        messages.append(f"SLO breached: {breach['slo']}: {breach['message']}")
        if breach["slo"] == "failure_ratio" and doc["failure_reasons"]:
            messages.append(f"  why: {failure_reasons_line(doc['failure_reasons'])}")
    if breaches:
        return 1, messages
    if doc["renew"]["requests"] == 0:
        return 2, [*messages, f"token-conformance load: error: {NO_RENEWAL}"]
    lost = [b for b in doc["slo"]["breaches"] if b["slo"] == "workers"]
    if lost:
        return 2, [*messages, f"token-conformance load: error: {lost[0]['message']}"]
    if any(b["slo"] == "generator" for b in doc["slo"]["breaches"]):
        return 2, [*messages, "token-conformance load: error: no verdict on latency measured by a saturated generator"]
    if not doc["slo"]["passed"]:
        return 1, messages
    return (1 if comparison is not None and comparison.regressions else 0), messages


_ARRIVED = re.compile(r"worker (\S+) connected \((\d+)")


def _workers_arrived(log_path: Path) -> list[str] | None:
    """The workers that connected, when the master gave up waiting for the rest (None: it did not give up)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if GAVE_UP_WAITING not in text:
        return None
    return list(dict.fromkeys(m.group(1) for m in _ARRIVED.finditer(text)))


def _too_few_workers(plan: LoadPlan, embedded: bool, arrived: list[str]) -> LoadResult:
    """The master gave up waiting: exit 2, saying how many came; load.json says so (no stale report passes)."""
    assert plan.master is not None
    expected = plan.master.expect_workers
    names = f" ({', '.join(arrived)})" if arrived else ""
    reason = (f"the master waited {plan.master.max_wait} s for {expected} worker{'s' if expected > 1 else ''}: "
              f"{len(arrived)} arrived{names}; no load was run (start the workers with --worker --master-host "
              f"<this machine> --master-port {plan.master.bind_port}, or lower --expect-workers)")
    doc = build_load_json({}, scenario=plan.scenario, target=plan.url, embedded=embedded,
                          plan={"users": plan.users, "run_time_s": plan.run_time, "expect_workers": expected})
    doc.update(verdict="not judged", exit_code=2, reason=reason,
               distributed={"expected": expected, "connected": len(arrived), "workers": [{"id": w} for w in arrived],
                            "lost": []})
    doc["slo"]["thresholds"] = plan.thresholds.as_dict()
    path = plan.report_dir / LOAD_JSON
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return LoadResult(exit_code=2, document=doc, files={"load_json": path}, markdown=load_markdown(doc),
                      messages=[f"token-conformance load: error: {reason} (exit 2; report: {path})"])


# --- a worker machine --------------------------------------------------------------------------------------------


def run_worker(options: LoadOptions, show_raw: Show = _print_show) -> LoadResult:
    """``load --worker``: serve a master until it ends the run; exit 0 then, 2 without a master or when it is lost."""
    opts = dataclasses.replace(options)
    _check_roles(opts)
    processes = opts.processes
    note = None
    if processes == "auto":
        note = _auto_processes(opts)
        processes = opts.processes
    elif processes is not None:
        _check(_integer(str(processes)) and int(processes) >= 1,
               f"--processes takes a number >= 1 or 'auto', not {processes!r}")
        processes = int(processes)
    report_dir = _report_dir(opts.report_dir)
    assert opts.master_host is not None and not isinstance(processes, str)
    plan = WorkerPlan(
        master_host=opts.master_host.strip(),
        master_port=opts.master_port or DEFAULT_MASTER_PORT,
        report_dir=report_dir,
        processes=processes,
        master_wait=opts.master_wait or DEFAULT_MASTER_WAIT,
        certificate=_certificate(opts.certificate_file),
        headers=_headers(opts),
    )
    redactor = plan.redactor()

    def show(line: str) -> None:
        show_raw(redactor.redact(line))

    if note:
        show(f"load: {note}")
    show(f"load: worker for the master at {plan.master_host}:{plan.master_port}"
         + (f", {processes} processes" if processes else "")
         + f" (waiting up to {plan.master_wait:g} s for it)")
    if not plan.certificate:
        show(f"load: signatures are NOT checked on this worker: no app certificate (give it in {CERTIFICATE_ENV} "
             "or --certificate-file)")
    with signals_as_interrupt():
        outcome = run_locust_worker(plan, show)
    counts: dict[str, int] = {}
    for doc in outcome.summaries:
        for key, n in ((doc.get("tally") or {}).get("counts") or {}).items():
            counts[key] = counts.get(key, 0) + int(n)
    own = (f"this machine's workers sent {counts.get('fetch', 0)} fetches and {counts.get('renew', 0)} renewals "
           f"({counts.get('invalid', 0)} invalid tokens); counts in {report_dir}/worker-*.json")

    def ended(code: int, *lines: str) -> LoadResult:
        return LoadResult(exit_code=code, messages=[redactor.redact(line) for line in lines])

    if outcome.ended == "master ended the run" and not counts.get("fetch") and not counts.get("renew"):
        return ended(2, f"token-conformance load: error: the master ended the run before this machine's workers "
                     f"sent any request (did it give up waiting for its workers, or have fewer users than "
                     f"workers?); {own}")
    if outcome.ended == "master ended the run":
        return LoadResult(exit_code=0, summary=f"worker: the master ended the run; {own}")
    if outcome.ended == "no master":
        return ended(2, f"token-conformance load: error: no master answered at {plan.master_host}:{plan.master_port} "
                     f"within {plan.master_wait:g} s (is it started with --master, is the port open?); "
                     f"log: {outcome.log_path}")
    if outcome.ended == "lost the master":
        return ended(2, f"token-conformance load: error: lost the master (no heartbeat for 60 s); {own}")
    if outcome.ended == "interrupted":
        return ended(2, f"token-conformance load: worker interrupted by {outcome.interrupted}; {own}")
    return ended(2, f"token-conformance load: error: the worker ended (Locust exit code {outcome.returncode}) "
                 f"without the master ending the run; log: {outcome.log_path}",
                 *("  " + line for line in outcome.tail[-10:]))
