"""Helpers shared by subcommands: usage errors, checked option values, printing."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..certificate import CERTIFICATE_ENV
from ..console import emit
from ..errors import UsageError
from ..headers import resolve
from ..settings.declarations import add_arguments
from ..settings.values import check_app_id, check_web_options

if TYPE_CHECKING:
    from ..profiles import Profile

__all__ = [
    "CERTIFICATE_ENV", "UsageError", "add_request_options", "add_web_options", "check_app_id", "emit",
    "read_headers", "web_origins",
]


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
    """--web-origin values as origins; --browser checked (conformance.settings.values.check_web_options)."""
    return check_web_options(getattr(args, "web_origin", None) or (), getattr(args, "browser", False),
                             getattr(args, "browser_path", None), profile)
