"""Where the secrets of a run come from: request headers and the app certificate, each read by one function.

Light on purpose (no profile, no HTTP client): ``decode`` and the parsers of every subcommand import it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..certificate import CertificateError, read_certificate
from ..headers import HeaderError, resolve
from .declarations import UsageError


def read_headers(specs: Sequence[str] | None, file: str | None) -> dict[str, str]:
    """Every configured header: ``$TOKEN_SERVER_HEADERS``, ``--header-file``, then ``--header`` specs."""
    try:
        return resolve(specs or (), file)
    except HeaderError as exc:
        raise UsageError(str(exc)) from None


def read_app_certificate(path: str | None) -> str | None:
    """The app certificate from ``--certificate-file`` or ``$TOKEN_SERVER_APP_CERTIFICATE``; None if neither."""
    try:
        return read_certificate(path)
    except CertificateError as exc:
        raise UsageError(str(exc)) from None
