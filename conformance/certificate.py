"""The app certificate: where every command and the pytest plugin read it from.

One reader and one environment variable for ``check``, ``decode``, ``load`` and
``pytest --token-app-certificate-file``, so a file that works for one works for
all. Never a command-line value: argv is visible to every user of the machine
(``ps``) and lands in shell history and CI logs.
"""

from __future__ import annotations

import os
from pathlib import Path

CERTIFICATE_ENV = "TOKEN_SERVER_APP_CERTIFICATE"

#: Why a case that needs the certificate was skipped, naming both ways to give it.
NO_CERTIFICATE = (
    f"no app certificate: set {CERTIFICATE_ENV}, or give --certificate-file (token-conformance check) "
    "or --token-app-certificate-file (pytest)"
)


class CertificateError(ValueError):
    """The certificate file cannot be used; the message names the file, never its content."""


def read_certificate(path: str | None) -> str | None:
    """The app certificate from a file (if given) or ``$TOKEN_SERVER_APP_CERTIFICATE``; None if neither."""
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CertificateError(f"cannot read the certificate file {path!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CertificateError(f"the certificate file {path!r} is not text") from None
        if not value:
            raise CertificateError(f"the certificate file {path!r} is empty")
        return value
    return os.environ.get(CERTIFICATE_ENV, "").strip() or None
