"""The run's state: one RunState per pytest session, kept in the config's stash.

It is split by what changes and who changes it: the setup (each part set once, then only read), why the run
stops, what the cases found, the work started ahead of pytest's turn, the timeline, what xdist workers sent, and
the conclusion (frozen, set once at the end).
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..contract import REQUIREMENTS
from ..redact import Redactor
from ..report import CaseRecord, Summary
from ..target import RunSettings, Target

if TYPE_CHECKING:  # the reference server (starlette, uvicorn) is imported only by a run that starts it
    from ..reference.server import ReferenceServer

#: The case that owns "answered within the client's timeout": it runs last and fails on a slow target.
LATENCY_CASE = "LATENCY-1"


REQ_INDEX = {r.id: r for r in REQUIREMENTS}


@dataclass(slots=True)
class Setup:
    """What the run judges with. Each is set once, on first need, by conformance.plugin.options (the settings and
    the secrets the redactor hides by ``run_settings``, the embedded server by its start, the target and its client
    by ``target_of``); every other module only reads them, and conformance.plugin.reports closes them at the end."""

    #: Frozen: nothing changes the settings of a run once they are built.
    settings: RunSettings | None = None
    target: Target | None = None
    #: The reference server this process started (no --token-server-url): stopped at the session's end.
    embedded: ReferenceServer | None = None
    redactor: Redactor = field(default_factory=Redactor)


@dataclass(slots=True)
class Stops:
    """Why the run stops, or stopped short. Every module reads them; each is written where it is found."""

    #: The run could not be judged (exit 2): a file the options name cannot be used (options), the preflight
    #: (scheduling), the client's breaker: target down or rate-limit budget spent (outcomes).
    abort_reason: str | None = None
    #: LATENCY-1's finding: the target is up but too slow for the client; other cases skip naming it (scheduling's
    #: preflight, outcomes when the breaker trips on a timeout).
    slow_reason: str | None = None
    #: The signal (SIGINT, SIGTERM) or pytest.exit message that interrupted the run (terminal.note_interrupt).
    interrupted: str | None = None


@dataclass(slots=True)
class Findings:
    """What the run found, case by case, and what the reports say besides: filled while the run goes, read by
    conformance.plugin.reports at the end."""

    #: Case id (a user case: its node id) -> its record: made at collection, filled by outcomes from each report.
    records: dict[str, CaseRecord] = field(default_factory=dict)
    #: What selected a subset: the --token-case pattern, -k and -m expressions (collection).
    selection: str = ""
    #: Case id -> the first finding of its failure in one line (the root causes, printed before the details).
    root_causes: dict[str, str] = field(default_factory=dict)
    #: HEADER-5's verdict per declared web origin: the Fetch standard's and, with --browser, the browser's.
    web_origins: list[dict[str, Any]] = field(default_factory=list)
    #: Hints for the user (scheduling's preflight; reports' probes for another profile family, the curl headers).
    hints: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Background:
    """Work conformance.plugin.scheduling started ahead of pytest's turn, on daemon threads, and how long it ran."""

    #: Case id -> its background prefetch (the ``prefetched`` fixture waits for it).
    prefetches: dict[str, Future[Any]] = field(default_factory=dict)
    #: Cases started ahead of their turn (concurrency > 1): their pytest call only collects the outcome.
    case_runs: dict[str, Future[Any]] = field(default_factory=dict)
    #: Seconds each case started ahead of its turn ran for (its own time, not its turn's), written by its thread.
    case_times: dict[str, float] = field(default_factory=dict)
    #: Each prefetch's wall-clock (start, end), written by its thread.
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(slots=True)
class Timeline:
    """Where the session's time went: the start (monotonic) and wall-clock marks (scheduling, outcomes)."""

    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=lambda: {"configured": time.time()})


@dataclass(slots=True)
class WorkerOutput:
    """What xdist workers sent their controller as they went down (reports.keep_worker_output): summed there."""

    #: Requests sent and the intervals with one or more outstanding, per worker.
    traffic: list[dict[str, Any]] = field(default_factory=list)
    #: Answer times and rate limiting (ClientStats.raw), per worker.
    stats: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Conclusion:
    """The verdict, once final (conformance.plugin.reports, at the session's end): the terminal prints it and
    junit.xml is rewritten from the document."""

    summary: Summary
    #: The records in contract order, as the reports list them.
    records: list[CaseRecord]
    #: conformance.json's content.
    document: dict[str, Any]


@dataclass(slots=True)
class RunState:
    """Per-process state of a conformance run, in parts that say what changes during the run and who changes it."""

    #: Whether this session runs conformance cases (collection found some, or under xdist a worker reported one):
    #: until then the plugin is inert.
    active: bool = False
    setup: Setup = field(default_factory=Setup)
    stops: Stops = field(default_factory=Stops)
    findings: Findings = field(default_factory=Findings)
    background: Background = field(default_factory=Background)
    timeline: Timeline = field(default_factory=Timeline)
    workers: WorkerOutput = field(default_factory=WorkerOutput)
    #: None until the verdict is final.
    conclusion: Conclusion | None = None


STATE_KEY = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def has_xdist_controller(session: pytest.Session) -> bool:
    return session.config.pluginmanager.hasplugin("dsession")


#: Contract order: records, failure details and every report list cases in it (user cases after).
CONTRACT_ORDER = {r.id: n for n, r in enumerate(REQUIREMENTS)}

