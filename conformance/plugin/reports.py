"""The verdict and the reports at the end of the session (conformance.json, conformance.html, junit.xml)."""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .. import interruption
from ..browser import close_all
from ..client import ClientStats, TokenServerClient
from ..concurrency import GatedClient, Traffic, merge_intervals
from ..detect import detect
from ..headers import env_name
from ..profiles import bundled_names
from ..report import CaseRecord, report_document, summarize, write_html, write_json
from ..report.junit import finish_junit
from ..target import Target, extract_token
from .options import profile_dict, read_option, selection_text, target_label
from .state import CONTRACT_ORDER, REQ_INDEX, STATE_KEY, Conclusion, RunState, is_worker, state_of
from .terminal import contract_order_of_failures


def finish(config: pytest.Config) -> tuple[Any, list[CaseRecord]] | None:
    state = state_of(config)
    if not state.active or is_worker(config) or config.option.collectonly:
        return None
    records = sorted(state.findings.records.values(), key=lambda r: CONTRACT_ORDER.get(r.id, len(CONTRACT_ORDER)))
    strict = state.setup.settings.strict if state.setup.settings else bool(read_option(config, "strict"))
    summary = summarize(
        records, strict=strict, abort_reason=state.stops.abort_reason, interrupted=state.stops.interrupted,
        contract_ids=tuple(REQ_INDEX), selection=state.findings.selection or selection_text(config),
    )
    summary.root_causes = [
        {"id": r.id, "level": r.level, "title": r.title,
         "cause": state.findings.root_causes.get(r.id) or (r.message.splitlines() or [""])[0]}
        for r in records if r.outcome == "failed"
    ]
    return summary, records


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = state_of(session.config)
    done = finish(session.config)
    if done is not None:
        summary, records = done
        summary.extra["elapsed_s"] = round(time.monotonic() - state.timeline.started, 3)
        if state.setup.target is not None or state.workers.stats:
            # Under xdist the workers sent the requests: their answer times and rate limits join the controller's.
            summary.extra.update(_client_stats(state).as_dict())
        if state.setup.target is not None:
            _family_hint(state, records)
            _curl_header_hint(state, records)
        if state.findings.hints:
            summary.extra["hints"] = state.findings.hints
        if state.findings.web_origins:
            summary.extra["web_origins"] = state.findings.web_origins
        summary.extra.update(_traffic(state).as_dict())
        summary.extra["phases_s"] = _phases(state)
        # The verdict is final: a signal from now on changes neither the reports nor the exit code.
        interruption.settle()
        doc = report_document(target_label(session.config), profile_dict(session.config), summary, records)
        state.conclusion = Conclusion(summary, records, doc)
        report_dir = read_option(session.config, "report_dir")
        if report_dir:
            out = Path(report_dir)
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "conformance.json", doc)
            write_html(out / "conformance.html", doc)
        # Exit code of a conformance run: the verdict, unless something outside the suite failed.
        other_failures = session.testsfailed - sum(1 for r in records if r.outcome in ("failed", "error"))
        if other_failures <= 0 and exitstatus in (0, 1, 2):
            session.exitstatus = summary.exit_code
        contract_order_of_failures(session.config)
    for future in state.background.case_runs.values():
        future.cancel()  # a run that stopped early starts no more cases
    if state.setup.target is not None:
        if is_worker(session.config):
            session.config.workeroutput["token_stats"] = state.setup.target.client.stats.raw()  # type: ignore[attr-defined]
        if is_worker(session.config) and isinstance(state.setup.target.client, GatedClient):
            traffic = state.setup.target.client.traffic()
            session.config.workeroutput["token_traffic"] = {  # type: ignore[attr-defined]
                "requests": traffic.requests, "intervals": traffic.intervals or []}
        state.setup.target.client.close()
    if state.setup.embedded is not None:
        state.setup.embedded.stop()
    if state.setup.settings is not None and state.setup.settings.browser:
        close_all()


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_junit(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    """After pytest wrote junit.xml: make it say what conformance.json says (conformance.report.junit)."""
    result = yield
    state = session.config.stash.get(STATE_KEY, None)
    document = state.conclusion.document if state is not None and state.conclusion is not None else None
    xmlpath = getattr(session.config.option, "xmlpath", None)
    if document is not None and xmlpath and not is_worker(session.config):
        finish_junit(Path(os.path.expanduser(os.path.expandvars(xmlpath))), document)
    return result


def keep_worker_output(config: pytest.Config, node: Any) -> None:
    """xdist controller: keep what each worker sent (its traffic and answer times, summed in the reports)."""
    output = getattr(node, "workeroutput", {})
    traffic = output.get("token_traffic")
    if traffic:
        state_of(config).workers.traffic.append(traffic)
    if output.get("token_stats"):
        state_of(config).workers.stats.append(output["token_stats"])


def _client_stats(state: RunState) -> ClientStats:
    """Answer times and rate limiting over this process (under xdist: the controller's preflight) and all workers."""
    own = [state.setup.target.client.stats.raw()] if state.setup.target is not None else []
    return ClientStats.merged(own + state.workers.stats)


def _traffic(state: RunState) -> Traffic:
    """Requests sent and wall time with one or more outstanding, over this process or all xdist workers."""
    client = state.setup.target.client if state.setup.target is not None else None
    own = client.traffic() if isinstance(client, GatedClient) else Traffic()  # the controller's preflight
    if not state.workers.traffic:
        return own
    spans = [(float(s), float(e)) for w in state.workers.traffic for s, e in w["intervals"]] + (own.intervals or [])
    intervals = merge_intervals(spans)
    requests = own.requests + sum(int(w["requests"]) for w in state.workers.traffic)
    return Traffic(requests, sum(e - s for s, e in intervals), intervals)


def _phases(state: RunState) -> dict[str, Any]:
    """Seconds per phase of this session (start-up before it is the caller's to time: ``started_at`` is epoch)."""
    m = state.timeline.marks
    end = time.time()
    out: dict[str, Any] = {"started_at": round(m["configured"], 3)}
    steps = [("start_and_collection", "configured", "collected"), ("preflight", "collected", "preflight_done"),
             ("cases", "preflight_done", "last_case_done")]
    for name, a, b in steps:
        if a in m and b in m:
            out[name] = round(m[b] - m[a], 3)
    out["background"] = {name: round(e - s, 3) for name, (s, e) in sorted(state.background.spans.items())}
    if "last_case_done" in m:
        out["after_cases"] = round(end - m["last_case_done"], 3)
    return out




def _family_hint(state: RunState, records: list[CaseRecord]) -> None:
    """ROUTE-1 or TOKEN-2 failed: probe (a handful of requests, failing runs only) whether another bundled
    profile fits the target (the other family's role words or token version) and say so."""
    failed = {r.id for r in records if r.outcome == "failed"}
    target = state.setup.target
    if state.stops.abort_reason or target is None or not failed & {"ROUTE-1", "TOKEN-2"}:
        return
    client = TokenServerClient(target.settings.url, timeout=min(target.settings.timeout, 5.0),
                               headers=target.client.headers)
    try:
        if _own_profile_answers(target, client):
            return  # a profile of the user's own whose route answers a token at its pointer: no family fits better
        found = detect(client)
    finally:
        client.close()
    if found.profile and found.profile != target.profile.name:
        state.findings.hints.append(state.setup.redactor.redact(
            f"the target looks like {found.profile} ({found.reason}; confidence {found.confidence}): "
            f"try --profile {found.profile} (or --profile auto)"))


def _own_profile_answers(target: Target, client: TokenServerClient) -> bool:
    """Whether the profile is the user's own (not bundled) and its RTC request gets a token at its pointer."""
    profile = target.profile
    if profile.name in bundled_names():
        return False
    request = profile.rtc_request(channel="conformance-detect", role=profile.issued_roles[0])
    ex = client.request(request.method, request.path, json_body=request.json_body, content=request.content,
                        content_type=request.content_type)
    op = profile.operations["rtc"]
    return extract_token(ex, op.token, status=op.status).raw is not None


def _curl_header_hint(state: RunState, records: list[CaseRecord]) -> None:
    """Reproduce lines show configured headers as shell variables (never their values): say once which to set,
    whatever the headers came from (--header, $TOKEN_SERVER_HEADERS, --header-file)."""
    headers = state.setup.settings.headers if state.setup.settings is not None else {}
    if not headers or not any(r.outcome == "failed" for r in records):
        return
    exports = " ".join(f"{env_name(name)}='...'" for name in headers)
    state.findings.hints.append(f"Reproduce lines read header values from the environment: export {exports} "
                       "(your values) before running them")

