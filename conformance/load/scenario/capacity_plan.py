"""What rate ``capacity`` offers next, and over how many connections: pure functions, no Locust, no gevent.

The shape (``loadtests/capacity.py``) runs a step at a target rate, judges it, and asks the plan for the next
rate with every judged step so far (``StepOutcome``). Two plans:

* ``SearchPlan`` (the default): double the rate while steps hold; after the first step that breaks, bisect
  between the highest rate that held and the lowest that broke until they are within ``resolution`` (10 %)
  of each other. The run then ends by itself: the knee is the highest rate that held. A step that broke
  because the *generator* could not keep up bounds the search from above (nothing at or above it can be
  measured) but says nothing of the rates below it: the search bisects down to it like any other break, so a
  server that gives out below the generator's limit still gets its knee (an overloaded server makes the
  generator work harder: the break past the knee is often the generator's); when the lowest rate that broke
  is the generator's, there is no knee (``limited_by``);
* ``LinearPlan`` (``--step-rate`` given): start, start + step, ... up to the maximum; the first step that
  breaks ends the run.

Both say how long they may take (``worst_case_s``), so the CLI can warn before a run whose ``--run-time`` cannot
fit the plan (``fit_problem``); this module is importable without Locust for that reason.

Rates here are the **whole run's** (all generator processes together). Each generator process sends its
``share`` of it; ``connections_for`` says over how many connections a process spreads its share: clients of a
token server are many, each with its own connection, so one arrival loop on one keep-alive connection would
spare the server the very load (accepting, holding, multiplexing connections) that breaks some servers first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_START_RATE",
    "DEFAULT_STEP_TIME_S",
    "DRAIN_MAX_S",
    "LinearPlan",
    "SearchPlan",
    "StepOutcome",
    "connections_for",
    "knee_of",
    "limited_by",
    "plan_from",
    "share",
]

#: First rate of either plan (requests/s), unless --start-rate.
DEFAULT_START_RATE = 50.0
#: Seconds per step of the search (5 s at 50/s is 250 requests: enough for a p95; past a server's capacity
#: the queue grows for 5 s, enough to break a 500 ms p95 at 1.2 x its rate). The linear plan keeps 10 s.
DEFAULT_STEP_TIME_S = 5.0
DEFAULT_LINEAR_STEP_TIME_S = 10.0
#: Highest rate either plan tries unless --max-rate: the linear plan's historical 1000/s; the search goes on
#: doubling until a step breaks (one generator process gives out near 2 000-3 000 validated requests/s).
DEFAULT_LINEAR_MAX_RATE = 1000.0
DEFAULT_SEARCH_MAX_RATE = 100_000.0
#: The search ends when the lowest rate that broke is within this share above the highest that held.
RESOLUTION = 0.10
#: After a step that broke, the server gets at most this long (s) to answer what is outstanding before the
#: next, lower, step starts: otherwise that step would be judged on the backlog of the one before.
DRAIN_MAX_S = 5.0
#: connections_for: requests outstanding per connection are rate x latency (Little's law); the floor on the
#: latency makes even a 1 ms server get rate / 10 connections (a client population, not a pipe), and the
#: headroom covers bursts; at most MAX_CONNECTIONS per process (file descriptors, the generator's own cost).
MIN_LATENCY_S = 0.05
HEADROOM = 2.0
MIN_CONNECTIONS = 2
MAX_CONNECTIONS = 1000


@dataclass(frozen=True)
class StepOutcome:
    """One judged step as a plan sees it: the target rate, whether it held, and whose fault a break was."""

    rate: float
    held: bool
    generator_bound: bool = False


def _nice(rate: float) -> float:
    """A rate a person reads at a glance: whole numbers, 3 significant digits above 1 000."""
    if rate >= 1000:
        magnitude = 10 ** (int(math.log10(rate)) - 2)
        return float(round(rate / magnitude) * magnitude)
    return float(max(1, round(rate)))


@dataclass(frozen=True)
class LinearPlan:
    """``start``, ``start + step``, ... up to ``maximum``; the first step that breaks ends the run."""

    start: float
    step: float
    maximum: float
    step_time: float
    kind: str = "linear"

    @property
    def steps(self) -> int:
        return 1 + math.ceil(max(0.0, self.maximum - self.start) / self.step - 1e-9)

    def next_rate(self, outcomes: Sequence[StepOutcome]) -> float | None:
        if not outcomes:
            return self.start
        if not outcomes[-1].held or len(outcomes) >= self.steps:
            return None
        return min(self.start + len(outcomes) * self.step, self.maximum)

    def worst_case_s(self) -> float:
        return self.steps * self.step_time

    def describe(self) -> str:
        return (f"linear: {self.start:g} requests/s, +{self.step:g} every {self.step_time:g} s up to "
                f"{self.maximum:g} ({self.steps} steps)")


@dataclass(frozen=True)
class SearchPlan:
    """Double while steps hold, then bisect between the highest rate held and the lowest broken."""

    start: float
    maximum: float
    step_time: float
    resolution: float = RESOLUTION
    kind: str = "search"

    def next_rate(self, outcomes: Sequence[StepOutcome]) -> float | None:
        if not outcomes:
            return self.start
        broken = [o.rate for o in outcomes if not o.held]
        if not broken:
            top = max(o.rate for o in outcomes)
            return None if top >= self.maximum else min(_nice(2 * top), self.maximum)
        # The lowest rate that broke, whoever broke it: a generator-bound step bounds what can be measured.
        hi = min(broken)
        held = [o.rate for o in outcomes if o.held and o.rate < hi]
        if not held:  # even the first step broke: halve down to a tenth of the start, then give up
            if limited_by(outcomes) == "generator":
                return None  # the generator could not send even the lowest rate tried: nothing can be measured
            lower = _nice(hi / 2)
            return lower if lower >= self.start / 10 and lower < hi else None
        lo = max(held)
        if hi <= lo * (1 + self.resolution):
            return None
        middle = _nice((lo + hi) / 2)
        return middle if lo < middle < hi else None

    def doubling_steps(self) -> int:
        return 1 + max(0, math.ceil(math.log2(self.maximum / self.start) - 1e-9))

    def bisection_steps(self) -> int:
        return max(1, math.ceil(math.log2(1 / self.resolution)))

    def worst_case_s(self) -> float:
        """Every doubling held up to the maximum broke, then a full bisection with a drain after each break."""
        bisect = self.bisection_steps()
        return (self.doubling_steps() + bisect) * self.step_time + (bisect + 1) * DRAIN_MAX_S

    def typical_s(self, knee: float) -> float:
        """The search's length against a server whose knee is ``knee`` requests/s (for the warning)."""
        doublings = 1 + max(0, math.ceil(math.log2(max(knee, self.start) / self.start)))
        bisect = self.bisection_steps()
        return (doublings + bisect) * self.step_time + (bisect + 1) * DRAIN_MAX_S

    def describe(self) -> str:
        return (f"search: from {self.start:g} requests/s, doubling while steps hold (up to {self.maximum:g}), then "
                f"bisecting to {self.resolution:.0%}; {self.step_time:g} s a step")


