"""The options of a load run: :class:`LoadOptions` as given, checked and resolved into :class:`Prepared`.

Every mistake raises :class:`LoadOptionError` (one line, the CLI's usage error, exit 2) before anything starts:
no report is written, no request is sent. ``conformance.load.api`` runs what :func:`prepare` returns.
"""

from __future__ import annotations

import dataclasses
import math
import re
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ..certificate import CertificateError, read_certificate
from ..headers import HeaderError, resolve
from ..report.baseline import BaselineError, baseline_for_load
from ..report.markdown import summary_folder_problem
from ..settings.declarations import default_of, locust_dest, locust_options, option, problem
from ..settings.inputs import Inputs
from ..settings.load_options import CLIENT_KEYS, DEFAULT_MASTER_BIND_HOST, DEFAULT_MASTER_PORT, DEFAULT_MASTER_WAIT
from .protocol import SCENARIOS
from .runner import WorkerPlan, free_cores
from .scenario.capacity_plan import LinearPlan, SearchPlan, fit_problem, plan_from
from .scenario.validation import OptionError, ScenarioConfig, build_config
from .slo import Thresholds, check_thresholds

__all__ = ["BaselineInUse", "LoadOptionError", "LoadOptions", "Prepared", "check_roles", "parse_seconds", "prepare",
           "prepare_worker", "scenario_values"]

_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")
MAX_RUN_TIME = 24 * 3600

#: Where a line goes as soon as it is known (stderr for the CLI); already redacted.
Show = Callable[[str], None]


class LoadOptionError(ValueError):
    """A mistake in the options: one line saying what to fix (the CLI's usage error, exit 2); nothing started."""


def _default(key: str) -> Any:
    """The default of load's option ``key``: its declaration's (conformance/settings/load_options.py, declarations.py)."""
    return default_of("load", key)


@dataclass
class LoadOptions:
    """What ``token-conformance load`` takes, by its option names (dest); the defaults are the CLI's, declared once
    with the option in conformance/settings (tests/settings/test_declarations.py holds one field per option)."""

    url: str | None = _default("url")
    # run
    scenario: str = _default("scenario")
    users: int | None = _default("users")
    spawn_rate: float = _default("spawn_rate")
    #: A duration ("30s", "2m", "1h30m") or whole seconds (an int, as a Python caller may write it).
    run_time: str | int | None = _default("run_time")
    stop_timeout: str | int = _default("stop_timeout")
    processes: str | int | None = _default("processes")
    report_dir: str = _default("report_dir")
    progress_interval: float = _default("progress_interval")
    # clients
    profile: str | None = _default("profile")
    app_id: str | None = _default("app_id")
    certificate_file: str | None = _default("certificate_file")
    expiry: int = _default("expiry")
    renew_margin: float = _default("renew_margin")
    cycles: int = _default("cycles")
    role_mix: str = _default("role_mix")
    tokentype_mix: str | None = _default("tokentype_mix")
    expiry_tolerance: float = _default("expiry_tolerance")
    strict_roles: bool = _default("strict_roles")
    request_timeout: float = _default("request_timeout")
    retry_interval: float = _default("retry_interval")
    insecure: bool = _default("insecure")
    header: Sequence[str] | None = _default("header")
    header_file: str | None = _default("header_file")
    # SLOs
    max_p95_ms: float = _default("max_p95_ms")
    max_failure_ratio: float = _default("max_failure_ratio")
    max_dropped: int = _default("max_dropped")
    max_invalid: int = _default("max_invalid")
    max_limited_ratio: float = _default("max_limited_ratio")
    # baseline and CI
    baseline: str | None = _default("baseline")
    baseline_force: bool = _default("baseline_force")
    summary_md: str | None = _default("summary_md")
    # several machines
    master: bool = _default("master")
    expect_workers: int | None = _default("expect_workers")
    expect_workers_max_wait: int | None = _default("expect_workers_max_wait")
    master_bind_host: str | None = _default("master_bind_host")
    master_bind_port: int | None = _default("master_bind_port")
    worker: bool = _default("worker")
    master_host: str | None = _default("master_host")
    master_port: int | None = _default("master_port")
    master_wait: float | None = _default("master_wait")
    # renew_storm, ramp and capacity
    cohorts: int | None = _default("cohorts")
    cohort_interval: float | None = _default("cohort_interval")
    step_users: int | None = _default("step_users")
    step_time: float | None = _default("step_time")
    start_rate: float | None = _default("start_rate")
    step_rate: float | None = _default("step_rate")
    max_rate: float | None = _default("max_rate")


