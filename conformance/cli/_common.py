"""Helpers shared by subcommands: usage errors and reading the app certificate."""

from __future__ import annotations

import os
from pathlib import Path

CERTIFICATE_ENV = "TOKEN_SERVER_APP_CERTIFICATE"


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, never a traceback."""


def read_certificate(path: str | None) -> str | None:
    """The app certificate from a file (if given) or the environment; None if neither.

    Never from a command-line argument: argv is visible to every user of the
    machine (ps) and lands in shell history and CI logs.
    """
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read the certificate file {path!r}: {exc.strerror}") from None
        if not value:
            raise UsageError(f"the certificate file {path!r} is empty")
        return value
    value = os.environ.get(CERTIFICATE_ENV, "").strip()
    return value or None
