"""``token-conformance load``: run a Locust scenario against a token server and gate on SLOs.

A thin layer: parse and check options (usage errors exit 2 before anything
starts), choose the target (a URL, probed with one GET, or the embedded
reference server), and hand over to ``conformance.load``. Nothing here imports
locust: the scenario runs in a subprocess.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..certificate import read_certificate
from ..load.runner import (
    DEFAULT_EXPECT_WORKERS_MAX_WAIT,
    DEFAULT_MASTER_BIND_HOST,
    DEFAULT_MASTER_PORT,
    DEFAULT_MASTER_WAIT,
)
from ._common import CERTIFICATE_ENV, UsageError, add_request_options, read_headers

_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")
MAX_RUN_TIME = 24 * 3600


def parse_seconds(text: str, option: str, minimum: int = 1) -> int:
    """'90', '90s', '2m', '1h30m' -> whole seconds (Locust counts whole seconds too)."""
    match = _TIMESPAN.fullmatch(text.strip().lower()) if text and text.strip() else None
    if match is None or not any(match.groups()):
        raise UsageError(f"{option}: {text!r} is not a duration; use e.g. 30s, 2m, 1h30m or a number of seconds")
    h, m, s = (int(g or 0) for g in match.groups())
    seconds = h * 3600 + m * 60 + s
    if not minimum <= seconds <= MAX_RUN_TIME:
        raise UsageError(f"{option} must be between {minimum} s and {MAX_RUN_TIME // 3600} h, got {seconds} s")
    return seconds


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Raw epilog, and every option's default in its help, once and as "(default: X)" (unless there is none, or the
    help names it). A default of 0 is a default (``0 in (False,)`` is true: compared by identity here)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or "(default" in text or any(default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        if not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def add_parser(parser: argparse.ArgumentParser) -> None:
    from ..load.protocol import SCENARIOS
    from ..load.slo import DEFAULT_MAX_FAILURE_RATIO, DEFAULT_MAX_P95_MS

    parser.formatter_class = _HelpFormatter
    parser.epilog = (
        "scenarios:\n"
        + "".join(f"  {name:16} {text}\n" for name, text in SCENARIOS.items())
        + "\nWithout URL the embedded reference server is started and loaded (signatures verified).\n"
        f"The app certificate comes from {CERTIFICATE_ENV} or --certificate-file, never from the command line.\n"
        "Exit codes: 0 the SLOs held, 1 an SLO was breached, 2 could not run or judge (bad options,\n"
        "unreachable or refusing target, no request completed, nothing renewed, generator-bound) or\n"
        "interrupted (Ctrl-C, SIGTERM: load.json then keeps what was measured and says 'interrupted').\n"
        "A breached SLO wins: exit 1 even when nothing was renewed or the generator was the bottleneck.\n"
        "\nSeveral machines: 'load URL --master --expect-workers N' on one (judged there, like a local run),\n"
        "'load --worker --master-host HOST' on each of N others (docs/load.md, \"Several machines\")."
    )
    parser.add_argument("url", nargs="?", help="base URL of the token server (default: the embedded reference server)")
    run = parser.add_argument_group("run")
    run.add_argument("--scenario", default="fetch_and_renew", help="bundled scenario name or locustfile path")
    run.add_argument(
        "--users", type=int, default=None, help="simulated clients (default: 10; capacity: one arrival loop per process)"
    )
    run.add_argument("--spawn-rate", type=float, default=10.0, help="clients started per second")
    run.add_argument("--run-time", default=None,
                     help="how long to run, e.g. 30s, 2m (default: 30s; capacity: an upper bound, by default "
                          "what its plan needs, ending earlier when the knee is found)")
    run.add_argument("--stop-timeout", default="3s", help="time for requests in flight at the end")
    run.add_argument("--processes", default=None, metavar="N|auto",
                     help="Locust worker processes on this machine, one per core; auto: one per free core "
                     "(default: one process, no workers)")
    run.add_argument("--report-dir", default="reports", help="where load.json, plots and Locust reports go")
    run.add_argument("--progress-interval", type=float, default=3.0, help="seconds between progress lines (0: none)")
    client = parser.add_argument_group("clients")
    client.add_argument("--profile", default=None, help="server profile: bundled name or JSON file (default: agora-token-service)")
    client.add_argument("--app-id", default=None, help="expected app id of every token, 32 hex characters (default: not checked)")
    client.add_argument(
        "--certificate-file",
        default=None,
        help="file holding the app certificate, to verify signatures (default: "
        f"${CERTIFICATE_ENV}; without either, signatures are not checked)",
    )
    client.add_argument("--expiry", type=int, default=10, help="token lifetime to ask for, seconds")
    client.add_argument("--renew-margin", type=float, default=5.0, help="renew this long before expiry")
    client.add_argument("--cycles", type=int, default=3, help="renewals per session before a client leaves")
    client.add_argument("--role-mix", default="publisher=1,subscriber=1", help="e.g. publisher=1,subscriber=3")
    client.add_argument("--tokentype-mix", default=None, help="e.g. uid=3,userAccount=1 (default: the profile's)")
    client.add_argument("--expiry-tolerance", type=float, default=2.0, help="allowed expiry error, seconds")
    client.add_argument("--strict-roles", action="store_true", help="subscriber tokens must not carry publish rights")
    client.add_argument("--request-timeout", type=float, default=10.0, help="client timeout per request")
    client.add_argument("--retry-interval", type=float, default=1.0, help="seconds between retries after a failure")
    client.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    slo = parser.add_argument_group("SLOs")
    slo.add_argument("--max-p95-ms", type=float, default=DEFAULT_MAX_P95_MS, help="p95 latency of fetch and renew")
    slo.add_argument(
        "--max-failure-ratio", type=float, default=DEFAULT_MAX_FAILURE_RATIO, help="share of failed token requests"
    )
    slo.add_argument("--max-dropped", type=int, default=0, help="dropped sessions allowed")
    slo.add_argument("--max-invalid", type=int, default=0, help="invalid tokens allowed")
    slo.add_argument("--max-limited-ratio", type=float, default=1.0,
                     help="largest share of token requests answered 429 / 503 + Retry-After (rate limited; "
                     "counted apart from failures; 1: not gated)")
    add_request_options(client, "load")
    base = parser.add_argument_group("baseline and CI")
    base.add_argument("--baseline", metavar="LOAD_JSON", help="load.json of an earlier run: exit 1 when p50/p95/p99, "
                      "throughput, failure or invalid-token ratio is worse beyond run-to-run noise (docs/load.md)")
    base.add_argument("--baseline-force", action="store_true",
                      help="compare with a baseline of another scenario, user count or target anyway")
    base.add_argument("--summary-md", metavar="FILE",
                      help="also write a Markdown summary there (appended to $GITHUB_STEP_SUMMARY whenever set)")
    dist = parser.add_argument_group(
        "several machines (Locust's master and workers; docs/load.md, \"Several machines\")")
    dist.add_argument("--master", action="store_true",
                      help="run the load on workers started elsewhere with --worker, judge it here")
    dist.add_argument("--expect-workers", type=int, default=None, metavar="N",
                      help="--master: start when N workers are connected")
    dist.add_argument("--expect-workers-max-wait", type=int, default=None, metavar="SECONDS",
                      help=f"--master: give up (exit 2) when they are not all there after this long "
                      f"(default: {DEFAULT_EXPECT_WORKERS_MAX_WAIT})")
    dist.add_argument("--master-bind-host", default=None, metavar="HOST",
                      help=f"--master: interface to listen on for workers (default: {DEFAULT_MASTER_BIND_HOST}, all)")
    dist.add_argument("--master-bind-port", type=int, default=None, metavar="PORT",
                      help=f"--master: port to listen on for workers (default: {DEFAULT_MASTER_PORT})")
    dist.add_argument("--worker", action="store_true",
                      help="be a worker of a master started with --master: the scenario and its options come from "
                      "the master; the certificate and credential headers from here")
    dist.add_argument("--master-host", default=None, metavar="HOST", help="--worker: the master's address")
    dist.add_argument("--master-port", type=int, default=None, metavar="PORT",
                      help=f"--worker: the master's port (default: {DEFAULT_MASTER_PORT})")
    dist.add_argument("--master-wait", type=float, default=None, metavar="SECONDS",
                      help=f"--worker: give up (exit 2) when the master has not answered after this long "
                      f"(default: {DEFAULT_MASTER_WAIT:g})")
    shapes = parser.add_argument_group("renew_storm, ramp and capacity")
    shapes.add_argument("--cohorts", type=int, default=None, help="renew_storm: cohorts joining at once (default: 1)")
    shapes.add_argument("--cohort-interval", type=float, default=None, help="renew_storm: seconds between cohorts (default: renewal period / cohorts)")
    shapes.add_argument("--step-users", type=int, default=None, help="ramp: users added per step (default: a fifth of --users)")
    shapes.add_argument("--step-time", type=float, default=None, help="ramp, capacity: seconds per step (default: 10; capacity's search: 5)")
    shapes.add_argument("--start-rate", type=float, default=None, help="capacity: requests/s of the first step (default: 50)")
    shapes.add_argument(
        "--step-rate", type=float, default=None,
        help="capacity: requests/s added per step: the linear plan (default: a search that doubles the rate "
             "while steps hold, then bisects to within 10 %% of the knee and stops)"
    )
    shapes.add_argument("--max-rate", type=float, default=None, help="capacity: highest rate tried (default: 1000 with --step-rate; the search: 100000)")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the URL must look like http://host:port, got {url!r}")
    if parts.query or parts.fragment:
        raise UsageError("the URL must be the server's base URL, without query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UsageError(f"the URL has an invalid port: {url!r}") from None
    return url.rstrip("/")


def scenario_values(args: argparse.Namespace) -> dict[str, Any]:
    """The scenario's own options, keyed by the Locust option dest (see conformance/load/scenario/common.py)."""
    values: dict[str, Any] = {
        "expiry": args.expiry,
        "renew_margin": args.renew_margin,
        "cycles": args.cycles,
        "role_mix": args.role_mix,
        "tokentype_mix": args.tokentype_mix,
        "token_profile": args.profile,
        "app_id": args.app_id,
        "expiry_tolerance": args.expiry_tolerance,
        "strict_roles": args.strict_roles,
        "request_timeout": args.request_timeout,
        "retry_interval": args.retry_interval,
        "insecure": args.insecure,
    }
    shape: dict[str | tuple[str, ...], dict[str, Any]] = {
        "renew_storm": {"cohorts": args.cohorts, "cohort_interval": args.cohort_interval},
        "ramp": {"step_users": args.step_users},
        "capacity": {"start_rate": args.start_rate, "step_rate": args.step_rate, "max_rate": args.max_rate},
        ("ramp", "capacity"): {"step_time": args.step_time},
    }
    for scenario, options in shape.items():
        given = {k: v for k, v in options.items() if v is not None}
        names_ok = scenario if isinstance(scenario, tuple) else (scenario,)
        if given and args.scenario not in names_ok:
            scenario = " or --scenario ".join(names_ok)
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise UsageError(f"{names} only apply to --scenario {scenario}")
        values.update(given)
    return values


