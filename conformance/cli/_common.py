"""Helpers shared by subcommands: usage errors, reading the app certificate, checked option values."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..profiles import Profile

from .. import certificate as _certificate
from ..certificate import CERTIFICATE_ENV

__all__ = ["CERTIFICATE_ENV", "UsageError", "check_app_id", "emit", "read_certificate"]

_APP_ID = re.compile(r"[0-9a-fA-F]{32}")


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, never a traceback."""


def read_certificate(path: str | None) -> str | None:
    """The app certificate from a file (if given) or the environment; None if neither (see conformance.certificate)."""
    try:
        return _certificate.read_certificate(path)
    except _certificate.CertificateError as exc:
        raise UsageError(str(exc)) from None


def check_app_id(value: str | None) -> str | None:
    """``--app-id`` as Agora issues them: 32 hexadecimal characters."""
    if value is not None and not _APP_ID.fullmatch(value):
        raise UsageError(f"--app-id must be 32 hexadecimal characters, not {value!r}")
    return value


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error.

    Python's advice for SIGPIPE: point stdout at /dev/null so the flush at exit does not fail again.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def add_request_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, pacing: bool = True) -> None:
    """--header / --header-file (credentials) and, for check, --max-rps / --rate-limit-budget."""
    p.add_argument("-H", "--header", action="append", metavar="'NAME: VALUE'",
                   help="header sent with every request (repeatable), e.g. 'Authorization: Bearer ...'; 'NAME' alone "
                   "reads $TOKEN_HEADER_NAME. Values are secrets, never shown; keep them off the command line with "
                   "$TOKEN_SERVER_HEADERS or --header-file")
    p.add_argument("--header-file", metavar="FILE", help="file of 'Name: value' lines sent with every request")
    if pacing:
        p.add_argument("--max-rps", type=float, help="send at most this many requests per second")
        p.add_argument("--rate-limit-budget", type=float, metavar="SECONDS",
                       help="seconds the run may wait out 429 / 503 Retry-After answers before it gives up (default 60)")


def request_headers(args: argparse.Namespace) -> dict[str, str]:
    """The configured headers, or a one-line usage error for bad syntax."""
    from ..headers import HeaderError, resolve

    try:
        return resolve(args.header or (), args.header_file)
    except HeaderError as exc:
        raise UsageError(str(exc)) from None


def add_web_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, browser: bool = True) -> None:
    """--web-origin (HEADER-5) and, for check, --browser / --browser-path."""
    p.add_argument("--web-origin", action="append", metavar="ORIGIN",
                   help="origin of a web app that fetches tokens with fetch(), e.g. https://app.example.com "
                   "(repeatable; also the profile's web_origins): HEADER-5 judges that a page there can read a token")
    if browser:
        p.add_argument("--browser", action="store_true",
                       help="confirm HEADER-5 in a real headless Chromium (needs pip install 'token-conformance[browser]' "
                       "and a Chromium on PATH; no browser is downloaded)")
        p.add_argument("--browser-path", metavar="PATH", help="the Chromium executable for --browser (implies --browser)")


def web_origins(args: argparse.Namespace, profile: Profile) -> tuple[str, ...]:
    """--web-origin values as origins; --browser checked (Playwright, a Chromium, an origin to judge): one line each."""
    from ..cors import OriginError, parse_origins

    try:
        origins = parse_origins(getattr(args, "web_origin", None) or ())
    except OriginError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "browser", False) or getattr(args, "browser_path", None):
        if not origins and not profile.web_origins:
            raise UsageError("--browser confirms HEADER-5 for each web origin: declare one with --web-origin "
                             "(or web_origins in the profile)")
        from ..browser import BrowserError, find_browser, require_playwright

        try:
            require_playwright()
            find_browser(args.browser_path)
        except BrowserError as exc:
            raise UsageError(str(exc)) from None
    return origins
