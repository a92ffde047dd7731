"""The ``@case`` decorator that ties a suite function to one requirement of the contract.

The plugin turns each decorated function into one pytest item whose name is the
requirement id, so ``-k ROUTE-1``, ``--token-case 'INPUT-*'`` and
``--collect-only`` speak the contract's language.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

from .contract import Requirement, by_id

F = TypeVar("F", bound=Callable[..., Any])

#: The start of a skip message for a case that does not apply to this target (a route the profile lacks,
#: credentials that were not configured): nothing is left unjudged, so no report warns about it.
NOT_APPLICABLE = "not applicable"


def case(requirement_id: str, *, prefetch: Callable[[Any], Any] | None = None) -> Callable[[F], F]:
    """Mark ``fn`` as the check of ``requirement_id``.

    ``prefetch(target)`` runs in a background thread as soon as the run starts, and
    its result reaches the case through the ``prefetched`` fixture: cases that must
    wait on the clock (renewal, freshness) then wait in parallel, not in turn.
    """
    requirement = by_id(requirement_id)

    def decorate(fn: F) -> F:
        fn.__requirement__ = requirement  # type: ignore[attr-defined]
        fn.__prefetch__ = prefetch  # type: ignore[attr-defined]
        return fn

    return decorate


def requirement_of(obj: object) -> Requirement | None:
    req = getattr(obj, "__requirement__", None)
    return req if isinstance(req, Requirement) else None


def select(case_id: str, patterns: list[str]) -> bool:
    """Whether ``--case`` patterns (upper-cased ids, globs or section names) select ``case_id``.

    Shared by the plugin (which deselects) and ``check --list`` (which answers without pytest).
    """
    section = case_id.rsplit("-", 1)[0]
    return any(case_id == p or fnmatch.fnmatchcase(case_id, p) or section == p for p in patterns)
