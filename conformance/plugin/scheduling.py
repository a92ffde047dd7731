"""Scheduling: the preflight, cases started ahead of their turn on threads, background prefetches."""

from __future__ import annotations

import functools
import inspect
import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest

from ..concurrency import run_in_daemons
from ..preflight import preflight
from ..profiles.hints import non_token_hint
from ..target import Target
from .options import case_concurrency, read_option, target_of
from .state import LATENCY_CASE, REQ_INDEX, RunState, has_xdist_controller, is_worker, state_of


def _judges_the_run(case_id: str) -> bool:
    """LATENCY cases judge answer times (the run's, or a sample sent one at a time): never ahead of their turn."""
    return case_id.startswith("LATENCY-")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    state = state_of(session.config)
    if not state.active or session.testsfailed or session.config.option.collectonly:
        return None
    if not is_worker(session.config) and has_xdist_controller(session):
        # Under xdist the controller only aggregates; workers run the cases (and start an
        # embedded server each when no URL is given). With a URL, fail fast here once.
        if read_option(session.config, "url"):
            run_preflight(session)
        return True if state.stops.abort_reason else None
    state.timeline.marks["collected"] = time.time()
    run_preflight(session)
    state.timeline.marks["preflight_done"] = time.time()
    if state.stops.abort_reason:
        return True
    target = target_of(session.config)
    if is_worker(session.config):
        # An xdist worker learns which cases it runs only as they come: the prefetched
        # fixture computes on demand there, and the workers themselves run in parallel.
        return None
    prefetching = [(i.name, f) for i in session.items if (f := getattr(getattr(i, "obj", None), "__prefetch__", None))]
    for name, fn in prefetching:
        state.background.prefetches[name] = _start_daemon(name, fn, target, state.background.spans)
    _start_case_runs(session, state, target)
    return None


def _start_case_runs(session: pytest.Session, state: RunState, target: Target) -> None:
    """With concurrency above 1, start every case that only needs the target now, on that many threads.

    A case's own requests stay in its order; cases are independent of each other
    (a dependent case skips on what it fetched itself), so only their timing changes.
    Cases that wait (prefetch) keep their own threads; skipped cases are not started.
    """
    workers = case_concurrency(session.config)
    if workers <= 1:
        return
    tasks = []
    for item in session.items:
        fn = getattr(item, "obj", None)
        if item.name not in REQ_INDEX or fn is None or getattr(fn, "__prefetch__", None) or _judges_the_run(item.name):
            continue
        if item.get_closest_marker("skip") or item.get_closest_marker("skipif"):
            continue
        params = set(inspect.signature(fn).parameters)
        if params - {"token_target"}:
            continue  # a fixture of its own: it runs in its turn
        future: Future[Any] = Future()
        state.background.case_runs[item.name] = future
        tasks.append((_timed(item.name, functools.partial(fn, token_target=target) if params else fn,
                             state.background.case_times), future))
    run_in_daemons(tasks, workers, "conformance-case")


def _timed(name: str, fn: Any, times: dict[str, float]) -> Any:
    """``fn`` that notes how long it ran: the case's duration, not the 0 s its pytest call spends collecting it."""
    def run() -> Any:
        start = time.monotonic()
        try:
            return fn()
        finally:
            times[name] = time.monotonic() - start
    return run


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case started ahead of its turn: its outcome (return or exception) is the call's."""
    future = state_of(pyfuncitem.config).background.case_runs.get(pyfuncitem.name)
    if future is None:
        return None
    future.result()
    return True


def _start_daemon(name: str, fn: Any, target: Target, spans: dict[str, tuple[float, float]]) -> Future[Any]:
    """Run ``fn(target)`` in a daemon thread: a run that ends early (target down) must not wait for a sleeping case."""
    future: Future[Any] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        start = time.time()
        try:
            future.set_result(fn(target))
        except BaseException as exc:  # handed to the case, which reports it
            future.set_exception(exc)
        finally:
            spans[name] = (start, time.time())

    threading.Thread(target=work, name=f"prefetch-{name}", daemon=True).start()
    return future


def run_preflight(session: pytest.Session) -> None:
    """One valid request before any case: a target that cannot be judged ends the run at once (exit 2)."""
    state = state_of(session.config)
    result = preflight(target_of(session.config))
    if result.abort:
        state.stops.abort_reason = state.setup.redactor.redact(result.abort)
        session.config.get_terminal_writer().line(f"token-conformance: {state.stops.abort_reason}", red=True, bold=True)
    elif result.slow and not any(i.name == LATENCY_CASE for i in session.items):
        state.stops.abort_reason = state.setup.redactor.redact(f"{result.slow} ({LATENCY_CASE}, not selected, judges this)")
        session.config.get_terminal_writer().line(f"token-conformance: {state.stops.abort_reason}", red=True, bold=True)
    elif result.slow:
        state.stops.slow_reason = state.setup.redactor.redact(result.slow)
    # A refused login already has its own line (the abort reason); a hint after it would only repeat or contradict it.
    if result.exchange is not None and result.exchange.status is not None and not (
            result.abort and result.exchange.status in (401, 403)):
        target = target_of(session.config)
        # Judged at the profile's own token pointer: a profile's working route is no other family's.
        hint = non_token_hint(result.exchange, target.profile.operations["rtc"].token,
                              credentials=target.settings.has_credentials)
        if hint:
            request = target.rtc_request()
            state.findings.hints.append(state.setup.redactor.redact(f"{request.method} {request.path} answered {hint}"))


def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    state = state_of(item.config)
    if state.stops.abort_reason and item.name in REQ_INDEX:
        item.session.shouldstop = state.stops.abort_reason
    elif state.stops.slow_reason and item.name in REQ_INDEX and item.name != LATENCY_CASE:
        item.add_marker(pytest.mark.skip(reason=f"judged by {LATENCY_CASE}: {state.stops.slow_reason}"))

