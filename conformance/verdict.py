"""What a case concludes, worded for the person who has to fix the server.

A failed case raises :class:`CaseFailure` holding one or more :class:`Finding`
(what was expected, what came back, and the curl line that reproduces it), in
the manner of h2spec's "Expected / Actual". The plugin prints it under the
requirement sentence and level. Nothing here knows pytest or HTTP libraries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

#: A 006 or 007 token as servers send them: a version, then base64 (006: the app id, then base64).
_AGORA_TOKEN = re.compile(r"\b00[67][A-Za-z0-9+/_-]{24,}={0,2}")


def shorten_tokens(text: str) -> str:
    """Tokens in a message as people quote them: ``007eJxTYLhwYN7…Q3dA``, recognisable, not 200 characters.

    The full token is one curl away (the Reproduce line), and a page of base64 per finding buries what differs.
    """
    return _AGORA_TOKEN.sub(lambda m: f"{m.group()[:14]}…{m.group()[-4:]}", text)


class Reproducible(Protocol):
    def curl(self) -> str: ...

    def summary(self, limit: int = 200) -> str: ...


@dataclass(frozen=True)
class Finding:
    """One violation: the acceptable outcomes, the actual one, and how to see it again."""

    what: str
    expected: tuple[str, ...]
    actual: str
    curl: str | None = None

    def render(self) -> str:
        lines = [f"- {self.what}"]
        if len(self.expected) == 1:
            lines.append(f"    Expected: {self.expected[0]}")
        else:
            lines.append("    Expected one of:")
            lines += [f"      * {e}" for e in self.expected]
        lines.append(f"    Actual:   {self.actual}")
        if self.curl:
            lines.append(f"    Reproduce: {self.curl}")
        return "\n".join(lines)


class CaseFailure(AssertionError):
    """A requirement violated; carries every finding of the case."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(f.render() for f in self.findings)


class CaseSkip(Exception):
    """The case cannot apply to this target (the plugin turns it into a skip)."""


@dataclass
class Findings:
    """Collects findings while a case walks through its requests, then fails once with all of them.

    Reporting every bad input in one go (not just the first) saves a fix-rerun loop.
    """

    items: list[Finding] = field(default_factory=list)
    #: How many conditions were checked (a case that checked none has judged nothing).
    checked: int = 0

    def add(
        self,
        what: str,
        expected: str | Iterable[str],
        actual: str,
        exchange: Reproducible | None = None,
    ) -> None:
        exp = (expected,) if isinstance(expected, str) else tuple(expected)
        self.items.append(Finding(what, exp, actual, exchange.curl() if exchange is not None else None))

    def check(
        self,
        condition: bool,
        what: str,
        expected: str | Iterable[str],
        actual: str,
        exchange: Reproducible | None = None,
    ) -> bool:
        self.checked += 1
        if not condition:
            self.add(what, expected, actual, exchange)
        return condition

    def __bool__(self) -> bool:
        return bool(self.items)

    def conclude(self) -> None:
        """Raise CaseFailure if anything was found."""
        if self.items:
            raise CaseFailure(self.items)


def fail(what: str, expected: str | Iterable[str], actual: str, exchange: Reproducible | None = None) -> None:
    """Fail the case at once with a single finding."""
    f = Findings()
    f.add(what, expected, actual, exchange)
    f.conclude()
