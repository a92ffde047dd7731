"""Helpers shared by subcommands: usage errors, reading the app certificate, checked option values."""

from __future__ import annotations

import os
import re
import sys

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
