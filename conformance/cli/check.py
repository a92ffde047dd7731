"""``token-conformance check [URL]``: judge a token server against the contract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import interruption
from ..caselist import print_case_table
from ..certificate import read_certificate
from ..errors import UsageError
from ..redact import Redactor
from ..report.baseline import BaselineError
from ..report.markdown import check_markdown, summary_folder_problem, write_summary
from ..settings.declarations import add_arguments
from ..settings.values import (
    check_case_pattern,
    check_deviations,
    check_renewal,
    check_url,
    check_workers,
    refuse_bad_value,
    writable_report_dir,
)
from ._common import (
    add_request_options,
    add_web_options,
    check_app_id,
    read_headers,
    web_origins,
)

if TYPE_CHECKING:
    from ..api import CheckOptions
    from ..settings.inputs import Inputs

# Late imports below (one per function that runs a check): the API (pytest) costs 1.0-1.5 s of import, the HTTP
# client and detection 0.6-0.8 s, the run's inputs (the profiles) 30-100 ms (python -c, median of 7, once the CLI's
# parser is built) that `token-conformance --help` (0.24-0.31 s of CPU, farm-bench medians) and the other subcommands,
# whose parsers are built from this module, would otherwise pay. pytest-xdist is an optional extra ([test]), tried
# only with --workers. The reports' modules are at the top: the parser already loads them (watch's metrics).


def add_parser(p: argparse.ArgumentParser) -> None:
    add_arguments(p, "check", "url", "profile", "app_id", "strict", "case", "report_dir", "certificate_file",
                  "deviations", "timeout", "max_skew", "renew_expiry", "renew_margin", "workers", "insecure", "verbose",
                  "list", "baseline", "baseline_force", "gate", "summary_md")
    add_web_options(p, "check", browser=True)
    add_request_options(p, "check", pacing=True)
    p.epilog = (
        "Exit codes: 0 conforming, 1 not conforming, 2 could not judge, bad options or interrupted "
        "(Ctrl-C or SIGTERM: the reports then say 'interrupted')."
    )


#: What a check writes in --report-dir: a run that stops on a usage error must not leave a previous run's behind.
REPORT_FILES = ("conformance.json", "conformance.html", "junit.xml")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except _ReportedUsageError as exc:
        _summary_of_unjudged(args, f"usage error: {exc}")
        raise
    except UsageError as exc:
        _remove_previous_reports(args.report_dir)
        _summary_of_unjudged(args, f"usage error: {exc}")
        raise
    except KeyboardInterrupt:
        _summary_of_unjudged(args, "interrupted before the run started")
        raise


def _target(args: argparse.Namespace) -> str | None:
    """The target as the summary names it, once the URL is known to be one (None before: nothing to name)."""
    if args.url and not args.url.startswith(("http://", "https://")):
        return None
    return args.url or "embedded reference server"


def _summary_of_unjudged(args: argparse.Namespace, reason: str) -> None:
    """A run that ended without a report of its own (a refused baseline, a usage error once the target is known,
    an interruption before the suite started) still writes the CI summary: a red job with a blank page says
    nothing. The folder of --summary-md may be the mistake itself: a warning then, $GITHUB_STEP_SUMMARY still."""
    target = _target(args)
    if target is None:
        return
    write_summary_or_warn(check_markdown(None, target=target, reason=reason), args.summary_md, "check")


def _remove_previous_reports(report_dir: str) -> None:
    """A bad invocation judged nothing: a green conformance.json of the last run must not stay for CI to read."""
    for name in REPORT_FILES:
        try:
            (Path(report_dir) / name).unlink(missing_ok=True)
        except OSError:
            pass  # not ours to fix: the usage error is what the user needs to see


def _detect_or_report(args: argparse.Namespace, headers: dict[str, str]) -> str:
    """``--profile auto``: a target that cannot be detected (down, a login wall, another API) could not be judged,
    and the reports say so, as a plain check of the same target does."""
    try:
        return detect_profile(args.url, headers, args.insecure, args.timeout)
    except UsageError as exc:
        from ..api import CheckOptions, unjudged_document

        try:
            writable_report_dir(args.report_dir)
            unjudged_document(Path(args.report_dir), CheckOptions(url=args.url, cases=args.case), args.url,
                              reason=str(exc))
        except (UsageError, OSError):
            raise exc from None
        raise _ReportedUsageError(str(exc)) from None


class _ReportedUsageError(UsageError):
    """A usage error whose could-not-judge reports were written: they stay."""


def _run(args: argparse.Namespace) -> int:
    from ..settings.inputs import Inputs, read_profile

    check_url(args.url)
    check_app_id(args.app_id)
    headers = read_headers(args)
    if args.profile == "auto":
        if not args.url:
            raise UsageError("--profile auto needs a URL: the embedded server is agora-token-service")
        args.profile = _detect_or_report(args, headers)
    _refuse_bad_values(args, "max_rps", "rate_limit_budget")
    profile = read_profile(args.profile)
    origins = web_origins(args, profile)
    check_case_pattern(args.case)
    _refuse_bad_values(args, "timeout", "max_skew")
    check_workers(args.workers)
    if args.baseline_force and not args.baseline:
        raise UsageError("--baseline-force needs --baseline FILE")
    if args.gate and not args.baseline:
        raise UsageError("--gate needs --baseline FILE (without a baseline the verdict gates: MUST, and SHOULD "
                         "with --strict)")
    check_summary_path(args.summary_md)
    check_renewal(args.renew_expiry, args.renew_margin)
    if args.list:
        return print_case_table(args.case, profile)  # from the contract alone: no pytest, no HTTP client
    from ..api import CheckOptions

    check_deviations(args.deviations)
    certificate = read_certificate(args.certificate_file)  # a missing or empty file: one line now
    writable_report_dir(args.report_dir)
    opts = CheckOptions(
        url=args.url, profile=args.profile, app_id=args.app_id, strict=args.strict, cases=args.case,
        report_dir=args.report_dir, certificate_file=args.certificate_file, timeout=args.timeout,
        max_skew=args.max_skew, deviations=args.deviations, workers=args.workers, insecure=args.insecure,
        verbose=args.verbose, baseline=args.baseline, baseline_force=args.baseline_force, gate=args.gate or "should",
        headers=args.header or (), header_file=args.header_file, max_rps=args.max_rps,
        rate_limit_budget=args.rate_limit_budget, web_origins=origins, browser=args.browser or bool(args.browser_path),
        browser_path=args.browser_path, renew_expiry=args.renew_expiry, renew_margin=args.renew_margin,
    )
    inputs = Inputs(profile, MappingProxyType(headers), certificate)  # read once, handed on to the API and the plugin
    # Around the API's own block: once check() has its verdict (interruption.settle), a signal while the
    # lines below print is ignored instead of ending the process with an exit code the reports do not say.
    with interruption.signals_as_interrupt():
        return _run_check(args, opts, inputs)


def _refuse_bad_values(args: argparse.Namespace, *keys: str) -> None:
    """The declared rule of each option (conformance.settings): one line naming the flag."""
    for key in keys:
        refuse_bad_value(key, getattr(args, key))


def _run_check(args: argparse.Namespace, opts: CheckOptions, inputs: Inputs) -> int:
    from ..api import check

    try:
        result = check(opts, inputs)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None
    # The summary first: whatever is printed below, the CI page has it.
    write_summary_or_warn(check_markdown(result.document, target=args.url or "embedded reference server",
                                         exit_code=result.exit_code), args.summary_md, "check")
    if result.document is not None:
        print(f"reports: {result.report_dir}/conformance.json, junit.xml, conformance.html", file=sys.stderr)
    if result.verdict == "interrupted":
        print(f"token-conformance check: {result.document['summary']['reason'] if result.document else 'interrupted'}",
              file=sys.stderr)
    if result.comparison is not None:
        sys.stderr.flush()
        # Last: its closing line states the gate, this run's verdict and the one exit code the process returns.
        print("\n".join(result.comparison.terminal_lines()), flush=True)
    return result.exit_code


def check_summary_path(path: str | None) -> None:
    """--summary-md must be writable before the run starts (report.markdown.summary_folder_problem)."""
    problem = summary_folder_problem(path)
    if problem:
        raise UsageError(problem)


def write_summary_or_warn(markdown: str, path: str | None, command: str) -> None:
    """Write the CI summary; failing to is a warning, never a change of verdict."""
    try:
        write_summary(markdown, path)
    except OSError as exc:
        print(f"token-conformance {command}: warning: cannot write the Markdown summary: {exc}", file=sys.stderr)


def detect_profile(url: str, headers: dict[str, str], insecure: bool, timeout: float | None) -> str:
    """``--profile auto``: the bundled profile detection names, printed; none fits: a usage error saying why."""
    from ..client import TokenServerClient
    from ..detect import detect

    redactor = Redactor()
    for value in headers.values():
        redactor.add_header_value(value)
    client = TokenServerClient(url, timeout=timeout or 10.0, verify_tls=not insecure, headers=headers)
    try:
        found = detect(client)
    finally:
        client.close()
    if found.profile is None:
        what = "cannot detect the profile of" if not found.judged else "no bundled profile fits"
        raise UsageError(redactor.redact(f"--profile auto: {what} {url}: {found.reason}"))
    print(f"token-conformance: --profile auto chose {found.profile} (confidence {found.confidence}: {found.reason})",
          file=sys.stderr)
    return found.profile
