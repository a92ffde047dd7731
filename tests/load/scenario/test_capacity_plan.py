"""capacity's plans, without Locust: the search finds a knee to 10 % and stops, the linear plan stops at the first
break, a generator-bound break bounds the search from above, connections grow with the rate, the fit is checked before a run."""

from __future__ import annotations

import pytest

from conformance.load.scenario.capacity_plan import (
    DRAIN_MAX_S,
    LinearPlan,
    SearchPlan,
    StepOutcome,
    connections_for,
    fit_problem,
    knee_of,
    limited_by,
    plan_from,
    share,
)


def run(plan: LinearPlan | SearchPlan, server_capacity: float, generator_limit: float = float("inf"),
        limit: int = 40) -> list[StepOutcome]:
    """Drive ``plan`` against a server that holds every rate up to ``server_capacity`` and a generator that keeps
    to every rate up to ``generator_limit``."""
    outcomes: list[StepOutcome] = []
    while (rate := plan.next_rate(outcomes)) is not None:
        assert len(outcomes) < limit, outcomes
        if rate > generator_limit:
            outcomes.append(StepOutcome(rate, held=False, generator_bound=True))
        else:
            outcomes.append(StepOutcome(rate, held=rate <= server_capacity))
    return outcomes


@pytest.mark.parametrize("capacity", [3, 7, 30, 300, 750, 800, 2000, 2188, 30_000])
def test_the_search_names_a_knee_within_ten_percent_and_stops(capacity: float) -> None:
    plan = plan_from(None, None, None, None)
    assert isinstance(plan, SearchPlan) and plan.start == 50 and plan.step_time == 5
    outcomes = run(plan, capacity)
    held, broke = knee_of(outcomes)
    if capacity < plan.start / 10:  # far below the start: halving gives up, and says no rate held
        assert held is None and broke is not None
        return
    assert held is not None and broke is not None, outcomes
    assert held <= capacity < broke <= held * 1.1 + 1, (held, broke, outcomes)  # whole-number rates below 1 000
    # Doubling to the first break, then about four bisections: well inside the default run time.
    assert len(outcomes) <= plan.doubling_steps() + plan.bisection_steps() + 1
    assert len(outcomes) * plan.step_time + plan.bisection_steps() * DRAIN_MAX_S <= plan.worst_case_s()


def test_a_generator_bound_step_bounds_the_search_and_no_knee_is_claimed_above_the_generator() -> None:
    outcomes = run(SearchPlan(50, 100_000, 5), server_capacity=10_000, generator_limit=2500)
    # Doubling to the generator's limit, then bisecting below it: the server is measured as far as the generator goes.
    assert [o.rate for o in outcomes] == [50, 100, 200, 400, 800, 1600, 3200, 2400, 2800, 2600], outcomes
    assert knee_of(outcomes) == (None, None) and limited_by(outcomes) == "generator"
    held = max(o.rate for o in outcomes if o.held)
    assert held == 2400 and min(o.rate for o in outcomes if not o.held) <= held * 1.1


def test_a_generator_that_gives_out_past_an_overloaded_server_does_not_hide_the_knee() -> None:
    """A server past its capacity makes the generator work harder (the backlog opens connection after connection):
    the step past the knee may be judged the generator's. The rates below it are still the server's to break."""
    capacity = 1064.0  # wrk's rate of the "2 000/s" benchmark server, sharing this machine with the generator
    outcomes: list[StepOutcome] = []
    plan = SearchPlan(50, 100_000, 5)
    while (rate := plan.next_rate(outcomes)) is not None:
        assert len(outcomes) < 40, outcomes
        if rate > 1.4 * capacity:
            outcomes.append(StepOutcome(rate, held=False, generator_bound=True))
        else:
            outcomes.append(StepOutcome(rate, held=rate <= capacity))
    assert outcomes[5] == StepOutcome(1600, held=False, generator_bound=True)  # the doubling's first break
    held, broke = knee_of(outcomes)
    assert limited_by(outcomes) == "server" and held is not None and broke is not None, outcomes
    assert held <= capacity < broke <= held * 1.1 + 1, outcomes


def test_the_lowest_break_says_who_limited_the_run() -> None:
    assert limited_by([StepOutcome(50, True), StepOutcome(100, True)]) is None
    server_then_generator = [StepOutcome(800, True), StepOutcome(1600, False), StepOutcome(1200, False, True)]
    assert limited_by(server_then_generator) == "generator" and knee_of(server_then_generator) == (None, None)
    generator_then_server = [StepOutcome(800, True), StepOutcome(1600, False, True), StepOutcome(1200, False)]
    assert limited_by(generator_then_server) == "server" and knee_of(generator_then_server) == (800, 1200)
    # The generator could not send even the first rate: the search ends at once, nothing measured.
    assert SearchPlan(50, 1000, 5).next_rate([StepOutcome(50, False, True)]) is None


def test_the_search_stops_at_its_maximum_when_every_step_holds() -> None:
    outcomes = run(SearchPlan(50, 300, 5), server_capacity=1e9)
    assert [o.rate for o in outcomes] == [50, 100, 200, 300] and all(o.held for o in outcomes)
    assert knee_of(outcomes) == (None, None)


def test_the_linear_plan_is_kept_when_a_step_rate_is_given() -> None:
    plan = plan_from(20, 20, 100, None)
    assert isinstance(plan, LinearPlan) and plan.step_time == 10 and plan.steps == 5
    outcomes = run(plan, server_capacity=65)
    assert [o.rate for o in outcomes] == [20, 40, 60, 80]
    assert knee_of(outcomes) == (60, 80)
    assert [o.rate for o in run(plan, server_capacity=1e9)] == [20, 40, 60, 80, 100]


def test_a_plan_that_cannot_fit_its_run_time_is_refused_or_warned_about() -> None:
    linear = LinearPlan(50, 50, 1000, 10)  # the run: 20 steps of 10 s in 30 s
    what, why = fit_problem(linear, 30) or ("", "")
    assert what == "warn" and "200 s" in why and "after 3 steps" in why and "150 requests/s" in why
    assert fit_problem(linear, 200) is None
    assert (fit_problem(linear, 5) or ("",))[0] == "refuse"
    search = plan_from(None, None, None, None)
    assert (fit_problem(search, 30) or ("",))[0] == "warn"
    assert fit_problem(search, int(search.worst_case_s())) is None
    assert search.worst_case_s() <= 150  # the default run time fits the benchmark's bound


def test_connections_grow_with_the_offered_rate_and_the_latency() -> None:
    assert connections_for(10, None) == 2  # the floor
    assert connections_for(1000, 0.001) == 100  # a 1 ms server still gets rate x 50 ms x 2
    assert connections_for(1000, 0.2) == 400  # a slower one more: rate x latency x 2
    assert connections_for(100_000, 1.0) == 1000  # bounded per process
    assert share(3000, 2) == 1500 and share(50, 0) == 50
