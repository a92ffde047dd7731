"""Outcomes: each report turned into a case record (redacted), LATENCY-1 and a target that went down."""

from __future__ import annotations

import json
import time
from collections.abc import Generator

import pytest

from ..client import Exchange
from ..contract import by_id
from ..preflight import slow_evidence
from ..report import CaseRecord
from ..target import Target
from ..verdict import CaseFailure, shorten_tokens
from .collection import user_case
from .options import profile_or_none
from .state import LATENCY_CASE, REQ_INDEX, RunState, state_of


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.name not in REQ_INDEX or not item.get_closest_marker("requirement"):
        user = user_case(item)
        if user is not None and report.when == "setup":
            report.user_properties.append(("token_conformance_case", user.__dict__.copy()))
        return report
    state = state_of(item.config)
    redactor, target = state.setup.redactor, state.setup.target
    req = by_id(item.name)
    report.user_properties.append(("requirement", req.id))
    report.user_properties.append(("level", req.level.value))
    note = _case_note(state, item.name) if report.when == "call" else None
    if note:
        report.user_properties.append(("case_note", redactor.redact(note)))
    if report.when == "call" and item.name == "HEADER-5" and target is not None and "web_origins" in target.memo:
        # Problems quote the server's answers: redacted like every message.
        verdicts = json.loads(redactor.redact(json.dumps(target.memo["web_origins"])))
        report.user_properties.append(("web_origins", verdicts))
    if report.when == "call" and report.failed and item.name != LATENCY_CASE and _too_slow_now(state):
        # The failure is a token request that outlived the client's timeout: LATENCY-1's, not this case's.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), 0, f"Skipped: judged by {LATENCY_CASE}: {state.stops.slow_reason}")
        return report

    if report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        if isinstance(exc, CaseFailure):
            body = exc.render()
            first = exc.findings[0]
            more = f" (and {len(exc.findings) - 1} more)" if len(exc.findings) > 1 else ""
            report.user_properties.append(
                ("root_cause", shorten_tokens(redactor.redact(f"{first.what}: {first.actual}{more}"))))
        else:
            body = f"{call.excinfo.typename}: {exc}\n" + str(report.longrepr)
        if note:
            body += f"\n{note}"
        text = f"{req.id} [{req.level.value}] {req.title}\n  Requirement: {req.sentence}\n{body}"
        report.longrepr = shorten_tokens(redactor.redact(text))
    elif report.longrepr is not None:
        lr = report.longrepr
        if isinstance(lr, tuple) and len(lr) == 3:  # a skip: JUnit and -rs need the (path, line, reason) tuple
            report.longrepr = (lr[0], lr[1], shorten_tokens(redactor.redact(str(lr[2]))))
        elif redactor:
            report.longrepr = redactor.redact(str(lr))
    if hasattr(report, "wasxfail") and redactor:
        report.wasxfail = redactor.redact(report.wasxfail)
    return report


def record_report(config: pytest.Config, report: pytest.TestReport) -> None:
    """pytest_runtest_logreport: the report joins its case's record (conformance.plugin.session binds the config)."""
    name = report.nodeid.rsplit("::", 1)[-1]
    # Records live on the controller (or the only process); xdist replays worker reports here.
    state = state_of(config)
    if name not in REQ_INDEX:
        # A user case: recorded under its node id (under xdist, from what its worker sent). It counts only in a
        # run with bundled cases: without them the plugin stays inert (finish).
        name = report.nodeid
        if name not in state.findings.records:
            fields = dict(report.user_properties).get("token_conformance_case")
            if not isinstance(fields, dict):
                return
            state.findings.records[name] = CaseRecord(**fields)
    else:
        state.active = True  # under xdist the controller learns of cases only from reports
    rec = state.findings.records.get(name)
    if rec is None:
        rec = state.findings.records[name] = CaseRecord.for_requirement(by_id(name), profile_or_none(config))
    rec.duration_s += _own_duration(state, name, report)
    cause = dict(report.user_properties).get("root_cause")
    if cause:
        state.findings.root_causes[name] = str(cause)
    origins = dict(report.user_properties).get("web_origins")
    if isinstance(origins, list) and name == "HEADER-5":
        state.findings.web_origins = origins
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if xfail:
            rec.outcome = "xfailed" if report.skipped else "xpassed"
            rec.message = report.wasxfail
        elif report.passed:
            rec.outcome = "passed"
            rec.message = str(dict(report.user_properties).get("case_note") or "")
        elif report.failed:
            rec.outcome = "failed"
        else:
            rec.outcome = "skipped"
            rec.message = _skip_reason(report)
    elif report.when == "setup":
        if report.skipped:
            rec.outcome = "xfailed" if xfail else "skipped"
            rec.message = report.wasxfail if xfail else _skip_reason(report)
        elif report.failed:
            rec.outcome = "error"
    elif report.when == "teardown" and report.failed and rec.outcome == "passed":
        rec.outcome = "error"
    if report.failed and report.longrepr is not None:
        rec.message = state.setup.redactor.redact(str(report.longrepr))
    if report.when == "call":
        state.timeline.marks["last_case_done"] = time.time()
    if report.when == "call" and state.setup.target is not None and state.setup.target.client.down and not state.stops.abort_reason:
        after_breaker(state, state.setup.target)


def _own_duration(state: RunState, name: str, report: pytest.TestReport) -> float:
    """The call's duration, or the case's own time when it ran ahead (concurrency) or prefetched in the background."""
    if report.when != "call":
        return float(report.duration)
    own = state.background.case_times.get(name)
    span = state.background.spans.get(name)
    if span is not None:
        own = max(own or 0.0, span[1] - span[0])
    return max(float(report.duration), own or 0.0)


def _case_note(state: RunState, case_id: str) -> str | None:
    """What a case left out although it ran (rows whose control got no token): said next to its pass or failure."""
    notes = state.setup.target.memo.get("case_notes") if state.setup.target is not None else None
    return notes.get(case_id) if isinstance(notes, dict) else None


def _too_slow_now(state: RunState) -> bool:
    """Whether the client's breaker tripped on a timeout while the target still answers /ping (LATENCY-1)."""
    target = state.setup.target
    if target is None or not target.client.down or state.stops.abort_reason:
        return False
    if state.stops.slow_reason is None:
        after_breaker(state, target)
    return state.stops.slow_reason is not None


def after_breaker(state: RunState, target: Target) -> None:
    """The client stopped sending: rate-limit budget out or target down (exit 2), or merely too slow (LATENCY-1)."""
    client = target.client
    if client.exhausted:
        state.stops.abort_reason = state.setup.redactor.redact(client.exhausted)
        return
    if state.stops.slow_reason:
        return

    ex = client.last_timeout or Exchange("GET", client.base_url, error=client.down, timeout_s=client.timeout)
    slow = slow_evidence(target, f"{ex.method} {ex.url.removeprefix(client.base_url)}", ex)
    if slow:
        state.stops.slow_reason = state.setup.redactor.redact(slow)
    else:
        state.stops.abort_reason = state.setup.redactor.redact(f"the target stopped answering: {client.down}")


def note_worker_collection(config: pytest.Config, ids: list[str]) -> None:
    """The xdist controller collects nothing itself: learn from the workers which cases will run, so a case that
    never reports (an interrupted run) is "not run" in the reports rather than missing, and the scope is right."""
    state = state_of(config)
    for nodeid in ids:
        name = nodeid.rsplit("::", 1)[-1]
        if name in REQ_INDEX and name not in state.findings.records:
            state.findings.records[name] = CaseRecord.for_requirement(by_id(name), profile_or_none(config))
            state.active = True


def _skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")

