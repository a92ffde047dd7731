"""Extra request headers (credentials) for a target behind authentication.

Real token servers sit behind bearer tokens, API keys or a gateway. Every
configured header value is treated as a secret: it is added to the redactor,
and curl lines show a shell variable in its place (``$TOKEN_HEADER_AUTHORIZATION``)
so the reader knows which variable to set to replay the request.

Sources, all merged (later ones win for the same name):

- ``--header 'Name: value'`` (repeatable; visible in ``ps`` and shell history),
- ``--header Name`` (no colon): the value comes from ``$TOKEN_HEADER_<NAME>``,
- ``$TOKEN_SERVER_HEADERS``: ``Name: value`` lines (the CI-secret way),
- ``--header-file FILE``: ``Name: value`` lines, ``#`` comments.

``check`` reads them once (conformance.settings) and hands them to the plugin inside
the pytest process (conformance.plugin.handover), never through argv or the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import UsageError

HEADERS_ENV = "TOKEN_SERVER_HEADERS"
HEADER_ENV_PREFIX = "TOKEN_HEADER_"
_FIELD_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


class HeaderError(UsageError, ValueError):
    """A header spec that cannot be used: shown as one line, exit 2."""


def env_name(name: str) -> str:
    """The variable ``--header NAME`` reads, and curl lines show: TOKEN_HEADER_X_API_KEY for X-Api-Key."""
    return HEADER_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def placeholder(name: str) -> str:
    return "$" + env_name(name)


def parse_line(spec: str, *, where: str = "--header", environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``'Name: value'`` -> (name, value); ``'Name'`` -> the value of $TOKEN_HEADER_NAME."""
    environ = os.environ if environ is None else environ
    name, sep, value = spec.partition(":")
    name, value = name.strip(), value.strip()
    if not name or not _FIELD_NAME.match(name):
        raise HeaderError(f"{where}: {_shown(spec)} is not 'Name: value' (a header name is letters, digits and -)")
    if not sep:
        var = env_name(name)
        value = environ.get(var, "").strip()
        if not value:
            raise HeaderError(f"{where}: {name} has no value: write 'Name: value' or set ${var}")
    if not value:
        raise HeaderError(f"{where}: header {name} has an empty value")
    if any(c in value for c in "\r\n\0"):
        raise HeaderError(f"{where}: the value of {name} contains a line break")
    return name, value


def _shown(spec: str) -> str:
    """A bad spec as an error may quote it: the name part only (the rest may be a secret)."""
    name = spec.partition(":")[0].strip()
    return repr(name[:40] + ("..." if len(name) > 40 or ":" in spec else ""))


def parse_lines(text: str, *, where: str) -> list[tuple[str, str]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(parse_line(line, where=f"{where} line {n}"))
    return out


def read_file(path: str) -> list[tuple[str, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HeaderError(f"cannot read the header file {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HeaderError(f"the header file {path!r} is not UTF-8 text") from None
    return parse_lines(text, where=f"header file {path!r}")


def resolve(
    specs: Iterable[str] = (), file: str | None = None, environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every configured header, from the environment, the file and the specs (in that order of precedence)."""
    environ = os.environ if environ is None else environ
    pairs: list[tuple[str, str]] = []
    env_text = environ.get(HEADERS_ENV, "")
    if env_text.strip():
        pairs += parse_lines(env_text, where=f"${HEADERS_ENV}")
    if file:
        pairs += read_file(file)
    pairs += [parse_line(s, environ=environ) for s in specs]
    merged: dict[str, str] = {}
    lower: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in lower:
            merged.pop(lower[key])
        lower[key] = name
        merged[name] = value
    return merged


def to_env(headers: Mapping[str, str]) -> str:
    """The ``$TOKEN_SERVER_HEADERS`` text for these headers."""
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def secret_parts(value: str) -> list[str]:
    """What must never be shown of a header value: the whole value and, for 'Scheme credential', the credential."""
    parts = [value]
    _scheme, sep, rest = value.partition(" ")
    if sep and rest.strip():
        parts.append(rest.strip())
    return parts
