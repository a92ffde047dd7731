"""``token-conformance watch URL``: the safe subset of the suite on a schedule, with Prometheus metrics.

A thin layer over :mod:`conformance.watch`: options are checked (usage errors
exit 2 before anything starts), then the loop runs until SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import sys
from types import MappingProxyType

from ..certificate import read_certificate
from ..contract import by_id
from ..errors import UsageError
from ..settings.declarations import add_arguments, problem
from ..watch import PREFIX as METRICS_PREFIX
from ..watch import UNSAFE, Watcher, WatchError, WatchOptions, select_cases
from ._common import (
    CERTIFICATE_ENV,
    add_request_options,
    add_web_options,
    check_app_id,
    read_headers,
    web_origins,
)
from .check import detect_profile
from .load import parse_seconds

# Late import in run(): conformance.settings.inputs (the profiles) costs ~0.1 s of import (python -X importtime)
# that `token-conformance --help`, which builds this parser, would otherwise pay.


def add_parser(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "Each run sends one probe token request, then runs the watch-safe cases (valid requests only: no load,\n"
        "no bad-input or oversized requests, no fuzzing; see --list and docs/watch.md) through the same code as\n"
        "'check', writing the last run's reports to --report-dir. One JSON line per run goes to stdout.\n"
        f"Metrics (--metrics-port) are prefixed {METRICS_PREFIX}: case_outcome{{case,level,outcome}},\n"
        "token_request_duration_seconds, token_lifetime_seconds, last_complete_run_timestamp_seconds,\n"
        "consecutive_failures, target_up, conforming, runs_total{result}.\n"
        f"The app certificate comes from {CERTIFICATE_ENV} or --certificate-file, never the command line.\n"
        "Stops cleanly on SIGTERM or SIGINT (exit 0). Exit 2: bad options, or the metrics port is taken.\n"
        "With --runs N the exit code says what the runs found: 1 if any run was not conforming, else 2 if any\n"
        "run could not judge (target down, login wall, ...) or a signal stopped it before N runs, else 0."
    )
    add_arguments(p, "watch", "url", "interval", "metrics_port", "metrics_addr", "case", "list", "profile", "app_id",
                  "certificate_file", "strict", "timeout", "insecure", "report_dir", "runs")
    add_web_options(p, "watch")
    add_request_options(p, "watch")


def run(args: argparse.Namespace) -> int:
    from ..settings.inputs import Inputs, read_profile

    if args.list:
        print("watch-safe cases:")
        for case in select_cases(None):
            req = by_id(case)
            print(f"  {case:<10} {req.level.value:<6} {req.title}")
        print("not run by watch:")
        for case, why in UNSAFE.items():
            print(f"  {case:<10} {why}")
        return 0
    if not args.url:
        raise UsageError("watch needs the URL of the token server to watch")
    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"the URL must start with http:// or https://, not {args.url!r}")
    interval = parse_seconds(args.interval, "--interval")
    check_app_id(args.app_id)
    headers = read_headers(args)
    if args.profile == "auto":
        args.profile = detect_profile(args.url, headers, args.insecure, args.timeout)
    try:
        cases = select_cases(args.case)
    except WatchError as exc:
        raise UsageError(str(exc)) from None
    profile = read_profile(args.profile)
    origins = web_origins(args, profile)
    if args.metrics_port is not None and not 1 <= args.metrics_port <= 65535:
        raise UsageError("--metrics-port must be between 1 and 65535")
    for key in ("timeout", "runs"):
        reason = problem(key, getattr(args, key))
        if reason:
            raise UsageError(f"--{key} {reason}")
    opts = WatchOptions(
        url=args.url.rstrip("/"), interval=interval, cases=cases, profile=args.profile, app_id=args.app_id,
        certificate_file=args.certificate_file, timeout=args.timeout, insecure=args.insecure, strict=args.strict,
        report_dir=args.report_dir, metrics_port=args.metrics_port, metrics_addr=args.metrics_addr,
        max_runs=args.runs, web_origins=origins,
        inputs=Inputs(profile, MappingProxyType(headers), read_certificate(args.certificate_file)),
    )
    watcher = Watcher(opts)
    try:
        return watcher.run()
    except OSError as exc:
        if args.metrics_port is not None and not watcher.metrics_started:
            print(f"token-conformance watch: error: cannot serve metrics on {args.metrics_addr}:{args.metrics_port}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
        raise