Plan = LinearPlan | SearchPlan


def plan_from(start_rate: float | None, step_rate: float | None, max_rate: float | None,
              step_time: float | None) -> Plan:
    """The plan the options ask for: ``--step-rate`` given, the linear plan; otherwise the search."""
    start = max(float(start_rate or DEFAULT_START_RATE), 0.1)
    if step_rate:
        maximum = max(float(max_rate or DEFAULT_LINEAR_MAX_RATE), start)
        return LinearPlan(start, float(step_rate), maximum, max(float(step_time or DEFAULT_LINEAR_STEP_TIME_S), 1.0))
    maximum = max(float(max_rate or DEFAULT_SEARCH_MAX_RATE), start)
    return SearchPlan(start, maximum, max(float(step_time or DEFAULT_STEP_TIME_S), 1.0))


def fit_problem(plan: Plan, run_time_s: float) -> tuple[str, str] | None:
    """(``"refuse"`` or ``"warn"``, why) when ``run_time_s`` cannot hold the plan; None when it can."""
    if run_time_s < plan.step_time:
        return "refuse", (f"--run-time {run_time_s:g} s is shorter than one step ({plan.step_time:g} s): no step "
                          "could be judged")
    if isinstance(plan, LinearPlan):
        need = plan.worst_case_s()
        if run_time_s < need:
            ran = int(run_time_s // plan.step_time)
            last = plan.start + (ran - 1) * plan.step
            return "warn", (f"the linear plan needs {need:g} s for its {plan.steps} steps up to {plan.maximum:g} "
                            f"requests/s; --run-time {run_time_s:g} s ends it after {ran} steps (at {last:g} requests/s); "
                            f"a knee above that will not be found")
        return None
    knee = min(64 * plan.start, plan.maximum)  # 3 200/s from 50/s: beyond one generator process
    need = plan.typical_s(knee)
    if run_time_s < need:
        return "warn", (f"the search may need about {need:g} s to find a knee near {knee:g} requests/s; "
                        f"--run-time {run_time_s:g} s may end it first (the report then says how far it got)")
    return None


def share(rate: float, processes: int) -> float:
    """Requests/s each of ``processes`` generator processes (arrival loops) sends for a run-wide ``rate``."""
    return rate / max(int(processes), 1)


def connections_for(rate: float, latency_s: float | None) -> int:
    """Connections one process spreads ``rate`` requests/s over: ``HEADROOM x rate x latency`` (Little's law:
    rate x latency are outstanding at once), the latency at least ``MIN_LATENCY_S``; within the bounds."""
    latency = max(latency_s or 0.0, MIN_LATENCY_S)
    return int(min(MAX_CONNECTIONS, max(MIN_CONNECTIONS, math.ceil(HEADROOM * rate * latency))))


def limited_by(outcomes: Sequence[StepOutcome]) -> str | None:
    """Who set the limit the run found: ``"server"`` or ``"generator"``, whoever broke the lowest rate that broke
    (None when every step held). A generator-bound break above a server's break does not change the knee; one
    below it leaves the server's figures above the generator's limit unmeasured."""
    broken = [o for o in outcomes if not o.held]
    if not broken:
        return None
    lowest = min(o.rate for o in broken)
    return "generator" if any(o.generator_bound for o in broken if o.rate == lowest) else "server"


def knee_of(outcomes: Sequence[StepOutcome]) -> tuple[float | None, float | None]:
    """(highest rate that held below the lowest rate that broke, that rate) when the server broke it; (None, None)
    when no step broke, or when the lowest break was the generator's (it says nothing of the server)."""
    if limited_by(outcomes) != "server":
        return None, None
    hi = min(o.rate for o in outcomes if not o.held)
    held = [o.rate for o in outcomes if o.held and o.rate < hi]
    return (max(held) if held else None), hi
