"""This process's view of a load run: one :class:`RunState` (``STATE``) and the generator's self-measurement.

The listeners (listeners.py) fill it, the clients (token_client.py, arrivals.py) count into it, the shapes
(ramp, renew_storm, capacity) set how the run is judged and add their extras, and summary.py reads it at the end.
Importing it registers nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.load.scenario import generator
from conformance.load.scenario.tally import Tally
from conformance.load.scenario.validation import ScenarioConfig
from conformance.load.slo import Breach, Observed, Thresholds, evaluate


@dataclass
class RunState:
    """This process's view of the run. On a worker ``recorded`` is the part not yet sent to the master."""

    config: ScenarioConfig | None = None
    recorded: Tally | None = None
    #: Master only: what the workers reported, in total and per worker (counts).
    received: Tally | None = None
    per_worker: dict[str, Counter[str]] | None = None
    #: Worker only: everything this worker recorded, sent or not (for its own summary file).
    own: Tally | None = None
    started_at: float | None = None
    #: When the users were stopped (the end of the measured time; the summary is written later).
    stopped_at: float | None = None
    max_users: int = 0
    #: Scenario extras for the summary (the ramp's knee, the storm's cohorts).
    extra: dict[str, Any] | None = None
    #: Master only: each worker's generator figures (event-loop lag, CPU), by client id.
    generator_workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Whether a generator-bound run is refused a verdict on latency (capacity judges the generator per step).
    generator_gate: bool = True
    #: How the run is judged; the ramp replaces it with its knee verdict.
    judge: Callable[[Observed, Thresholds], list[Breach]] = evaluate
    #: capacity: the run's generator story from its steps ({"bound", "reasons"}), which replaces the whole-run
    #: judgement, so that the generator line, the knee line and the exit code tell the same story.
    generator_verdict: Callable[[], dict[str, Any]] | None = None

    def reset(self) -> None:
        self.recorded, self.received, self.own = Tally(), Tally(), Tally()
        self.per_worker = {}
        self.generator_workers = {}
        self.max_users = 0
        self.started_at = None
        self.stopped_at = None


STATE = RunState()
STATE.reset()
STATE.extra = {}
#: This process's self-measurement (conformance.load.scenario.generator).
SELF_MEASUREMENT = generator.SelfMeasurement()
