"""The Python API behind ``token-conformance check``: run the bundled suite, return the verdict.

The CLI only parses options into a :class:`CheckOptions` and calls :func:`check`;
anything the CLI can do, a script can do the same way.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .certificate import CERTIFICATE_ENV
from .report.baseline import BaselineError, Comparison


@dataclass
class CheckOptions:
    url: str | None = None
    profile: str | None = None
    app_id: str | None = None
    strict: bool = False
    cases: str | None = None
    report_dir: str = "reports"
    certificate_file: str | None = None
    timeout: float | None = None
    max_skew: float | None = None
    deviations: str | None = None
    workers: int | None = None
    insecure: bool = False
    verbose: int = 0
    #: Request headers: 'Name: value' specs (or 'Name', read from $TOKEN_HEADER_NAME), and a file of such lines.
    headers: Sequence[str] = field(default_factory=tuple)
    header_file: str | None = None
    max_rps: float | None = None
    rate_limit_budget: float | None = None
    #: The renewal case (EXPIRY-6): lifetime asked for, in seconds, and how long before expiry to renew.
    renew_expiry: int | None = None
    renew_margin: float | None = None
    extra_pytest_args: Sequence[str] = field(default_factory=tuple)
    #: an earlier conformance.json: gate on regressions against it (conformance.report.baseline)
    baseline: str | None = None
    #: compare with a baseline of another profile, contract version or target anyway
    baseline_force: bool = False
    #: Origins of the web apps that fetch tokens with fetch() (HEADER-5), besides the profile's web_origins.
    web_origins: Sequence[str] = field(default_factory=tuple)
    #: Confirm HEADER-5 in a headless Chromium (the executable: browser_path, else found on PATH).
    browser: bool = False
    browser_path: str | None = None
    #: the levels whose regressions fail the baseline gate: "should" (MUST and SHOULD, the default) or "must"
    gate: str = "should"


@dataclass
class CheckResult:
    exit_code: int
    report_dir: Path
    document: dict[str, Any] | None
    comparison: Comparison | None = None

    @property
    def verdict(self) -> str:
        if self.document is None:
            return "could not judge"
        return str(self.document["summary"]["verdict"])


#: pytest's own exit codes that mean "could not judge": interrupted, internal error, usage error, nothing collected.
_PYTEST_COULD_NOT_JUDGE = {2, 3, 4, 5}


def pytest_args(opts: CheckOptions, url: str, label: str | None) -> list[str]:
    """The pytest command line for these options (the suite as an installed package)."""
    from . import suite

    report_dir = Path(opts.report_dir)
    args = [
        "--pyargs", "conformance.suite",
        "-c", str(Path(suite.__file__).with_name("pytest.ini")),
        "-p", "no:cacheprovider",
        "-W", "ignore::DeprecationWarning",
        # check imports conformance (and the embedded server) before pytest starts: nothing to rewrite there.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "-W", "ignore:SOCKS support in urllib3",  # urllib3, imported by Schemathesis, about an optional extra
        "--token-server-url", url,
        "--token-report-dir", str(report_dir),
        f"--junitxml={report_dir / 'junit.xml'}",
        "-o", "junit_suite_name=token-conformance",
        "-o", "junit_family=xunit2",
        "-o", "console_output_style=progress",
        "-rN",
    ]
    # Only the plugins the suite needs. Autoloaded plugins cost start-up, and pytest marks every module
    # of every plugin distribution for assertion rewriting even when the plugin is disabled with -p no:,
    # so PROP-1's import of schemathesis would rewrite ~300 modules (docs/performance.md: 0.67x wall).
    args += ["--disable-plugin-autoload", "-p", "conformance.plugin"]
    if opts.workers:
        args += ["-p", "xdist.plugin"]
    args += ["-v"] * opts.verbose if opts.verbose else ["-q"]
    for flag, value in (
        ("--token-profile", opts.profile), ("--token-app-id", opts.app_id), ("--token-case", opts.cases),
        ("--token-app-certificate-file", opts.certificate_file), ("--token-deviations", opts.deviations),
        ("--token-target-label", label),
    ):
        if value:
            args += [flag, value]
    for flag, number in (("--token-timeout", opts.timeout), ("--token-max-skew", opts.max_skew),
                         ("--token-max-rps", opts.max_rps), ("--token-rate-limit-budget", opts.rate_limit_budget),
                         ("--token-renew-expiry", opts.renew_expiry), ("--token-renew-margin", opts.renew_margin)):
        if number is not None:
            args += [flag, str(number)]
    for origin in opts.web_origins:
        args += ["--token-web-origin", origin]
    if opts.browser or opts.browser_path:
        args.append("--token-browser")
    if opts.browser_path:
        args += ["--token-browser-path", opts.browser_path]
    if opts.strict:
        args.append("--token-strict")
    if opts.insecure:
        args.append("--token-insecure")
    if opts.baseline:
        args.append("--token-gated-by-baseline")  # the verdict line leaves the exit code to the gate's line
    if opts.workers:
        args += ["-n", str(opts.workers)]
    return args + list(opts.extra_pytest_args)


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def selected_cases(cases: str | None) -> list[Any]:
    """The contract's requirements a ``--case`` pattern selects, in contract order (all without a pattern).

    Read from the contract alone, without pytest: ``check --list`` answers at once.
    """
    from .cases import select
    from .contract import REQUIREMENTS

    patterns = [p.strip().upper() for p in (cases or "").split(",") if p.strip()]
    return [r for r in REQUIREMENTS if not patterns or select(r.id, patterns)]


def list_cases(opts: CheckOptions) -> int:
    """Print the contract's table (id, level, title) of the cases that would run; no request, no report."""
    from .contract.model import RUN_CONDITIONS
    from .profiles import load_profile

    profile = load_profile(opts.profile)
    reqs = selected_cases(opts.cases)
    if not reqs:
        print(f"no case matches --case {opts.cases!r}", file=sys.stderr)
        return 2
    lines = [f"{'case':<11} {'level':<6} title"]
    for r in reqs:
        missing = [n for n in r.needs if n not in RUN_CONDITIONS and not profile.has(n)]
        skip = f"  (skipped: profile {profile.name!r} has no {', '.join(missing)} route)" if missing else ""
        lines.append(f"{r.id:<11} {r.level.value:<6} {r.title}{skip}")
    lines.append(f"{len(reqs)} case(s)")
    from .cli._common import emit

    emit("\n".join(lines))
    return 0


