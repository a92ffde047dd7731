"""Collection: case items named by requirement id, --token-case selection, user cases, known deviations."""

from __future__ import annotations

import inspect

import pytest

from ..caselist import no_case_message, unmatched_parts
from ..cases import NOT_APPLICABLE, requirement_of, select
from ..contract import Level, by_id
from ..contract.model import RUN_CONDITIONS
from ..report import CaseRecord
from .options import read_deviations, read_option, run_settings, selection_text
from .state import LATENCY_CASE, REQ_INDEX, state_of


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[pytest.Item] | None:
    req = requirement_of(obj)
    if req is None or not inspect.isfunction(obj):
        return None
    # originalname too: pytest 9 builds the node id from it (the object comes from callobj).
    item = pytest.Function.from_parent(collector, name=req.id, callobj=obj, originalname=req.id)
    item.add_marker(getattr(pytest.mark, req.level.value.lower()))
    item.add_marker(pytest.mark.requirement(req.id))
    return [item]


def _selected(case_id: str, patterns: list[str]) -> bool:
    return select(case_id, patterns)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: the records are the cases that will run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = [i for i in items if i.name in REQ_INDEX and i.get_closest_marker("requirement")]
    if not cases:
        return
    state = state_of(config)
    state.active = True
    pattern = read_option(config, "case")
    if pattern is not None and not pattern.replace(",", "").strip():
        raise pytest.UsageError("--token-case needs at least one case id, glob or section; leave it out to run every case")
    unmatched = unmatched_parts(pattern)
    if unmatched:
        raise pytest.UsageError(no_case_message("--token-case", unmatched, "token-conformance check --list"))
    state.findings.selection = selection_text(config)
    if pattern:
        patterns = [p.strip().upper() for p in pattern.split(",") if p.strip()]
        deselected = [i for i in cases if not _selected(i.name, patterns)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [i for i in items if i not in deselected]
            cases = [i for i in cases if i not in deselected]
    # Cases that wait (prefetch in the background) go last, so their waiting overlaps the others.
    # LATENCY-1 goes after everything: it judges the answer times of the whole run. LATENCY-2's sample
    # (its own requests, one at a time) is taken before the waiting cases are collected, while they sleep.
    waits = {id(i) for i in cases if getattr(getattr(i, "obj", None), "__prefetch__", None)}
    items.sort(key=lambda i: (i.name == LATENCY_CASE, id(i) in waits))
    settings = run_settings(config)
    deviations = read_deviations(config)
    for item in cases:
        req = by_id(item.name)
        if "credentials" in req.needs and not settings.has_credentials:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: no credentials configured (--header), nothing to enforce"
            ))
        if "web_origin" in req.needs and not settings.origins:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: no web origin declared (--web-origin, or the profile's web_origins)"
            ))
        missing = [n for n in req.needs if n not in RUN_CONDITIONS and not settings.profile.has(n)]
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: profile {settings.profile.name!r} has no {', '.join(missing)} route"
            ))
        reason = deviations.get(item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"known deviation: {reason}", strict=False))
        state.findings.records[item.name] = CaseRecord.for_requirement(req, settings.profile)
    for item in items:
        user = user_case(item)
        if user is not None:
            state.findings.records[item.nodeid] = user


_LEVEL_MARKERS = {lvl.value.lower(): lvl for lvl in Level}


def user_case(item: pytest.Item) -> CaseRecord | None:
    """A test of your own marked ``requirement("MY-2")`` and/or ``must`` / ``should`` / ``may``.

    It joins the verdict and the reports like a bundled case (docs/plugin.md): a failed ``must`` makes the
    server non-conforming. Its title is the docstring's first line, its requirement sentence the
    ``requirement(..., sentence=...)`` keyword or the docstring; the level defaults to MUST.
    """
    if item.name in REQ_INDEX:
        return None
    marker = item.get_closest_marker("requirement")
    level = next((lvl for name, lvl in _LEVEL_MARKERS.items() if item.get_closest_marker(name)), None)
    if marker is None and level is None:
        return None
    case_id = str(marker.args[0]) if marker is not None and marker.args else item.name
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    title = doc.splitlines()[0] if doc else item.name
    sentence = (marker.kwargs.get("sentence") if marker is not None else None) or doc or title
    section = case_id.rsplit("-", 1)[0] if "-" in case_id else "USER"
    return CaseRecord(id=case_id, section=section, title=title, requirement=str(sentence),
                      level=(level or Level.MUST).value)

