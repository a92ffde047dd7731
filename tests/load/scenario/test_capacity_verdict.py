"""What a capacity run's steps say (conformance.load.scenario.capacity_verdict), on hand-made step records."""

from __future__ import annotations

from typing import Any

from conformance.load.scenario import capacity_verdict as verdict
from conformance.load.scenario.capacity_plan import LinearPlan, SearchPlan
from conformance.load.slo import Breach


def step(n: int, rate: float, held: bool, bound: bool = False, partial: bool = False, seconds: float = 5.0,
         slo: str = "fetch_p95_ms") -> dict[str, Any]:
    """A step record as the shape keeps it (the fields the verdict reads)."""
    breaches = [] if held else [{"slo": slo, "limit": 500, "actual": 900, "message": f"{slo} 900 > 500"}]
    return {"step": n, "target_rps": rate, "achieved_rps": rate * 0.99, "held": held, "partial": partial,
            "seconds": seconds, "breaches": breaches,
            "generator": {"bound": bound, "reasons": ["lag p95 80 ms"] if bound else []}}


def p95(ms: float) -> Breach:
    return Breach("fetch_p95_ms", 500, ms, f"p95 {ms} > 500")


# ---- one step: the open model's rules


def test_too_little_answered_of_what_was_sent_breaks_the_rate() -> None:
    found = verdict.open_model_breaches([], target=200, achieved=150, offered=200, backlog=0, max_p95_ms=500,
                                        judge_rate=True)
    assert [b.slo for b in found] == ["rate"] and found[0].message == "150 of 200 requests/s answered in the step"
    # A loop that started late sent less, and all of it was answered: not the server's.
    assert verdict.open_model_breaches([], 200, 150, 160, 0, 500, judge_rate=True) == []
    # A master knows neither what its workers sent nor what they got back: it does not apply the rule.
    assert verdict.open_model_breaches([], 200, 150, 200, None, 500, judge_rate=False) == []


def test_a_backlog_the_newest_request_would_wait_past_the_objective_for_breaks_the_step() -> None:
    found = verdict.open_model_breaches([], 200, 199, 200, backlog=150, max_p95_ms=500, judge_rate=True)
    assert [b.slo for b in found] == ["backlog"] and found[0].actual == 750.0  # 150 / 200 s: 750 ms
    assert verdict.open_model_breaches([], 200, 199, 200, backlog=90, max_p95_ms=500, judge_rate=True) == []


def test_the_open_model_rules_only_add_to_a_step_no_slo_broke() -> None:
    slo = [p95(900)]
    assert verdict.open_model_breaches(slo, 200, 10, 200, 1000, 500, judge_rate=True) == slo
    assert [b.slo for b in verdict.open_model_breaches([], 200, 10, 200, 1000, 500, True)] == ["rate"]


def bound(lag95: float, cpu: float = 0.5) -> dict[str, Any]:
    return {"bound": True, "worst_lag_p95_ms": lag95, "worst_cpu": cpu, "reasons": ["lag p95 high"]}


def test_a_latency_far_beyond_the_generators_lag_is_the_servers() -> None:
    gen = verdict.server_outran_lag(bound(64.0), offered_share=1.0, p95_ms=2000.0, breaches=[p95(2000)])
    assert gen["bound"] is False and gen["reasons"] == []
    assert "31 x the event loop's lag p95 (64 ms)" in gen["cleared"] and "lag p95 high" in gen["cleared"]


def test_the_generator_keeps_the_step_when_it_could_have_caused_the_break() -> None:
    # p95 only 5 x the lag (the starved-generator breaks docs/performance.md measured: 4.5-8 x).
    assert verdict.server_outran_lag(bound(64.0), 1.0, 320.0, [p95(320)])["bound"] is True
    # The step's rate was not sent, or the generator's CPU was saturated.
    assert verdict.server_outran_lag(bound(64.0), 0.8, 2000.0, [p95(2000)])["bound"] is True
    assert verdict.server_outran_lag(bound(64.0, cpu=0.95), 1.0, 2000.0, [p95(2000)])["bound"] is True
    # Not a latency break: the lag says nothing about it.
    assert verdict.server_outran_lag(bound(64.0), 1.0, 2000.0, [Breach("failure_ratio", 0.01, 0.2, "")])["bound"]
    # On a master (offered share unknown) the rule applies; a backlog is a latency break.
    assert verdict.server_outran_lag(bound(64.0), None, 2000.0, [Breach("backlog", 500, 900, "")])["bound"] is False


