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
from ..settings.declarations import add_arguments
from ..settings.load_options import SLO_KEYS
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
    add_arguments(parser, "load", "url")
    run = parser.add_argument_group("run")
    add_arguments(run, "load", "scenario", "users", "spawn_rate", "run_time", "stop_timeout", "processes", "report_dir",
                  "progress_interval")
    client = parser.add_argument_group("clients")
    add_arguments(client, "load", "profile", "app_id", "certificate_file", "expiry", "renew_margin", "cycles",
                  "role_mix", "tokentype_mix", "expiry_tolerance", "strict_roles", "request_timeout", "retry_interval",
                  "insecure")
    slo = parser.add_argument_group("SLOs")
    add_arguments(slo, "load", *SLO_KEYS)
    add_request_options(client, "load")  # after the SLOs: the usage line has always listed them there
    base = parser.add_argument_group("baseline and CI")
    add_arguments(base, "load", "baseline", "baseline_force", "summary_md")
    dist = parser.add_argument_group(
        "several machines (Locust's master and workers; docs/load.md, \"Several machines\")")
    add_arguments(dist, "load", "master", "expect_workers", "expect_workers_max_wait", "master_bind_host",
                  "master_bind_port", "worker", "master_host", "master_port", "master_wait")
    shapes = parser.add_argument_group("renew_storm, ramp and capacity")
    add_arguments(shapes, "load", "cohorts", "cohort_interval", "step_users", "step_time", "start_rate", "step_rate",
                  "max_rate")


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