def parse_seconds(text: str | int, option: str, minimum: int = 1) -> int:
    """'90', '90s', '2m', '1h30m' or the int 90 (a Python caller's) -> whole seconds (Locust counts whole seconds
    too); anything else is a LoadOptionError that names the option."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise LoadOptionError(f"{option}: {text!r} is not a duration; use e.g. 30s, 2m, 1h30m or a whole number of "
                              "seconds")
    match = _TIMESPAN.fullmatch(text.strip().lower()) if text and text.strip() else None
    if match is None or not any(match.groups()):
        raise LoadOptionError(f"{option}: {text!r} is not a duration; use e.g. 30s, 2m, 1h30m or a number of seconds")
    h, m, s = (int(g or 0) for g in match.groups())
    seconds = h * 3600 + m * 60 + s
    if not minimum <= seconds <= MAX_RUN_TIME:
        raise LoadOptionError(f"{option} must be between {minimum} s and {MAX_RUN_TIME // 3600} h, got {seconds} s")
    return seconds


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise LoadOptionError(message)


def _check_declared(opts: LoadOptions, *keys: str) -> None:
    """Each option's declared rule (conformance/settings/load_options.py), in this order: the first refusal is the error."""
    for key in keys:
        reason = problem(key, getattr(opts, key))
        _check(reason is None, f"{_flag_name(key)} {reason}")


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
        given = opts.header or ()
        # One string is one header (a Python caller's header="X-Key: v" was read one character per header).
        return resolve((given,) if isinstance(given, str) else given, opts.header_file)
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
    """The scenario's own options, keyed by their declared Locust dest (the client's, then the shape's given ones).

    A shape's option given to another scenario is refused, naming the scenarios that take it; those of one scenario
    are looked at before those several share (the order of that message and of Locust's argv)."""
    values: dict[str, Any] = {locust_dest(key): getattr(opts, key) for key in CLIENT_KEYS}
    shapes: dict[tuple[str, ...], list[str]] = {}
    for declared in sorted((o for o in locust_options() if o.locust_scenarios), key=lambda o: len(o.locust_scenarios)):
        shapes.setdefault(declared.locust_scenarios, []).append(declared.key)
    for scenarios, keys in shapes.items():
        given = {key: getattr(opts, key) for key in keys if getattr(opts, key) is not None}
        if given and opts.scenario not in scenarios:
            names = ", ".join(_flag_name(key) for key in given)
            raise LoadOptionError(f"{names} only apply to --scenario {' or --scenario '.join(scenarios)}")
        values.update({locust_dest(key): value for key, value in given.items()})
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
    """How the command line names option ``dest`` (its declared flag; the positional: URL)."""
    return "URL" if dest == "url" else option(dest).flags[-1]


def _given(opts: LoadOptions) -> list[str]:
    """The options given (those not at their defaults), by dest."""
    defaults = LoadOptions()
    return [f.name for f in dataclasses.fields(opts) if getattr(opts, f.name) != getattr(defaults, f.name)]


