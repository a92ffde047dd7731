"""Finding tokens in a token server's answer, wherever it puts them.

Servers answer ``{"rtcToken": ...}``, ``{"key": ...}``, ``{"data": {"token": ...}}`` or the bare token as
text. ``decode`` (a pasted answer) and ``profile infer`` (a live one) both need "every string in this answer
that decodes as a 006 / 007 token, and where it is"; the place is an RFC 6901 JSON pointer (``""`` for the whole
document), the form profiles use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from .codec import decode
from .errors import TokenError
from .model import Token

#: Version prefixes of the tokens the codec reads; any other string is not tried.
PREFIXES = ("006", "007")
#: Deepest nesting walked: a token answer is shallow, a hostile document is not walked for ever.
MAX_DEPTH = 32


class FoundToken(NamedTuple):
    """A token found in a document: its JSON pointer, the string as answered and the decoded token."""

    pointer: str
    raw: str
    token: Token


def pointer_part(key: str | int) -> str:
    """One RFC 6901 reference token: ``~`` as ``~0``, ``/`` as ``~1``."""
    return str(key).replace("~", "~0").replace("/", "~1")


def strings(document: Any, pointer: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string value of a JSON document, with its pointer, in document order."""
    if isinstance(document, str):
        yield pointer, document
    elif depth < MAX_DEPTH and isinstance(document, dict):
        for key, value in document.items():
            yield from strings(value, f"{pointer}/{pointer_part(key)}", depth + 1)
    elif depth < MAX_DEPTH and isinstance(document, list):
        for n, value in enumerate(document):
            yield from strings(value, f"{pointer}/{n}", depth + 1)


def try_decode(text: str) -> Token | None:
    """The token ``text`` is (surrounding whitespace stripped), or None when it is not one."""
    text = text.strip()
    if not text.startswith(PREFIXES):
        return None
    try:
        return decode(text)
    except TokenError:
        return None


def find_tokens(document: Any) -> list[FoundToken]:
    """Every string in ``document`` (parsed JSON, or a bare string) that decodes as a token, in document order."""
    found = []
    for pointer, text in strings(document):
        token = try_decode(text)
        if token is not None:
            found.append(FoundToken(pointer, text.strip(), token))
    return found