def _capacity_plan(args: argparse.Namespace) -> Any:
    """The capacity plan the options ask for (conformance/load/scenario/capacity_plan.py: no Locust imported)."""
    from ..load.scenario.capacity_plan import plan_from

    return plan_from(args.start_rate, args.step_rate, args.max_rate, args.step_time)


def _check_capacity_fit(plan: Any, run_time: int) -> None:
    """A --run-time that cannot hold one step is refused; one that may cut the plan short is warned about."""
    from ..load.scenario.capacity_plan import fit_problem

    problem = fit_problem(plan, run_time)
    if problem is None:
        return
    what, why = problem
    if what == "refuse":
        raise UsageError(why)
    print(f"token-conformance load: warning: {why}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ..load.protocol import SCENARIOS
    from ..load.scenario.validation import OptionError, build_config
    from ..load.slo import Thresholds, check_thresholds

    _check_roles(args)
    if args.worker:
        return _run_worker(args)
    _check(args.processes is None or args.processes == "auto" or _integer(args.processes),
           f"--processes takes a number or 'auto', not {args.processes!r}")
    if args.processes is not None and args.processes != "auto":
        args.processes = int(args.processes)
        _check(args.processes >= 1, "--processes must be at least 1")
    auto_note = _auto_processes(args) if args.processes == "auto" else None
    if args.scenario == "capacity":
        _check(args.users is None, "--users does not apply to --scenario capacity: it sets rates (--start-rate, "
               "--step-rate, --max-rate) and runs one arrival loop per generator process (--processes)")
        args.users = (args.expect_workers if args.master else args.processes) or 1
    elif args.users is None:
        args.users = 10
    _check(args.users >= 1, "--users must be at least 1")
    for name in ("start_rate", "step_rate", "max_rate"):
        value = getattr(args, name)
        _check(value is None or value > 0, f"--{name.replace('_', '-')} must be > 0")
    _check(args.spawn_rate > 0, "--spawn-rate must be > 0")
    capacity_plan = _capacity_plan(args) if args.scenario == "capacity" else None
    if args.run_time is None:
        args.run_time = f"{math.ceil(capacity_plan.worst_case_s())}s" if capacity_plan else "30s"
    run_time = parse_seconds(args.run_time, "--run-time")
    if capacity_plan is not None:
        _check_capacity_fit(capacity_plan, run_time)
    stop_timeout = parse_seconds(args.stop_timeout, "--stop-timeout", minimum=0)
    _check(args.progress_interval >= 0, "--progress-interval must be >= 0")
    if args.processes and sys.platform == "win32":
        raise UsageError("--processes needs fork(): not available on Windows")
    _check(args.cohorts is None or args.cohorts >= 1, "--cohorts must be at least 1")
    _check(args.cohort_interval is None or args.cohort_interval >= 0, "--cohort-interval must be >= 0")
    _check(args.step_users is None or args.step_users >= 1, "--step-users must be at least 1")
    _check(args.step_time is None or args.step_time >= 1, "--step-time must be at least 1 (second)")
    if args.scenario not in SCENARIOS and not (args.scenario.endswith(".py") and Path(args.scenario).is_file()):
        raise UsageError(f"unknown scenario {args.scenario!r}: use one of {', '.join(SCENARIOS)} or a locustfile path")
    thresholds = Thresholds(args.max_p95_ms, args.max_failure_ratio, args.max_dropped, args.max_invalid,
                            args.max_limited_ratio)
    headers = read_headers(args)
    problem = check_thresholds(thresholds)
    if problem:
        raise UsageError(problem)
    values = scenario_values(args)
    if args.url is None and args.app_id:
        raise UsageError("--app-id is for a URL target; the embedded reference server's app id is used")
    if args.url is None and args.certificate_file:
        raise UsageError("--certificate-file is for a URL target; the embedded server's certificate is used")
    certificate = read_certificate(args.certificate_file) if args.url else None
    try:
        config = build_config(values, certificate)
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    first_renewal = config.expiry - config.renew_margin
    if args.scenario in SCENARIOS and args.scenario != "capacity" and run_time <= first_renewal:
        raise UsageError(
            f"--run-time {run_time} s ends before the first renewal ({config.expiry} s expiry - "
            f"{config.renew_margin:g} s margin = {first_renewal:g} s after a fetch): nothing would be renewed; "
            f"run for at least {2 * first_renewal:g} s, or shorten the cycle (--expiry, --renew-margin)"
        )
    report_dir = Path(args.report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {args.report_dir!r}: {exc.strerror}") from None
    url = _check_url(args.url) if args.url else None
    baseline = _baseline(args, url, run_time)
    if args.master:
        _check_can_listen(args.master_bind_host or DEFAULT_MASTER_BIND_HOST, args.master_bind_port or DEFAULT_MASTER_PORT)
    if auto_note:
        print(f"load: {auto_note}", file=sys.stderr, flush=True)

    from ..interruption import signals_as_interrupt

    # SIGINT and SIGTERM end the run as "interrupted" (exit 2): Locust and the embedded server are stopped
    # and load.json keeps what was measured (conformance/interruption.py, conformance.load.runner).
    measured: list[dict[str, Any]] = []  # the run's load.json document, once there is one
    started = time.monotonic()
    with signals_as_interrupt():
        try:
            return _run_on_target(args, values, config, headers, certificate, url, run_time, stop_timeout,
                                  thresholds, report_dir, baseline, measured)
        except KeyboardInterrupt:
            return _interrupted(args, url, report_dir, run_time, time.monotonic() - started, measured)


#: Options only a master takes, and only a worker takes (dest names).
_MASTER_ONLY = ("expect_workers", "expect_workers_max_wait", "master_bind_host", "master_bind_port")
_WORKER_ONLY = ("master_host", "master_port", "master_wait")
#: What a worker may be given: the rest (the scenario, its options, SLOs, the target) comes from the master.
_WORKER_OPTIONS = ("worker", *_WORKER_ONLY, "processes", "certificate_file", "header", "header_file", "report_dir")


def _flag_name(dest: str) -> str:
    return "URL" if dest == "url" else "--" + dest.replace("_", "-")


def _given(args: argparse.Namespace) -> list[str]:
    """The options given on the command line (those not at their defaults), by dest."""
    parser = argparse.ArgumentParser(add_help=False)
    add_parser(parser)
    defaults = vars(parser.parse_args([]))
    return [dest for dest, value in vars(args).items() if dest in defaults and value != defaults[dest]]


def _integer(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _check_port(value: int | None, option: str) -> None:
    _check(value is None or 1 <= value <= 65535, f"{option} must be a port number (1-65535), got {value}")


def _check_roles(args: argparse.Namespace) -> None:
    """--master and --worker: each with its own options, never both; neither: none of theirs."""
    given = _given(args)
    _check(not (args.master and args.worker), "--master and --worker exclude each other: a process is one or the other")
    for dest, option in (("master_bind_port", "--master-bind-port"), ("master_port", "--master-port")):
        _check_port(getattr(args, dest), option)
    if not args.master:
        stray = [d for d in _MASTER_ONLY if d in given]
        _check(not stray, f"{', '.join(map(_flag_name, stray))} only apply with --master")
    if not args.worker:
        stray = [d for d in _WORKER_ONLY if d in given]
        _check(not stray, f"{', '.join(map(_flag_name, stray))} only apply with --worker")
    if args.master:
        _check(args.url is not None, "--master needs the token server's URL (the embedded reference server listens on "
               "this machine's loopback only, out of the workers' reach)")
        _check(args.expect_workers is not None, "--master needs --expect-workers N: how many workers must connect "
               "before the load starts")
        _check(args.expect_workers >= 1, "--expect-workers must be at least 1")
        _check(args.expect_workers_max_wait is None or args.expect_workers_max_wait >= 1,
               "--expect-workers-max-wait must be at least 1 (second)")
        _check(args.processes is None, "--processes does not apply to --master: start workers with --worker (and "
               "--processes N or auto on each worker machine)")
    if args.worker:
        _check(args.master_host is not None and args.master_host.strip() != "",
               "--worker needs --master-host: the address of the machine running --master")
        _check(args.master_wait is None or args.master_wait > 0, "--master-wait must be > 0 (seconds)")
        stray = [d for d in given if d not in _WORKER_OPTIONS]
        _check(not stray, f"{', '.join(map(_flag_name, stray))}: set on the master; a worker takes the scenario, "
               "its options and the target from the master (its certificate and headers from here)")


def _check_can_listen(host: str, port: int) -> None:
    """A master's port taken (another master?) is one clear line, before anything starts."""
    import socket

    address = None if host in ("*", "0.0.0.0") else host  # noqa: S104 - where the user asked the master to listen
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--master-bind-host {host!r}: {exc.strerror}") from None
    family, kind, proto, _name, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            raise UsageError(f"the master cannot listen on {host}:{port} ({exc.strerror}): another master there? "
                             "choose --master-bind-port") from None


def _auto_processes(args: argparse.Namespace) -> str:
    """``--processes auto``: one worker per free core (the embedded server keeps one); one: no workers at all."""
    from ..load.runner import free_cores

    free, why = free_cores(reserve=1 if args.url is None and not args.worker else 0)
    if args.worker:
        args.processes = free
        return f"--processes auto: {why}: {free} worker process{'es' if free > 1 else ''}"
    args.processes = free if free > 1 else None
    chosen = f"{free} worker processes" if free > 1 else "one process, no workers (a master and one worker gain nothing)"
    return f"--processes auto: {why}: {chosen}"


def _run_worker(args: argparse.Namespace) -> int:
    """``load --worker``: serve a master until it ends the run; exit 0 then, 2 without a master or when it is lost."""
    from ..interruption import signals_as_interrupt
    from ..load.runner import WorkerPlan, run_worker

    processes = args.processes
    note = None
    if processes == "auto":
        note = _auto_processes(args)
        processes = args.processes
    elif processes is not None:
        _check(_integer(processes) and int(processes) >= 1, f"--processes takes a number >= 1 or 'auto', not {processes!r}")
        processes = int(processes)
    report_dir = Path(args.report_dir)
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report directory {args.report_dir!r}: {exc.strerror}") from None
    plan = WorkerPlan(
        master_host=args.master_host.strip(),
        master_port=args.master_port or DEFAULT_MASTER_PORT,
        report_dir=report_dir,
        processes=processes,
        master_wait=args.master_wait or DEFAULT_MASTER_WAIT,
        certificate=read_certificate(args.certificate_file),
        headers=read_headers(args),
    )
    redactor = plan.redactor()

    def show(line: str) -> None:
        print(redactor.redact(line), file=sys.stderr, flush=True)

    if note:
        show(f"load: {note}")
    show(f"load: worker for the master at {plan.master_host}:{plan.master_port}"
         + (f", {processes} processes" if processes else "")
         + f" (waiting up to {plan.master_wait:g} s for it)")
    if not plan.certificate:
        show(f"load: signatures are NOT checked on this worker: no app certificate (give it in {CERTIFICATE_ENV} "
             "or --certificate-file)")
    with signals_as_interrupt():
        outcome = run_worker(plan, show)
    counts: dict[str, int] = {}
    for doc in outcome.summaries:
        for key, n in ((doc.get("tally") or {}).get("counts") or {}).items():
            counts[key] = counts.get(key, 0) + int(n)
    own = (f"this machine's workers sent {counts.get('fetch', 0)} fetches and {counts.get('renew', 0)} renewals "
           f"({counts.get('invalid', 0)} invalid tokens); counts in {report_dir}/worker-*.json")
    if outcome.ended == "master ended the run" and not counts.get("fetch") and not counts.get("renew"):
        show(f"token-conformance load: error: the master ended the run before this machine's workers sent any "
             f"request (did it give up waiting for its workers, or have fewer users than workers?); {own}")
        return 2
    if outcome.ended == "master ended the run":
        print(f"worker: the master ended the run; {own}")
        return 0
    if outcome.ended == "no master":
        show(f"token-conformance load: error: no master answered at {plan.master_host}:{plan.master_port} within "
             f"{plan.master_wait:g} s (is it started with --master, is the port open?); log: {outcome.log_path}")
        return 2
    if outcome.ended == "lost the master":
        show(f"token-conformance load: error: lost the master (no heartbeat for 60 s); {own}")
        return 2
    if outcome.ended == "interrupted":
        show(f"token-conformance load: worker interrupted by {outcome.interrupted}; {own}")
        return 2
    show(f"token-conformance load: error: the worker ended (Locust exit code {outcome.returncode}) without the "
         f"master ending the run; log: {outcome.log_path}")
    for line in outcome.tail[-10:]:
        show("  " + line)
    return 2


def _interrupted(
    args: argparse.Namespace, url: str | None, report_dir: Path, run_time: int, elapsed: float,
    measured: list[dict[str, Any]],
) -> int:
    """Interrupted outside Locust's run (probe, server start, report writing): load.json says so anyway.

    Written with whatever this run has measured (``measured``), or the bare document: a stale load.json of
    an earlier run must not pass for this one.
    """
    import json

    from ..interruption import last_signal
    from ..load.report import LOAD_JSON, build_load_json, mark_interrupted

    signal_name = last_signal()
    if measured:
        doc = measured[-1]
    else:
        doc = build_load_json({}, scenario=args.scenario, target=url or "embedded reference server",
                              embedded=url is None, plan={"users": args.users, "run_time_s": run_time})
    if not doc.get("interrupted"):
        mark_interrupted(doc, signal_name, elapsed, lost=None if measured else "before the load started")
    path = report_dir / LOAD_JSON
    try:
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    except OSError:
        pass
    if not measured:  # CI pages show the Markdown summary: it says so too
        from ..report.markdown import load_markdown
        from .check import write_summary_or_warn

        write_summary_or_warn(load_markdown(doc), args.summary_md, "load")
    print(f"token-conformance load: {doc['reason']} (exit 2; report: {path})", file=sys.stderr)
    return 2


def _run_on_target(
    args: argparse.Namespace, values: dict[str, Any], config: Any, headers: dict[str, str], certificate: str | None,
    url: str | None, run_time: int, stop_timeout: int, thresholds: Any, report_dir: Path,
    baseline: tuple[dict[str, Any], list[str]] | None, measured: list[dict[str, Any]],
) -> int:
    from ..load.runner import LoadPlan, MasterSpec, Refusal, unreachable_reason

    master = None
    if args.master:
        master = MasterSpec(
            expect_workers=args.expect_workers,
            bind_host=args.master_bind_host or DEFAULT_MASTER_BIND_HOST,
            bind_port=args.master_bind_port or DEFAULT_MASTER_PORT,
            max_wait=args.expect_workers_max_wait or DEFAULT_EXPECT_WORKERS_MAX_WAIT,
        )

    def plan_for(target: str, cert: str | None, app_id: str | None) -> LoadPlan:
        options = dict(values)
        if app_id:
            options["app_id"] = app_id
        return LoadPlan(
            scenario=args.scenario,
            url=target,
            users=args.users,
            spawn_rate=args.spawn_rate,
            run_time=run_time,
            report_dir=report_dir,
            stop_timeout=stop_timeout,
            processes=args.processes,
            thresholds=thresholds,
            scenario_options=options,
            progress_interval=args.progress_interval,
            certificate=cert,
            headers=headers,
            master=master,
        )

    if url is not None:
        # Any answer will do (a POST shape answers a GET with 405): the probe asks whether the target is there.
        probe_path = config.profile.rtc_request("load-probe", "publisher", "uid", "1", expiry=config.expiry,
                                                lenient=True).path
        problem = unreachable_reason(
            url,
            probe_path,
            timeout=config.request_timeout,
            verify_tls=not config.insecure,
            headers=headers,
        )
        if problem:
            # A 401/403 is an answer: the address is right, the credentials are not (newcomer finding 22).
            what = f"{url} refused the probe request" if isinstance(problem, Refusal) else f"cannot reach {url}"
            print(f"token-conformance load: error: {what}: {problem}", file=sys.stderr)
            return 2
        return _execute(plan_for(url, certificate, None), args, embedded=False, baseline=baseline, measured=measured)

    from ..reference.server import ReferenceServer

    with ReferenceServer() as server:
        plan = plan_for(server.url, server.settings.certificate, server.settings.app_id)
        return _execute(plan, args, embedded=True, baseline=baseline, measured=measured)


def _baseline(args: argparse.Namespace, url: str | None, run_time: int) -> tuple[dict[str, Any], list[str]] | None:
    """--baseline read and matched against this run before it starts; --summary-md checked too."""
    from ..load.baseline import LoadBaselineError, load_baseline, refusal_reasons
    from .check import check_summary_path

    check_summary_path(args.summary_md)
    if args.baseline_force and not args.baseline:
        raise UsageError("--baseline-force needs --baseline LOAD_JSON")
    if not args.baseline:
        return None
    try:
        doc = load_baseline(args.baseline)
    except LoadBaselineError as exc:
        raise UsageError(str(exc)) from None
    reasons = refusal_reasons(doc, scenario=args.scenario, target=url, users=args.users, run_time_s=run_time)
    if reasons and not args.baseline_force:
        raise UsageError(f"the baseline {args.baseline!r} measured another run: {'; '.join(reasons)} "
                         "(--baseline-force compares anyway)")
    return doc, [f"forced: {r}" for r in reasons]


def _against_baseline(
    baseline: tuple[dict[str, Any], list[str]], doc: dict[str, Any], files: dict[str, Path], path: str
) -> Any:
    """Compare, plot both runs side by side, and add both to load.json and load.html."""
    import json

    from ..load import baseline as lb
    from ..load.report import PLOTS, render_html

    comparison = lb.compare(baseline[0], doc, baseline_path=path)
    comparison.notes = baseline[1]
    doc["baseline"] = comparison.as_dict()
    images = {name: files[name] for name in PLOTS if name in files}
    images["baseline"] = lb.plot(baseline[0], doc, files["load_json"].with_name("baseline.png"))
    doc.setdefault("files", {})["baseline"] = "baseline.png"
    files["load_json"].write_text(json.dumps(doc, indent=2), encoding="utf-8")
    files["load_html"].write_text(render_html(doc, images), encoding="utf-8")
    return comparison


def _execute(
    plan: Any, args: argparse.Namespace, *, embedded: bool, baseline: tuple[dict[str, Any], list[str]] | None = None,
    measured: list[dict[str, Any]] | None = None,
) -> int:
    from ..load.protocol import NO_RENEWAL
    from ..load.report import build_load_json, mark_interrupted, write_load_reports
    from ..load.runner import run_locust

    redactor = plan.redactor()

    def show(line: str) -> None:
        print(redactor.redact(line), file=sys.stderr, flush=True)

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
            return _too_few_workers(plan, args, embedded, arrived)
    if outcome.summary is None and not outcome.interrupted:
        show(f"token-conformance load: error: Locust exited with code {outcome.returncode} and left no summary")
        for line in outcome.tail[-15:]:
            show("  " + line)
        show(f"  full log: {outcome.log_path}")
        return 2
    summary = outcome.summary or {}
    plan_info = {
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
    if measured is not None:
        measured.append(doc)
    files = write_load_reports(plan.report_dir, doc, outcome.summary)
    comparison = (  # partial figures of an interrupted run are no measurement to compare
        _against_baseline(baseline, doc, files, args.baseline)
        if baseline and doc["requests"] and not outcome.interrupted
        else None
    )
    print(redactor.redact(_text_summary(doc, files)))
    if comparison is not None:
        from ..load.baseline import terminal_lines

        print("\n".join(terminal_lines(comparison)))
    from ..report.markdown import load_markdown
    from .check import write_summary_or_warn

    write_summary_or_warn(redactor.redact(load_markdown(doc)), args.summary_md, "load")
    if outcome.interrupted:
        show(f"token-conformance load: {doc['reason']} (exit 2; report: {files['load_json']})")
        return 2
    if outcome.overran:
        show("token-conformance load: error: Locust overran its time bound and was stopped; results are partial")
        return 2
    if doc["requests"] == 0:
        show("token-conformance load: error: no token request completed; nothing to judge")
        return 2
    # A breach is a finding (exit 1); a run that renewed nothing, or whose latency is the generator's, and
    # breached nothing else judged too little (2).
    gen = doc.get("generator") or {}
    if gen.get("bound"):
        show("token-conformance load: the generator was the bottleneck: " + "; ".join(gen.get("reasons", [])))
        show(f"  what to do: {gen.get('advice')}")
    breaches = [b for b in doc["slo"]["breaches"] if b["slo"] not in ("renewals", "generator", "workers")]
    if breaches and doc["renew"]["requests"] == 0:
        # A finding wins over "could not judge" (README, docs/load.md): failures, invalid tokens or dropped
        # sessions stand whether or not anything was renewed. Say that renewal was not judged, though: first,
        # so that the breach stays the last line.
        show("token-conformance load: note: no renewal was made, so renewal was not judged; "
             "the SLO breached below decides the exit code (1)")
    for breach in breaches:
        show(f"SLO breached: {breach['slo']}: {breach['message']}")
        if breach["slo"] == "failure_ratio" and doc["failure_reasons"]:
            show(f"  why: {_reasons(doc['failure_reasons'])}")
    if breaches:
        return 1
    if doc["renew"]["requests"] == 0:
        show(f"token-conformance load: error: {NO_RENEWAL}")
        return 2
    lost = [b for b in doc["slo"]["breaches"] if b["slo"] == "workers"]
    if lost:
        show(f"token-conformance load: error: {lost[0]['message']}")
        return 2
    if any(b["slo"] == "generator" for b in doc["slo"]["breaches"]):
        show("token-conformance load: error: no verdict on latency measured by a saturated generator")
        return 2
    if not doc["slo"]["passed"]:
        return 1
    return 1 if comparison is not None and comparison.regressions else 0


_ARRIVED = re.compile(r"worker (\S+) connected \((\d+)")


def _workers_arrived(log_path: Path) -> list[str] | None:
    """The workers that connected, when the master gave up waiting for the rest (None: it did not give up)."""
    from ..load.runner import GAVE_UP_WAITING

    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if GAVE_UP_WAITING not in text:
        return None
    return list(dict.fromkeys(m.group(1) for m in _ARRIVED.finditer(text)))


def _too_few_workers(plan: Any, args: argparse.Namespace, embedded: bool, arrived: list[str]) -> int:
    """The master gave up waiting: exit 2, saying how many came; load.json says so (no stale report passes)."""
    import json

    from ..load.report import LOAD_JSON, build_load_json
    from ..report.markdown import load_markdown
    from .check import write_summary_or_warn

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
    write_summary_or_warn(load_markdown(doc), args.summary_md, "load")
    print(f"token-conformance load: error: {reason} (exit 2; report: {path})", file=sys.stderr)
    return 2


def _reasons(counts: dict[str, int], limit: int = 3) -> str:
    """The most frequent reasons first: "the body is not JSON" (12), "HTTP 503" (3)."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    more = len(counts) - len(top)
    return ", ".join(f'"{reason}" ({n})' for reason, n in top) + (f" and {more} more" if more > 0 else "")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:g} ms"


def _text_summary(doc: dict[str, Any], files: dict[str, Path]) -> str:
    lines = [f"{doc['scenario']} against {doc['target']}"]
    for kind in ("fetch", "renew"):
        k = doc[kind]
        lines.append(
            f"  {kind:6} {k['requests']:>7} requests {k['failures']:>5} failed   p50 {_ms(k['p50_ms'])}"
            f"  p95 {_ms(k['p95_ms'])}  p99 {_ms(k['p99_ms'])}  {k['rps']:g}/s"
        )
    lines.append(
        f"  cycles {doc['cycles']}  sessions {doc['sessions']['started']} started / "
        f"{doc['sessions']['completed']} completed  dropped {doc['dropped']}  invalid tokens {doc['invalid_tokens']}"
    )
    if doc.get("rate_limited"):
        lines.append(f"  rate limited: {doc['rate_limited']} answers 429 / 503 + Retry-After (waited out, not failures)")
    if doc["failure_reasons"]:
        lines.append(f"  failures: {_reasons(doc['failure_reasons'])}")
    if "capacity" in doc:
        from ..load.report import capacity_line

        lines.append(f"  {capacity_line(doc['capacity'])}")
    elif "knee" in doc:
        knee = doc["knee"]
        lines.append(
            f"  ramp: {knee['users']} users held at {knee['rps']} requests/s (a closed model: see docs/load.md)"
            if knee
            else "  ramp: no step held"
        )
    gen = doc.get("generator")
    if gen and gen.get("processes"):
        lag50, lag, cpu = gen.get("worst_lag_p50_ms"), gen.get("worst_lag_p95_ms"), gen.get("worst_cpu")
        state = "GENERATOR-BOUND" if gen.get("bound") else "not the bottleneck"
        lines.append(
            f"  generator: {state}: event-loop lag p50 {_ms(lag50)} p95 {_ms(lag)}, "
            f"CPU {'-' if cpu is None else f'{cpu:.0%}'} "
            f"of a core (worst of {len(gen['processes'])} process{'es' if len(gen['processes']) > 1 else ''})"
        )
    dist = doc.get("distributed") or {}
    if dist.get("workers"):
        lost = set(dist.get("lost") or [])
        lines.append(f"  workers: {dist.get('connected')} connected of {dist.get('expected')} expected"
                     + (f", {len(lost)} LOST" if lost else ""))
        others = [v for v in dist.get("versions") or [] if v != dist.get("master_version")]
        if others:
            lines.append(f"  WARNING: workers run token-conformance {', '.join(others)}, the master "
                         f"{dist.get('master_version')}: install the same version everywhere")
        for row in dist["workers"]:
            counts = (doc.get("workers") or {}).get(row["id"], {})
            lines.append(
                f"    {row['id']} ({row.get('host') or '?'}): {counts.get('fetch', 0)} fetch, "
                f"{counts.get('renew', 0)} renew, {counts.get('invalid', 0)} invalid"
                + (f"; LOST {row.get('lost_s')} s into the run ({row.get('lost_how')})" if row["id"] in lost else "")
            )
    t = doc["slo"]["thresholds"]
    limits = (
        f"p95 <= {t.get('max_p95_ms', 0):g} ms, failures <= {t.get('max_failure_ratio', 0):.2%}, "
        f"dropped <= {t.get('max_dropped')}, invalid <= {t.get('max_invalid')}"
    )
    if not doc["options"].get("signature_checked", True):
        lines.append("  signatures NOT checked (no app certificate)")
    if doc.get("interrupted"):
        verdict = f"INTERRUPTED by {doc['interrupted']}: " + (
            "partial figures" if doc["requests"] else "nothing measured") + ", SLOs not judged"
    elif "capacity" in doc:
        verdict = "each step judged on its own requests" + ("" if doc["slo"]["passed"] else ": NO CAPACITY MEASURED")
    else:
        verdict = "SLOs held" if doc["slo"]["passed"] else "SLOs BREACHED"
    lines.append(f"  {verdict} ({limits})")
    lines.append(f"  report: {files['load_html']}  ({files['load_json'].name}, Locust: locust.html, locust_*.csv)")
    return "\n".join(lines)