def _integer(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _check_port(value: int | None, option: str) -> None:
    _check(value is None or 1 <= value <= 65535, f"{option} must be a port number (1-65535), got {value}")


def check_roles(opts: LoadOptions) -> None:
    """--master and --worker: each with its own options, never both; neither: none of theirs."""
    given = _given(opts)
    _check(not (opts.master and opts.worker), "--master and --worker exclude each other: a process is one or the other")
    for dest in ("master_bind_port", "master_port"):
        _check_port(getattr(opts, dest), _flag_name(dest))
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
        _check_declared(opts, "expect_workers", "expect_workers_max_wait")
        _check(opts.processes is None, "--processes does not apply to --master: start workers with --worker (and "
               "--processes N or auto on each worker machine)")
    if opts.worker:
        _check(opts.master_host is not None and opts.master_host.strip() != "",
               "--worker needs --master-host: the address of the machine running --master")
        _check_declared(opts, "master_wait")
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
    problem = summary_folder_problem(path)
    if problem:
        raise LoadOptionError(problem)


@dataclass
class BaselineInUse:
    """The --baseline document, read and matched against this run before it starts."""

    document: dict[str, Any]
    notes: list[str]
    path: str


def _baseline(opts: LoadOptions, url: str | None, run_time: int) -> BaselineInUse | None:
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
    return BaselineInUse(doc, notes, opts.baseline)


@dataclass
class Prepared:
    """The options checked and resolved: everything a run needs before it starts."""

    opts: LoadOptions
    values: dict[str, Any]
    config: ScenarioConfig
    #: the profile, request headers and certificate, each read once (the same frozen object check and watch pass on)
    inputs: Inputs
    url: str | None
    run_time: int
    stop_timeout: int
    thresholds: Thresholds
    report_dir: Path
    baseline: BaselineInUse | None
    #: the run's load.json document, once there is one (what an interruption keeps)
    measured: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> Mapping[str, str]:
        return self.inputs.headers

    @property
    def certificate(self) -> str | None:
        return self.inputs.certificate


def prepare(opts: LoadOptions, show: Show) -> tuple[Prepared, str | None]:
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
    _check_declared(opts, "users", "start_rate", "step_rate", "max_rate", "spawn_rate")
    capacity_plan = (plan_from(opts.start_rate, opts.step_rate, opts.max_rate, opts.step_time)
                     if opts.scenario == "capacity" else None)
    if opts.run_time is None:
        opts.run_time = f"{math.ceil(capacity_plan.worst_case_s())}s" if capacity_plan else "30s"
    run_time = parse_seconds(opts.run_time, "--run-time")
    if capacity_plan is not None:
        _check_capacity_fit(capacity_plan, run_time, show)
    stop_timeout = parse_seconds(opts.stop_timeout, "--stop-timeout", minimum=0)
    _check_declared(opts, "progress_interval")
    if opts.processes and sys.platform == "win32":
        raise LoadOptionError("--processes needs fork(): not available on Windows")
    _check_declared(opts, "cohorts", "cohort_interval", "step_users", "step_time")
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
            + (f"run for at least {2 * first_renewal:g} s, or shorten the cycle (--expiry, --renew-margin)"
               if config.profile.expiry_input else
               f"the profile's tokens live a fixed {config.expiry} s: run for at least {2 * first_renewal:g} s, or "
               "measure the server with --scenario capacity, which renews without waiting for expiry")
        )
    report_dir = _report_dir(opts.report_dir)
    url = _check_url(opts.url) if opts.url else None
    baseline = _baseline(opts, url, run_time)
    if opts.master:
        _check_can_listen(opts.master_bind_host or DEFAULT_MASTER_BIND_HOST,
                          opts.master_bind_port or DEFAULT_MASTER_PORT)
    inputs = Inputs(config.profile, MappingProxyType(headers), certificate)
    prepared = Prepared(opts, values, config, inputs, url, run_time, stop_timeout, thresholds, report_dir, baseline)
    return prepared, auto_note


def prepare_worker(opts: LoadOptions) -> tuple[WorkerPlan, str | None]:
    """``load --worker``: the plan of a worker machine, and the note that says what ``--processes auto`` chose."""
    check_roles(opts)
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
    return plan, note
