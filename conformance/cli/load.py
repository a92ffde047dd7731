"""``token-conformance load``: run a Locust scenario against a token server and gate on SLOs.

A thin layer over ``conformance.load.api``: parse, call :func:`~conformance.load.api.run_load`, print what it
returns, exit with its code (option mistakes: exit 2 before anything starts). Nothing here imports locust: the
scenario runs in a subprocess.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING

from ..load.protocol import SCENARIOS
from ..load.runner import (
    DEFAULT_EXPECT_WORKERS_MAX_WAIT,
    DEFAULT_MASTER_BIND_HOST,
    DEFAULT_MASTER_PORT,
    DEFAULT_MASTER_WAIT,
)
from ..load.slo import DEFAULT_MAX_FAILURE_RATIO, DEFAULT_MAX_P95_MS
from ..settings.declarations import add_arguments
from ._common import CERTIFICATE_ENV, UsageError, add_request_options
from .check import write_summary_or_warn

if TYPE_CHECKING:
    from ..load.api import LoadResult
    from ..load.options import LoadOptions


def parse_seconds(text: str, option: str, minimum: int = 1) -> int:
    """'90', '90s', '2m', '1h30m' -> whole seconds; a usage error otherwise (watch's --interval too)."""
    from ..load.options import LoadOptionError
    from ..load.options import parse_seconds as parse_load_seconds

    try:
        return parse_load_seconds(text, option, minimum)
    except LoadOptionError as exc:
        raise UsageError(str(exc)) from None


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
    add_arguments(client, "load", "profile", "app_id", "certificate_file")
    client.add_argument("--expiry", type=int, default=10, help="token lifetime to ask for, seconds")
    client.add_argument("--renew-margin", type=float, default=5.0, help="renew this long before expiry")
    client.add_argument("--cycles", type=int, default=3, help="renewals per session before a client leaves")
    client.add_argument("--role-mix", default="publisher=1,subscriber=1", help="e.g. publisher=1,subscriber=3")
    client.add_argument("--tokentype-mix", default=None, help="e.g. uid=3,userAccount=1 (default: the profile's)")
    client.add_argument("--expiry-tolerance", type=float, default=2.0, help="allowed expiry error, seconds")
    client.add_argument("--strict-roles", action="store_true", help="subscriber tokens must not carry publish rights")
    client.add_argument("--request-timeout", type=float, default=10.0, help="client timeout per request")
    client.add_argument("--retry-interval", type=float, default=1.0, help="seconds between retries after a failure")
    add_arguments(client, "load", "insecure")
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


def options_from(args: argparse.Namespace) -> LoadOptions:
    """The API's options from the parsed command line (one field per option dest)."""
    from ..load.options import LoadOptions

    return LoadOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(LoadOptions)})


def run(args: argparse.Namespace) -> int:
    # Late on purpose (here, in parse_seconds and options_from): the run's machinery (httpx, the reference server,
    # the reports) would triple the start-up of `load --help` and of every other subcommand, which imports this
    # module to build its parser; measured with farm-bench: 0.32 s -> 0.92 s of CPU.
    from ..load.api import run_load
    from ..load.options import LoadOptionError
    from ..load.report import remove_previous_reports

    try:
        result = run_load(options_from(args))
    except LoadOptionError as exc:
        if not args.worker:  # a worker writes no load.json of its own: nothing of its folder to judge
            remove_previous_reports(args.report_dir, keep=args.baseline)
        raise UsageError(str(exc)) from None
    return show_result(result, args.summary_md)


def show_result(result: LoadResult, summary_md: str | None) -> int:
    """Print a run's result: the text summary, the CI summary, the closing lines; its exit code."""
    if result.summary is not None:
        print(result.summary, flush=True)
    if result.markdown is not None:
        write_summary_or_warn(result.markdown, summary_md, "load")
    for line in result.messages:
        print(line, file=sys.stderr, flush=True)
    return result.exit_code
