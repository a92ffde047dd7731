"""Requirement records and their levels (RFC 2119).

Plain records: this module imports nothing of the package, so the catalogue can import it and nothing
imports back (lookup by id and rendering live in render.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: Needs that are not profile routes: what the run is configured with (--header, --web-origin).
RUN_CONDITIONS = frozenset({"credentials", "web_origin"})


class Level(str, Enum):
    """How binding a requirement is. MUST failures make a server non-conforming;
    SHOULD failures do so only in strict mode; MAY failures are informational."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"

    def gates(self, strict: bool) -> bool:
        """Whether a failure at this level makes the run non-conforming."""
        return self is Level.MUST or (strict and self is Level.SHOULD)


@dataclass(frozen=True)
class Requirement:
    id: str
    section: str
    level: Level
    title: str
    #: The requirement sentence, printed with every failure.
    sentence: str
    #: Why: grounded in what real servers do and what clients need.
    rationale: str
    #: Profile features the case needs ("rtm", "health", "post_get_token"), or run conditions (RUN_CONDITIONS:
    #: "credentials", "web_origin"); not applicable when absent.
    needs: tuple[str, ...] = ()
