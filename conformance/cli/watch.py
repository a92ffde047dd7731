"""``token-conformance watch URL``: the safe subset of the suite on a schedule, with Prometheus metrics.

A thin layer over :mod:`conformance.watch`: options are checked (usage errors
exit 2 before anything starts), then the loop runs until SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import sys

from ._common import (
    CERTIFICATE_ENV,
    UsageError,
    add_request_options,
    add_web_options,
    check_app_id,
    read_certificate,
    request_headers,
    web_origins,
)


def add_parser(p: argparse.ArgumentParser) -> None:
    from ..watch import PREFIX

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "Each run sends one probe token request, then runs the watch-safe cases (valid requests only: no load,\n"
        "no bad-input or oversized requests, no fuzzing; see --list and docs/watch.md) through the same code as\n"
        "'check', writing the last run's reports to --report-dir. One JSON line per run goes to stdout.\n"
        f"Metrics (--metrics-port) are prefixed {PREFIX}: case_outcome{{case,level,outcome}},\n"
        "token_request_duration_seconds, token_lifetime_seconds, last_complete_run_timestamp_seconds,\n"
        "consecutive_failures, target_up, conforming, runs_total{result}.\n"
        f"The app certificate comes from {CERTIFICATE_ENV} or --certificate-file, never the command line.\n"
        "Stops cleanly on SIGTERM or SIGINT (exit 0). Exit 2: bad options, or the metrics port is taken.\n"
        "With --runs N the exit code says what the runs found: 1 if any run was not conforming, else 2 if any\n"
        "run could not judge (target down, login wall, ...) or a signal stopped it before N runs, else 0."
    )
    p.add_argument("url", nargs="?", help="base URL of the token server to watch")
    p.add_argument("--interval", default="60s", help="time between the starts of two runs, e.g. 30s, 5m (default 60s)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (/metrics)")
    p.add_argument("--metrics-addr", default="127.0.0.1",
                   help="address the metrics server listens on (default 127.0.0.1; 0.0.0.0 in a container)")
    p.add_argument("--case", metavar="PATTERN", help="only these watch-safe cases: ids, globs or sections, comma-separated")
    p.add_argument("--list", action="store_true", help="list the watch-safe cases (and those excluded, with why), and exit")
    p.add_argument("--profile", help="bundled profile name, a profile JSON file, or 'auto' (detected once, at start)")
    p.add_argument("--app-id", help="the app id every token must carry")
    p.add_argument("--certificate-file", help=f"file holding the app certificate (else ${CERTIFICATE_ENV})")
    p.add_argument("--strict", action="store_true", help="SHOULD failures also make a run non-conforming")
    p.add_argument("--timeout", type=float, help="overall deadline per request in seconds (default 10)")
    p.add_argument("--insecure", action="store_true", help="accept a TLS certificate that does not verify")
    p.add_argument("--report-dir", default="reports/watch", help="the last run's reports (default reports/watch/)")
    p.add_argument("--runs", type=int, metavar="N", help="stop after N runs, exit code from the runs (see below) (default: run until stopped)")
    add_web_options(p, browser=False)
    add_request_options(p, pacing=False)


def run(args: argparse.Namespace) -> int:
    from ..contract import by_id
    from ..profiles import ProfileError, load_profile
    from ..watch import UNSAFE, Watcher, WatchError, WatchOptions, select_cases
    from .load import parse_seconds

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
    headers = request_headers(args)
    if args.profile == "auto":
        from .check import detect_profile

        args.profile = detect_profile(args.url, headers, args.insecure, args.timeout)
    try:
        cases = select_cases(args.case)
        profile = load_profile(args.profile)
    except (WatchError, ProfileError) as exc:
        raise UsageError(str(exc)) from None
    origins = web_origins(args, profile)
    if args.metrics_port is not None and not 1 <= args.metrics_port <= 65535:
        raise UsageError("--metrics-port must be between 1 and 65535")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    if args.runs is not None and args.runs < 1:
        raise UsageError("--runs must be at least 1")
    opts = WatchOptions(
        url=args.url.rstrip("/"), interval=interval, cases=cases, profile=args.profile, app_id=args.app_id,
        certificate_file=args.certificate_file, timeout=args.timeout, insecure=args.insecure, strict=args.strict,
        report_dir=args.report_dir, metrics_port=args.metrics_port, metrics_addr=args.metrics_addr,
        max_runs=args.runs, certificate=read_certificate(args.certificate_file),
        headers=tuple(args.header or ()), header_file=args.header_file, resolved_headers=headers,
        web_origins=origins,
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
