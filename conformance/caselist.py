"""The cases a ``--case`` pattern selects, read from the contract alone: ``check --list`` answers at once.

No pytest, no HTTP client, no server: the CLI lists cases without the cost of the API's imports.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .cases import select
from .console import emit
from .contract import REQUIREMENTS
from .contract.model import RUN_CONDITIONS

if TYPE_CHECKING:  # the profiles cost ~0.07 s of import that `token-conformance --help` would pay
    from .profiles import Profile


def selected_cases(cases: str | None) -> list[Any]:
    """The contract's requirements a ``--case`` pattern selects, in contract order (all without a pattern).

    Read from the contract alone, without pytest: ``check --list`` answers at once.
    """
    patterns = [p.strip().upper() for p in (cases or "").split(",") if p.strip()]
    return [r for r in REQUIREMENTS if not patterns or select(r.id, patterns)]


def unmatched_parts(cases: str | None) -> list[str]:
    """The comma-separated parts of a ``--case`` pattern (as typed) that select no case of the contract.

    Checked part by part: ``ROUTE-1,NOPE`` selects ROUTE-1, yet its typo must not pass unnoticed as a smaller run.
    """
    parts = [p.strip() for p in (cases or "").split(",") if p.strip()]
    return [p for p in parts if not any(select(r.id, [p.upper()]) for r in REQUIREMENTS)]


def no_case_message(option: str, parts: list[str], see: str) -> str:
    """The one line that refuses the parts of ``option`` that select no case (shared by check, watch, the plugin)."""
    named = ", ".join(repr(p) for p in parts)
    verb = "selects" if len(parts) == 1 else "select"
    return f"{option} {named} {verb} no case of the contract (see {see})"


def print_case_table(cases: str | None, profile: Profile) -> int:
    """Print the contract's table (id, level, title) of the cases ``cases`` selects; 2 if it selects none."""
    reqs = selected_cases(cases)
    if not reqs:
        print(f"no case matches --case {cases!r}", file=sys.stderr)
        return 2
    lines = [f"{'case':<11} {'level':<6} title"]
    for r in reqs:
        missing = [n for n in r.needs if n not in RUN_CONDITIONS and not profile.has(n)]
        skip = f"  (skipped: profile {profile.name!r} has no {', '.join(missing)} route)" if missing else ""
        lines.append(f"{r.id:<11} {r.level.value:<6} {r.title}{skip}")
    lines.append(f"{len(reqs)} case(s)")
    emit("\n".join(lines))
    return 0