def _interrupted_document(report_dir: Path, opts: CheckOptions, url: str | None, signal_name: str) -> dict[str, Any]:
    """conformance.json for a run interrupted before the suite could write one (e.g. while the server started)."""
    return unjudged_document(report_dir, opts, url, interrupted=signal_name)


def unjudged_document(
    report_dir: Path, opts: CheckOptions, url: str | None, *, reason: str | None = None, interrupted: str | None = None,
) -> dict[str, Any]:
    """The reports of a run that ended before the suite wrote any: every selected case "not run", the verdict
    "interrupted" (a signal) or "could not judge" (``reason``, e.g. --profile auto found nothing to judge)."""
    from .profiles import load_profile
    from .report import CaseRecord, report_document, summarize

    profile = load_profile(opts.profile)
    records = [CaseRecord.for_requirement(r, profile) for r in selected_cases(opts.cases)]
    summary = summarize(records, strict=opts.strict, interrupted=interrupted, abort_reason=reason,
                        contract_ids=tuple(r.id for r in selected_cases(None)),
                        selection=f"--case {opts.cases!r}" if opts.cases else "")
    doc = report_document(url or "embedded reference server", profile.as_dict(), summary, records)
    write_reports(report_dir, doc)
    return doc


def write_reports(report_dir: Path, document: dict[str, Any]) -> None:
    """conformance.json, conformance.html and junit.xml of a run the suite did not finish itself."""
    from .report import write_html, write_json
    from .report.junit import finish_junit

    write_json(report_dir / "conformance.json", document)
    write_html(report_dir / "conformance.html", document)
    finish_junit(report_dir / "junit.xml", document)


