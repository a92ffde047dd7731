"""The Python API behind ``token-conformance check``: run the bundled suite, return the verdict.

The CLI only parses options into a :class:`CheckOptions` and calls :func:`check`;
anything the CLI can do, a script can do the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from . import suite
from .caselist import print_case_table, selected_cases
from .contract import CONTRACT_VERSION
from .errors import UsageError
from .interruption import last_signal, settle, signals_as_interrupt
from .plugin.handover import Handover
from .profiles import Profile, load_profile
from .reference.server import ReferenceServer
from .report import CaseRecord, report_document, summarize, write_html, write_json
from .report.baseline import Comparison, baseline_for_check, compare
from .report.junit import finish_junit
from .settings.inputs import Inputs, read_inputs
from .settings.values import (
    check_app_id,
    check_case_pattern,
    check_deviations,
    check_gate,
    check_renewal,
    check_url,
    check_web_options,
    check_workers,
    refuse_bad_value,
    writable_report_dir,
)
from .target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN


@dataclass(frozen=True)
class CheckOptions:
    """What a check is asked to do, as the CLI's flags say it; fixed once made (``dataclasses.replace`` for another).

    :func:`check` refuses a bad value (:func:`refuse_bad_options`) before anything starts or is written."""

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

    def __post_init__(self) -> None:
        # Lists given by a caller become tuples: the options cannot change under a run that holds them. One string
        # is one value (headers="X-Api-Key: abc" was read as the headers 'X', '-', ... one per character).
        for name in ("headers", "extra_pytest_args", "web_origins"):
            given = getattr(self, name) or ()
            object.__setattr__(self, name, (given,) if isinstance(given, str) else tuple(given))


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


def pytest_args(opts: CheckOptions) -> list[str]:
    """pytest's own command line for these options (the suite as an installed package); the plugin's options are
    handed over in-process (:func:`plugin_options`), the caller's ``extra_pytest_args`` come last."""
    report_dir = Path(opts.report_dir)
    args = [
        "--pyargs", "conformance.suite",
        "-c", str(Path(suite.__file__).with_name("pytest.ini")),
        "-p", "no:cacheprovider",
        "-W", "ignore::DeprecationWarning",
        # check imports conformance (and the embedded server) before pytest starts: nothing to rewrite there.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "-W", "ignore:SOCKS support in urllib3",  # urllib3, imported by Schemathesis, about an optional extra
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
    if opts.workers:
        args += ["-n", str(opts.workers)]
    return args + list(opts.extra_pytest_args)


def plugin_options(opts: CheckOptions, url: str, label: str | None) -> dict[str, Any]:
    """The plugin's option values for these options, by declared key (conformance.settings.declarations): handed
    to it in-process (conformance.plugin.handover), typed as they are, only those set (unset ones fall through to
    the plugin's ini and environment, as an absent flag did)."""
    values: dict[str, Any] = {
        "url": url, "report_dir": str(Path(opts.report_dir)), "target_label": label,
        "profile": opts.profile, "app_id": opts.app_id, "case": opts.cases,
        "certificate_file": opts.certificate_file, "deviations": opts.deviations,
        "timeout": opts.timeout, "max_skew": opts.max_skew, "max_rps": opts.max_rps,
        "rate_limit_budget": opts.rate_limit_budget, "renew_expiry": opts.renew_expiry,
        "renew_margin": opts.renew_margin, "web_origin": list(opts.web_origins),
        "browser": opts.browser or bool(opts.browser_path), "browser_path": opts.browser_path,
        "strict": opts.strict, "insecure": opts.insecure,
        # the verdict line leaves the exit code to the gate's line
        "gated_by_baseline": bool(opts.baseline),
    }
    return {key: value for key, value in values.items() if value is not None and value not in ("", False, [])}


def list_cases(opts: CheckOptions, profile: Profile | None = None) -> int:
    """Print the contract's table (id, level, title) of the cases that would run; no request, no report.

    ``profile``: ``opts.profile`` already loaded (the CLI has it), else it is loaded here."""
    return print_case_table(opts.cases, profile if profile is not None else load_profile(opts.profile))


def _interrupted_document(
    report_dir: Path, opts: CheckOptions, url: str | None, signal_name: str, profile: Profile | None,
) -> dict[str, Any]:
    """conformance.json for a run interrupted before the suite could write one (e.g. while the server started)."""
    return unjudged_document(report_dir, opts, url, interrupted=signal_name, profile=profile)


def unjudged_document(
    report_dir: Path, opts: CheckOptions, url: str | None, *, reason: str | None = None, interrupted: str | None = None,
    profile: Profile | None = None,
) -> dict[str, Any]:
    """The reports of a run that ended before the suite wrote any: every selected case "not run", the verdict
    "interrupted" (a signal) or "could not judge" (``reason``, e.g. --profile auto found nothing to judge)."""
    profile = profile if profile is not None else load_profile(opts.profile)
    records = [CaseRecord.for_requirement(r, profile) for r in selected_cases(opts.cases)]
    summary = summarize(records, strict=opts.strict, interrupted=interrupted, abort_reason=reason,
                        contract_ids=tuple(r.id for r in selected_cases(None)),
                        selection=f"--case {opts.cases!r}" if opts.cases else "")
    doc = report_document(url or "embedded reference server", profile.as_dict(), summary, records)
    write_check_reports(report_dir, doc)
    return doc


def write_check_reports(report_dir: Path, document: dict[str, Any]) -> None:
    """conformance.json, conformance.html and junit.xml of a run the suite did not finish itself."""
    write_json(report_dir / "conformance.json", document)
    write_html(report_dir / "conformance.html", document)
    finish_junit(report_dir / "junit.xml", document)


def check(opts: CheckOptions, inputs: Inputs | None = None) -> CheckResult:
    """Run the suite against ``opts.url`` (or the embedded reference server) and return the verdict.

    Exit codes: 0 conforming, 1 not conforming, 2 could not judge or interrupted. SIGINT and SIGTERM
    both end the run as "interrupted" (exit 2, said in every report) with the embedded server stopped.
    With ``opts.baseline`` the exit code is the regression gate's instead (conformance.report.baseline);
    an unusable baseline raises BaselineError before any request is sent.

    ``inputs``: the profile, headers and certificate already read (conformance.settings.inputs; the CLI and watch
    have them); without them they are read here from ``opts``, once, and handed to the plugin in-process.
    A bad option value or input raises UsageError (conformance.errors) before anything starts: no report is
    written and the previous ones stay (:func:`refuse_bad_options`).
    """
    if inputs is None:
        inputs = _read_inputs(opts)
    refuse_bad_options(opts, inputs.profile)
    baseline, notes = _baseline(opts, inputs.profile)
    report_dir = Path(opts.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    stale = report_dir / "conformance.json"
    stale.unlink(missing_ok=True)  # never read a previous run's verdict
    with signals_as_interrupt():
        try:
            result = _check(opts, inputs, report_dir, stale, baseline, notes)
        except KeyboardInterrupt:
            result = _after_interrupt(opts, inputs, report_dir, stale, baseline, notes, last_signal())
        settle()  # the caller prints and exits with this result; a signal now changes neither
        return result


def refuse_bad_options(opts: CheckOptions, profile: Profile) -> None:
    """Refuse what ``token-conformance check`` refuses, with the same line (conformance.settings.values).

    A script that calls :func:`check` with a bad value (``timeout=-1``, a ``cases`` pattern that selects nothing,
    a deviations file that cannot be read) gets a UsageError before anything starts or is written: the previous
    reports stay as they were, instead of being replaced by a run whose reports say "could not judge: no case
    ran". (The CLI, which owns what CI reads, removes them on a usage error: cli/check.py.)"""
    check_url(opts.url)
    check_app_id(opts.app_id)
    for key in ("max_rps", "rate_limit_budget"):
        refuse_bad_value(key, getattr(opts, key))
    check_web_options(opts.web_origins, opts.browser, opts.browser_path, profile)
    check_case_pattern(opts.cases)
    for key in ("timeout", "max_skew"):
        refuse_bad_value(key, getattr(opts, key))
    check_workers(opts.workers)
    if opts.baseline_force and not opts.baseline:
        raise UsageError("--baseline-force needs --baseline FILE")
    check_gate(opts.gate)
    check_renewal(opts.renew_expiry, opts.renew_margin)
    check_deviations(opts.deviations)
    writable_report_dir(opts.report_dir)


def _read_inputs(opts: CheckOptions) -> Inputs:
    """``opts``' profile, headers and certificate, read once; one that cannot be used is a UsageError now."""
    return read_inputs(opts.profile, opts.headers, opts.header_file, opts.certificate_file)


def _after_interrupt(
    opts: CheckOptions, inputs: Inputs, report_dir: Path, stale: Path, baseline: dict[str, Any] | None, notes: list[str],
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
        document = _interrupted_document(report_dir, opts, opts.url, signal_name, inputs.profile)
        return CheckResult(exit_code=2, report_dir=report_dir, document=document)
    write_check_reports(report_dir, document)  # junit.xml too, in case pytest had not written it yet
    code = int(document["summary"]["exit_code"])
    comparison = None
    if baseline is not None and document["summary"].get("interrupted") is None:
        comparison = _against_baseline(baseline, notes, document, opts, stale)
        code = comparison.exit_code if code in (0, 1) else code
    return CheckResult(exit_code=code, report_dir=report_dir, document=document, comparison=comparison)


def _check(
    opts: CheckOptions, inputs: Inputs, report_dir: Path, stale: Path, baseline: dict[str, Any] | None,
    notes: list[str],
) -> CheckResult:
    server = None
    url, label = opts.url, None
    try:
        if not url:
            server = ReferenceServer()
            server.start()
            url, label = server.url, f"embedded reference server {server.url}"
            if not opts.certificate_file:
                inputs = inputs.with_certificate(server.settings.certificate)  # the app the embedded server signs for
            opts = replace(opts, app_id=opts.app_id or server.settings.app_id)
            if opts.renew_expiry is None and opts.renew_margin is None:
                # A loopback server allows a short renewal cycle: the default here, never over what was asked for
                # (a caller's own --token-renew-* pytest arguments still win).
                opts = replace(opts, renew_expiry=EMBEDDED_RENEW_EXPIRY, renew_margin=EMBEDDED_RENEW_MARGIN)
        # The inputs (headers, certificate: secrets) and the option values reach the plugin in this process, and
        # xdist workers through their worker input (conformance.plugin.handover): never the environment.
        handover = Handover(inputs, plugin_options(opts, url, label))
        code = int(pytest.main(pytest_args(opts), plugins=[handover]))
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


def _baseline(opts: CheckOptions, profile: Profile) -> tuple[dict[str, Any] | None, list[str]]:
    """The baseline document and, when forced past a mismatch, the notes saying what differs."""
    if not opts.baseline:
        return None, []
    return baseline_for_check(opts.baseline, force=opts.baseline_force, profile=profile.name, target=opts.url,
                              contract_version=CONTRACT_VERSION)


def _against_baseline(
    baseline: dict[str, Any], notes: list[str], document: dict[str, Any], opts: CheckOptions, path: Path
) -> Comparison:
    """Compare, and add the three lists to conformance.json and conformance.html."""
    comparison = compare(baseline, document, baseline_path=str(opts.baseline), gate=opts.gate)
    comparison.notes = notes
    document["baseline"] = comparison.as_dict()
    write_json(path, document)
    write_html(path.with_name("conformance.html"), document)
    return comparison
