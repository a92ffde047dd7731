"""``token-conformance check [URL]``: judge a token server against the contract."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import (
    UsageError,
    add_request_options,
    add_web_options,
    check_app_id,
    read_certificate,
    request_headers,
    web_origins,
)

if TYPE_CHECKING:
    from ..api import CheckOptions


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", nargs="?", help="base URL of the token server (default: start the embedded reference server)")
    p.add_argument("--profile", help="bundled profile name (agora-token-service, agora-node-tokenserver), a profile "
                   "JSON file, or 'auto' (detect it from the target) (default: agora-token-service)")
    p.add_argument("--app-id", help="the app id every token must carry (32 hexadecimal characters)")
    p.add_argument("--strict", action="store_true", help="SHOULD failures also make the server non-conforming")
    p.add_argument("--case", metavar="PATTERN", help="only these cases: ids, globs or sections, comma-separated (e.g. 'EXPIRY,INPUT-1*')")
    p.add_argument("--report-dir", default="reports", help="where conformance.json, junit.xml and conformance.html go (default: reports/)")
    p.add_argument("--certificate-file", help="file holding the app certificate (else $TOKEN_SERVER_APP_CERTIFICATE); enables signature checks")
    p.add_argument("--deviations", metavar="FILE", help="JSON {case id: reason}: known deviations become expected failures")
    p.add_argument("--timeout", type=float, help="overall deadline per request in seconds (default 10)")
    p.add_argument("--max-skew", type=float, help="allowed clock difference in seconds (default 5)")
    p.add_argument("--renew-expiry", type=int, metavar="SECONDS",
                   help="lifetime the renewal case (EXPIRY-6) asks for (default 6; e.g. 120 for a profile in minutes)")
    p.add_argument("--renew-margin", type=float, metavar="SECONDS",
                   help="renew this many seconds before expiry in the renewal case (default 2)")
    p.add_argument("-n", "--workers", type=int, help="run cases in N processes (pytest-xdist) (default: 1, in this process)")
    p.add_argument("--insecure", action="store_true", help="accept a TLS certificate that does not verify")
    p.add_argument("-v", "--verbose", action="count", default=0, help="one line per case while running")
    p.add_argument("--list", action="store_true", help="print the contract's table (id, level, title) of the cases that would run, and exit")
    p.add_argument("--baseline", metavar="FILE", help="conformance.json of an earlier run: exit 1 only on a regression "
                   "(a gating case that passed there, or is new, fails now); known failures are listed, not gating")
    p.add_argument("--baseline-force", action="store_true",
                   help="compare with a baseline of another profile, contract version or target anyway")
    p.add_argument("--gate", choices=("should", "must"), default=None,
                   help="with --baseline: the levels whose regressions fail the gate: 'should' (MUST and SHOULD, "
                   "the default, with or without --strict) or 'must' (MUST only); a MAY case never gates")
    p.add_argument("--summary-md", metavar="FILE", help="also write a Markdown summary there "
                   "(it is appended to $GITHUB_STEP_SUMMARY whenever that is set)")
    add_web_options(p)
    add_request_options(p)
    p.epilog = (
        "Exit codes: 0 conforming, 1 not conforming, 2 could not judge, bad options or interrupted "
        "(Ctrl-C or SIGTERM: the reports then say 'interrupted')."
    )


def _writable_report_dir(path: str) -> None:
    """Create --report-dir now: a folder that cannot be written is a usage error, not a failed run."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report folder {path!r}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to the report folder {path!r}")


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
    from ..report.markdown import check_markdown

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
            _writable_report_dir(args.report_dir)
            unjudged_document(Path(args.report_dir), CheckOptions(url=args.url, cases=args.case), args.url,
                              reason=str(exc))
        except (UsageError, OSError):
            raise exc from None
        raise _ReportedUsageError(str(exc)) from None


class _ReportedUsageError(UsageError):
    """A usage error whose could-not-judge reports were written: they stay."""


