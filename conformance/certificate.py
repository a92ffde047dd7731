"""The app certificate: where every command and the pytest plugin read it from.

One reader and one environment variable for ``check``, ``decode``, ``load`` and
``pytest --token-app-certificate-file``, so a file that works for one works for
all. Never a command-line value: argv is visible to every user of the machine
(``ps``) and lands in shell history and CI logs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import UsageError

#: The environment variable every command, the plugin and the Locust process read the app certificate from.
CERTIFICATE_ENV = "TOKEN_SERVER_APP_CERTIFICATE"

#: Why a case that needs the certificate was skipped, naming both ways to give it.
NO_CERTIFICATE = (
    f"no app certificate: set {CERTIFICATE_ENV}, or give --certificate-file (token-conformance check) "
    "or --token-app-certificate-file (pytest)"
)


class CertificateError(UsageError, ValueError):
    """The certificate file cannot be used; the message names the file, never its content."""


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def _checked(value: str, source: str) -> str:
    """An app certificate is 32 hexadecimal characters. Anything else is a configuration mistake, said at once:
    judged as a certificate, it would make every signature "invalid" and fail TOKEN-8 on a correct server."""
    if _HEX32.fullmatch(value) is None:
        raise CertificateError(f"{source} does not hold an app certificate: an app certificate is 32 hexadecimal "
                               f"characters (it has {len(value)} characters)")
    return value


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
        return _checked(value, f"the certificate file {path!r}")
    value = os.environ.get(CERTIFICATE_ENV, "").strip()
    return _checked(value, f"${CERTIFICATE_ENV}") if value else None