def check(opts: CheckOptions) -> CheckResult:
    """Run the suite against ``opts.url`` (or the embedded reference server) and return the verdict.

    Exit codes: 0 conforming, 1 not conforming, 2 could not judge or interrupted. SIGINT and SIGTERM
    both end the run as "interrupted" (exit 2, said in every report) with the embedded server stopped.
    With ``opts.baseline`` the exit code is the regression gate's instead (conformance.report.baseline);
    an unusable baseline raises BaselineError before any request is sent.
    """
    from .interruption import last_signal, settle, signals_as_interrupt

    baseline, notes = _baseline(opts)
    from .headers import resolve

    resolve(opts.headers, opts.header_file)  # a bad spec is a HeaderError before anything starts
    report_dir = Path(opts.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    stale = report_dir / "conformance.json"
    stale.unlink(missing_ok=True)  # never read a previous run's verdict
    with signals_as_interrupt():
        try:
            result = _check(opts, report_dir, stale, baseline, notes)
        except KeyboardInterrupt:
            result = _after_interrupt(opts, report_dir, stale, baseline, notes, last_signal())
        settle()  # the caller prints and exits with this result; a signal now changes neither
        return result


def _after_interrupt(
    opts: CheckOptions, report_dir: Path, stale: Path, baseline: dict[str, Any] | None, notes: list[str],
    signal_name: str,
) -> CheckResult:
    """A KeyboardInterrupt reached the API. Before the suite wrote its verdict (starting the server, a second
    Ctrl-C while it stopped): the reports say "interrupted", exit 2. After it (the verdict already printed, a
    signal while pytest wound down): the complete report stands, with its exit code."""
    document = None
    if stale.is_file():
        try:
            document = json.loads(stale.read_text(encoding="utf-8"))
        except ValueError:  # cut short while it was written
            document = None
    if document is None:
        document = _interrupted_document(report_dir, opts, opts.url, signal_name)
        return CheckResult(exit_code=2, report_dir=report_dir, document=document)
    write_reports(report_dir, document)  # junit.xml too, in case pytest had not written it yet
    code = int(document["summary"]["exit_code"])
    comparison = None
    if baseline is not None and document["summary"].get("interrupted") is None:
        comparison = _against_baseline(baseline, notes, document, opts, stale)
        code = comparison.exit_code if code in (0, 1) else code
    return CheckResult(exit_code=code, report_dir=report_dir, document=document, comparison=comparison)


def _check(
    opts: CheckOptions, report_dir: Path, stale: Path, baseline: dict[str, Any] | None, notes: list[str],
) -> CheckResult:
    import pytest

    from .headers import HEADERS_ENV, resolve, to_env

    # Handed on to the plugin (and xdist workers) through the environment, never through argv.
    headers = resolve(opts.headers, opts.header_file)
    server = None
    url, label, certificate = opts.url, None, None
    try:
        if not url:
            from .reference.server import ReferenceServer

            server = ReferenceServer()
            server.start()
            url, label = server.url, f"embedded reference server {server.url}"
            certificate = server.settings.certificate
            # A loopback server allows a short renewal cycle; the caller's own pytest arguments come later and win.
            from .target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN

            renewal = ("--token-renew-expiry", str(EMBEDDED_RENEW_EXPIRY), "--token-renew-margin", str(EMBEDDED_RENEW_MARGIN))
            opts = CheckOptions(**{**opts.__dict__, "app_id": opts.app_id or server.settings.app_id,
                                   "extra_pytest_args": (*renewal, *opts.extra_pytest_args)})
        # The embedded server's certificate reaches the plugin (and xdist workers) through the
        # environment, never through argv.
        with _environment(CERTIFICATE_ENV, certificate), _environment(HEADERS_ENV, to_env(headers) or None):
            code = int(pytest.main(pytest_args(opts, url, label)))
    finally:
        if server is not None:
            server.stop()
    document = None
    if stale.is_file():
        document = json.loads(stale.read_text(encoding="utf-8"))
    if code in _PYTEST_COULD_NOT_JUDGE or document is None:
        code = 2 if code != 0 or document is None else code
    comparison = None
    if baseline is not None and document is not None:
        comparison = _against_baseline(baseline, notes, document, opts, stale)
        code = comparison.exit_code if code in (0, 1) else code
    return CheckResult(exit_code=code if code in (0, 1, 2) else 2, report_dir=report_dir, document=document,
                       comparison=comparison)


def _baseline(opts: CheckOptions) -> tuple[dict[str, Any] | None, list[str]]:
    """The baseline document and, when forced past a mismatch, the notes saying what differs."""
    if not opts.baseline:
        return None, []
    from .contract import CONTRACT_VERSION
    from .profiles import load_profile
    from .report.baseline import load_baseline, refusal_reasons

    doc = load_baseline(opts.baseline)
    reasons = refusal_reasons(doc, profile=load_profile(opts.profile).name, target=opts.url,
                              contract_version=CONTRACT_VERSION)
    if reasons and not opts.baseline_force:
        raise BaselineError(f"the baseline {opts.baseline!r} is for another run: {'; '.join(reasons)} "
                            "(--baseline-force compares anyway)")
    return doc, [f"forced: {r}" for r in reasons]


def _against_baseline(
    baseline: dict[str, Any], notes: list[str], document: dict[str, Any], opts: CheckOptions, path: Path
) -> Comparison:
    """Compare, and add the three lists to conformance.json and conformance.html."""
    from .report import write_html, write_json
    from .report.baseline import compare

    comparison = compare(baseline, document, baseline_path=str(opts.baseline), gate=opts.gate)
    comparison.notes = notes
    document["baseline"] = comparison.as_dict()
    write_json(path, document)
    write_html(path.with_name("conformance.html"), document)
    return comparison