def _run(args: argparse.Namespace) -> int:
    from ..api import CheckOptions, selected_cases
    from ..deviations import DeviationsError, load_deviations
    from ..profiles import ProfileError, load_profile

    if args.url and not args.url.startswith(("http://", "https://")):
        raise UsageError(f"the URL must start with http:// or https://, not {args.url!r}")
    check_app_id(args.app_id)
    headers = request_headers(args)
    if args.profile == "auto":
        if not args.url:
            raise UsageError("--profile auto needs a URL: the embedded server is agora-token-service")
        args.profile = _detect_or_report(args, headers)
    for name in ("max_rps", "rate_limit_budget"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    origins = web_origins(args, profile)
    if args.case is not None and not args.case.replace(",", "").strip():
        # Read as no pattern it would run the full suite, the opposite of what a selection asks for.
        raise UsageError("--case needs at least one case id, glob or section (e.g. 'EXPIRY,INPUT-1*'); "
                         "leave it out to run every case")
    if args.case is not None and not selected_cases(args.case):
        raise UsageError(f"--case {args.case!r} selects no case of the contract (see check --list)")
    for name in ("timeout", "max_skew"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.workers is not None:
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        try:
            import xdist  # noqa: F401
        except ImportError:
            raise UsageError("--workers needs pytest-xdist: pip install 'token-conformance[test]'") from None
    if args.baseline_force and not args.baseline:
        raise UsageError("--baseline-force needs --baseline FILE")
    if args.gate and not args.baseline:
        raise UsageError("--gate needs --baseline FILE (without a baseline the verdict gates: MUST, and SHOULD "
                         "with --strict)")
    check_summary_path(args.summary_md)
    if args.renew_expiry is not None and not 1 <= args.renew_expiry <= 86400:
        raise UsageError("--renew-expiry must be a whole number of seconds from 1 to 86400")
    if args.renew_margin is not None and not 0 < args.renew_margin < (args.renew_expiry or 6):
        raise UsageError(f"--renew-margin must be above 0 and below the renewal lifetime ({args.renew_expiry or 6} s)")
    if args.list:
        from ..api import list_cases

        return list_cases(CheckOptions(url=args.url, profile=args.profile, cases=args.case))
    try:
        load_deviations(args.deviations)
    except DeviationsError as exc:
        raise UsageError(str(exc)) from None
    read_certificate(args.certificate_file)  # a missing or empty file: one line now, before any request
    _writable_report_dir(args.report_dir)
    opts = CheckOptions(
        url=args.url, profile=args.profile, app_id=args.app_id, strict=args.strict, cases=args.case,
        report_dir=args.report_dir, certificate_file=args.certificate_file, timeout=args.timeout,
        max_skew=args.max_skew, deviations=args.deviations, workers=args.workers, insecure=args.insecure,
        verbose=args.verbose, baseline=args.baseline, baseline_force=args.baseline_force, gate=args.gate or "should",
        headers=args.header or (), header_file=args.header_file, max_rps=args.max_rps,
        rate_limit_budget=args.rate_limit_budget, web_origins=origins, browser=args.browser or bool(args.browser_path),
        browser_path=args.browser_path, renew_expiry=args.renew_expiry, renew_margin=args.renew_margin,
    )
    from ..interruption import signals_as_interrupt

    # Around the API's own block: once check() has its verdict (interruption.settle), a signal while the
    # lines below print is ignored instead of ending the process with an exit code the reports do not say.
    with signals_as_interrupt():
        return _run_check(args, opts)


def _run_check(args: argparse.Namespace, opts: CheckOptions) -> int:
    from ..api import check
    from ..report.baseline import BaselineError

    try:
        result = check(opts)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None
    from ..report.markdown import check_markdown

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
    """--summary-md must be writable before the run starts, not found unwritable after it. Its folder is created
    as --report-dir's is: ``--summary-md reports/summary.md`` in a fresh CI workspace is the common case."""
    from pathlib import Path

    if not path:
        return
    folder = Path(path).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--summary-md: cannot create the folder of {path!r}: {exc.strerror or exc}") from None


def write_summary_or_warn(markdown: str, path: str | None, command: str) -> None:
    """Write the CI summary; failing to is a warning, never a change of verdict."""
    from ..report.markdown import write_summary

    try:
        write_summary(markdown, path)
    except OSError as exc:
        print(f"token-conformance {command}: warning: cannot write the Markdown summary: {exc}", file=sys.stderr)


def detect_profile(url: str, headers: dict[str, str], insecure: bool, timeout: float | None) -> str:
    """``--profile auto``: the bundled profile detection names, printed; none fits: a usage error saying why."""
    from ..client import TokenServerClient
    from ..detect import detect
    from ..redact import Redactor

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
