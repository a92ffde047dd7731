"""The run's state: one RunState per pytest session, kept in the config's stash."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..contract import REQUIREMENTS
from ..redact import Redactor
from ..report import CaseRecord
from ..target import RunSettings, Target

#: The case that owns "answered within the client's timeout": it runs last and fails on a slow target.
LATENCY_CASE = "LATENCY-1"


REQ_INDEX = {r.id: r for r in REQUIREMENTS}


@dataclass
class RunState:
    """Per-process state of a conformance run."""

    settings: RunSettings | None = None
    target: Target | None = None
    redactor: Redactor = field(default_factory=Redactor)
    embedded: Any = None
    active: bool = False
    abort_reason: str | None = None
    #: The signal (SIGINT, SIGTERM) or pytest.exit message that interrupted the run.
    interrupted: str | None = None
    #: What selected a subset: the --token-case pattern, -k and -m expressions.
    selection: str = ""
    #: LATENCY-1's finding: the target is up but too slow for the client; other cases skip naming it.
    slow_reason: str | None = None
    hints: list[str] = field(default_factory=list)
    records: dict[str, CaseRecord] = field(default_factory=dict)
    futures: dict[str, Future[Any]] = field(default_factory=dict)
    #: Cases started ahead of their turn (concurrency > 1): their pytest call only collects the outcome.
    case_runs: dict[str, Future[Any]] = field(default_factory=dict)
    #: Seconds each case started ahead of its turn ran for (its own time, not its turn's).
    case_times: dict[str, float] = field(default_factory=dict)
    #: Traffic reported by xdist workers (the controller sums them).
    worker_traffic: list[dict[str, Any]] = field(default_factory=list)
    #: Answer times and rate limiting reported by xdist workers (ClientStats.raw; the controller merges them).
    worker_stats: list[dict[str, Any]] = field(default_factory=list)
    deviations: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    #: Where the session's time went: wall-clock marks (time.time()) and each background job's (start, end).
    marks: dict[str, float] = field(default_factory=lambda: {"configured": time.time()})
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    summary: Any = None
    #: conformance.json's content, once the verdict is final (junit.xml is rewritten from it).
    document: dict[str, Any] | None = None
    final_records: list[CaseRecord] = field(default_factory=list)
    #: Case id -> the first finding of its failure in one line (the root causes, printed before the details).
    root_causes: dict[str, str] = field(default_factory=dict)
    #: HEADER-5's verdict per declared web origin: the Fetch standard's and, with --browser, the browser's.
    web_origins: list[dict[str, Any]] = field(default_factory=list)


STATE_KEY = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def has_xdist_controller(session: pytest.Session) -> bool:
    return session.config.pluginmanager.hasplugin("dsession")


#: Contract order: records, failure details and every report list cases in it (user cases after).
CONTRACT_ORDER = {r.id: n for n, r in enumerate(REQUIREMENTS)}