# ---- the run: what the steps add up to


def test_the_knee_is_the_highest_rate_held_below_the_lowest_the_server_broke() -> None:
    steps = [step(1, 100, True), step(2, 200, True), step(3, 400, False), step(4, 300, True), step(5, 350, False)]
    knee = verdict.knee(steps, "server")
    assert knee == {"rps": 300, "achieved_rps": 297.0, "broke_at_rps": 350, "broken": ["fetch_p95_ms"],
                    "resolution": 0.167}
    assert verdict.end_reason(steps, "server", 3200) == "knee found: 300 requests/s held, 350 broke"
    assert verdict.run_breaches(steps, steps, "server") == []
    assert verdict.generator_story(steps, "server") == {"bound": False, "reasons": []}


def test_no_knee_is_claimed_when_the_lowest_break_is_the_generators() -> None:
    steps = [step(1, 100, True), step(2, 200, False, bound=True), step(3, 150, True)]
    assert verdict.knee(steps, "generator") is None
    assert verdict.generator_break(steps) is steps[1]
    [breach] = verdict.run_breaches(steps, steps, "generator")
    assert breach.slo == "generator" and "could not keep to 200 requests/s: lag p95 80 ms" in breach.message
    assert verdict.generator_story(steps, "generator") == {
        "bound": True, "reasons": ["at 200 requests/s (step 2): lag p95 80 ms"]}
    assert verdict.end_reason(steps, "generator", 3200) == "the generator could not keep to 200 requests/s"


def test_a_partial_step_counts_only_when_it_ran_half_a_step() -> None:
    steps = [step(1, 100, True), step(2, 200, False, partial=True, seconds=2.0)]
    assert verdict.counted(steps, 5.0) == steps[:1]
    assert verdict.counted(steps, 4.0) == steps
    assert verdict.end_reason(verdict.counted(steps, 5.0), None, 800) == "every step held up to 800 requests/s"


def test_a_run_where_nothing_held_or_nothing_was_judged_fails() -> None:
    [none] = verdict.run_breaches([], [], None)
    assert none.slo == "knee" and "before a step could be judged" in none.message
    steps = [step(1, 100, False), step(2, 50, False)]
    [breach] = verdict.run_breaches(steps, steps, "server")
    assert breach.message == "even the lowest step (50 requests/s) broke: fetch_p95_ms 900 > 500"
    assert verdict.knee(steps, "server") == {"rps": None, "achieved_rps": None, "broke_at_rps": 50,
                                             "broken": ["fetch_p95_ms"], "resolution": None}
    assert verdict.end_reason(steps, "server", 800) == "even 50 requests/s broke"


def test_the_findings_are_what_load_json_capacity_carries() -> None:
    plan = SearchPlan(start=100, maximum=3200, step_time=5.0)
    steps = [step(1, 100, True), step(2, 200, False)]
    found = verdict.findings(plan, steps, "server", "knee found")
    assert found["plan"] == plan.describe() and found["plan_kind"] == "search" and found["steps"] is steps
    assert found["knee"]["rps"] == 100 and found["highest_held_rps"] == 100
    assert found["limited_by"] == "server" and found["generator_bound_at_rps"] is None
    assert found["ended_by"] == "knee found"
    linear = verdict.findings(LinearPlan(100, 100, 400, 10.0), [], None, None)
    assert linear["plan_kind"] == "linear" and linear["knee"] is None and linear["highest_held_rps"] is None
    assert verdict.findings(None, [], None, None)["plan"] is None
