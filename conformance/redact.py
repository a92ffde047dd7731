"""Keep secrets out of everything the harness prints or writes.

Messages quote server responses, and a server that echoes its input or leaks
its configuration may put the app certificate in them; every text that leaves
the process (terminal, JSON, JUnit, HTML) goes through ``redact``.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[REDACTED]"


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            # Case variants too: a hex certificate may come back upper- or lower-cased.
            for variant in {secret.lower(), secret.upper()} - {secret}:
                self._secrets.append(variant)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)
