"""Helpers shared by subcommands: usage errors, checked option values, printing."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from ..certificate import CERTIFICATE_ENV
from ..console import emit
from ..errors import UsageError
from ..headers import resolve
from ..settings.declarations import add_arguments

if TYPE_CHECKING:
    from ..profiles import Profile

__all__ = [
    "CERTIFICATE_ENV", "UsageError", "add_request_options", "add_web_options", "check_app_id", "emit",
    "read_headers", "web_origins",
]

_APP_ID = re.compile(r"[0-9a-fA-F]{32}")


def check_app_id(value: str | None) -> str | None:
    """``--app-id`` as Agora issues them: 32 hexadecimal characters."""
    if value is not None and not _APP_ID.fullmatch(value):
        raise UsageError(f"--app-id must be 32 hexadecimal characters, not {value!r}")
    return value


def read_headers(args: argparse.Namespace) -> dict[str, str]:
    """``--header`` and ``--header-file`` with ``$TOKEN_SERVER_HEADERS`` (a HeaderError is a UsageError)."""
    return resolve(args.header or (), args.header_file)


def add_request_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, command: str, *,
                        pacing: bool = False) -> None:
    """--header / --header-file (credentials) and, for check, --max-rps / --rate-limit-budget."""
    add_arguments(p, command, "header", "header_file", *(("max_rps", "rate_limit_budget") if pacing else ()))


def add_web_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, command: str, *,
                    browser: bool = False) -> None:
    """--web-origin (HEADER-5) and, for check, --browser / --browser-path."""
    add_arguments(p, command, "web_origin", *(("browser", "browser_path") if browser else ()))


def web_origins(args: argparse.Namespace, profile: Profile) -> tuple[str, ...]:
    """--web-origin values as origins; --browser checked (Playwright, a Chromium, an origin to judge): one line each."""
    # Late: conformance.cors and conformance.browser are only needed by check and watch once they run, not by
    # every subcommand's parser (token-conformance --help); see docs/performance.md.
    from ..browser import BrowserError, find_browser, require_playwright
    from ..cors import OriginError, parse_origins

    try:
        origins = parse_origins(getattr(args, "web_origin", None) or ())
    except OriginError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "browser", False) or getattr(args, "browser_path", None):
        if not origins and not profile.web_origins:
            raise UsageError("--browser confirms HEADER-5 for each web origin: declare one with --web-origin "
                             "(or web_origins in the profile)")
        try:
            require_playwright()
            find_browser(args.browser_path)
        except BrowserError as exc:
            raise UsageError(str(exc)) from None
    return origins
