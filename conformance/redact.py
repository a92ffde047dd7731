"""Keep secrets out of everything the harness prints or writes.

Messages quote server responses, and a server that echoes its input or leaks
its configuration may put the app certificate or a configured credential
(``--header`` values) in them; every text that leaves
the process (terminal, JSON, JUnit, HTML) goes through ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .headers import secret_parts

REDACTED = "[REDACTED]"
#: Shorter strings would blank out ordinary words; a real certificate is 32 hex characters.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Replaces every known secret, in any letter case, with ``[REDACTED]``.

    Any case, not just the original, upper and lower: a hex certificate may come
    back re-cased by whatever formatted it.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_LENGTH or secret.lower() in self._secrets:
            return
        self._secrets.append(secret.lower())
        # Longest first, so a secret that contains another is replaced whole.
        alternatives = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)

    def add_header_value(self, value: str) -> None:
        """A configured request header (credentials): the whole value and the credential after its scheme."""
        for part in secret_parts(value):
            self.add(part)

    def redact(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._secrets)
