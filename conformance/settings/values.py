"""The checks of ``check``'s option values that its command line and its Python API share: one message each.

``token-conformance check`` refuses a bad value before anything starts (cli/check.py); ``conformance.api.check``
refuses the same value with the same line (``api.refuse_bad_options``), so a script gets a UsageError instead of
a run that writes "could not judge: no case ran". Nothing heavy is imported here: ``check --list`` runs these
checks without the API's imports (the browser's are late, as in the CLI).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..caselist import no_case_message, unmatched_parts
from ..cors import OriginError, parse_origins
from ..deviations import DeviationsError, load_deviations
from ..errors import UsageError
from .declarations import DEFAULT_RENEW_EXPIRY, DEFAULT_RENEW_MARGIN, option, problem

if TYPE_CHECKING:
    from ..profiles import Profile

_APP_ID = re.compile(r"[0-9a-fA-F]{32}")


def check_url(url: str | None) -> None:
    """The target's URL, when one is given (None: the embedded reference server)."""
    if url and not url.startswith(("http://", "https://")):
        raise UsageError(f"the URL must start with http:// or https://, not {url!r}")


def check_app_id(value: str | None) -> str | None:
    """``--app-id`` as Agora issues them: 32 hexadecimal characters."""
    if value is not None and not _APP_ID.fullmatch(value):
        raise UsageError(f"--app-id must be 32 hexadecimal characters, not {value!r}")
    return value


def refuse_bad_value(key: str, value: Any) -> None:
    """The declared rule of option ``key`` (conformance.settings.declarations): one line naming the flag."""
    reason = problem(key, value)
    if reason:
        raise UsageError(f"--{key.replace('_', '-')} {reason}")


def check_case_pattern(pattern: str | None) -> None:
    """``--case``: a pattern that selects nothing is refused, never read as "every case"; so is each of its
    comma-separated parts that selects nothing (a typo next to a good id would otherwise shrink the run unseen)."""
    if pattern is None:
        return
    if not pattern.replace(",", "").strip():
        # Read as no pattern it would run the full suite, the opposite of what a selection asks for.
        raise UsageError("--case needs at least one case id, glob or section (e.g. 'EXPIRY,INPUT-1*'); "
                         "leave it out to run every case")
    unmatched = unmatched_parts(pattern)
    if unmatched:
        raise UsageError(no_case_message("--case", unmatched, "check --list"))


def check_workers(workers: int | None) -> None:
    """``--workers``: a whole number of processes, and pytest-xdist installed to start them."""
    refuse_bad_value("workers", workers)
    if workers is not None:
        try:
            import xdist  # noqa: F401  (late: only a run with --workers needs it)
        except ImportError:
            raise UsageError("--workers needs pytest-xdist: pip install 'token-conformance[test]'") from None


def check_gate(gate: str) -> None:
    """``--gate``: one of its declared choices (argparse refuses others on the command line)."""
    choices = option("gate").choices or ()
    if gate not in choices:
        raise UsageError(f"--gate must be one of {', '.join(choices)}, not {gate!r}")


def check_renewal(expiry: int | None, margin: float | None) -> None:
    """The renewal case's lifetime and margin (EXPIRY-6): the margin below the lifetime, either one's default
    standing for the one not given (against the embedded server too: its shorter cycle is used when neither is)."""
    if expiry is not None and not 1 <= expiry <= 86400:
        raise UsageError("--renew-expiry must be a whole number of seconds from 1 to 86400")
    if margin is not None and not 0 < margin < (expiry or DEFAULT_RENEW_EXPIRY):
        raise UsageError("--renew-margin must be above 0 and below the renewal lifetime "
                         f"({expiry or DEFAULT_RENEW_EXPIRY} s)")
    if expiry is not None and margin is None and not DEFAULT_RENEW_MARGIN < expiry:
        # The plugin would refuse the pair once the run started: a run that judges nothing.
        raise UsageError(f"--renew-expiry must be above the default --renew-margin ({DEFAULT_RENEW_MARGIN:g} s); "
                         "give a smaller --renew-margin with it")


def check_web_options(given: Iterable[str], browser: bool, browser_path: str | None,
                      profile: Profile) -> tuple[str, ...]:
    """--web-origin values as origins; --browser checked (Playwright, a Chromium, an origin to judge): one line each."""
    # Late imports: conformance.browser (threads, concurrent.futures) is needed by check and watch once they run,
    # not by every subcommand's parser: at the top it costs `token-conformance --help` (0.24-0.31 s of CPU,
    # farm-bench medians) another 17 ms (python -X importtime).
    from ..browser import BrowserError, find_browser, require_playwright

    try:
        origins = parse_origins(given)
    except OriginError as exc:
        raise UsageError(str(exc)) from None
    if browser or browser_path:
        if not origins and not profile.web_origins:
            raise UsageError("--browser confirms HEADER-5 for each web origin: declare one with --web-origin "
                             "(or web_origins in the profile)")
        try:
            require_playwright()
            find_browser(browser_path)
        except BrowserError as exc:
            raise UsageError(str(exc)) from None
    return origins


def check_deviations(path: str | None) -> None:
    """``--deviations``: a file that cannot be used is refused before the run, naming the file."""
    try:
        load_deviations(path)
    except DeviationsError as exc:
        raise UsageError(str(exc)) from None


def writable_report_dir(path: str | os.PathLike[str]) -> None:
    """Create --report-dir now: a folder that cannot be written is a usage error, not a failed run."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report folder {str(path)!r}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to the report folder {str(path)!r}")
