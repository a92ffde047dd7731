"""When is the measured latency the generator's? (conformance.load.scenario.generator.judge, no Locust run)."""

from __future__ import annotations

from typing import Any

import gevent  # required: Locust runs on it

from conformance.load.scenario import generator


def proc(lag50: float, lag95: float, cpu: float, role: str = "local") -> dict[str, Any]:
    return {"role": role, "id": role, "samples": 100, "lag_ms": {"p50": lag50, "p95": lag95}, "cpu": {"mean": cpu}}


def test_an_idle_generator_is_not_the_bottleneck() -> None:
    verdict = generator.judge([proc(0.1, 0.4, 0.2)], p50_ms=1.0, p95_ms=2.0)
    assert verdict["bound"] is False and verdict["reasons"] == [] and verdict["advice"] is None


def test_lag_that_is_a_material_share_of_the_latency_makes_the_run_generator_bound() -> None:
    # The 200-user run of docs/performance.md: lag p50 3.1 ms, requests' p50 14 ms against one client's 1 ms.
    verdict = generator.judge([proc(0.2, 1.0, 0.3), proc(3.1, 25.0, 0.3, "worker")], p50_ms=14.0, p95_ms=110.0)
    assert verdict["bound"] is True and verdict["worst_lag_p95_ms"] == 25.0
    assert any("about 6.2 ms of the measured p50 14 ms" in r for r in verdict["reasons"]), verdict["reasons"]
    assert "--processes" in verdict["advice"]
    # A lag p95 close to the requests' p95 is the machine's scheduling noise, shared by both: not a rule.
    assert generator.judge([proc(0.25, 5.9, 0.1)], p50_ms=1.0, p95_ms=8.0)["bound"] is False


def test_lag_below_the_floor_never_counts_even_against_a_very_fast_server() -> None:
    # One client and 20 clients at load 8 in the same measurement (p50 1 ms and 2 ms): under the floor.
    assert generator.judge([proc(0.25, 1.9, 0.1)], p50_ms=1.0, p95_ms=0.8)["bound"] is False
    assert generator.judge([proc(0.92, 7.4, 0.2)], p50_ms=2.0, p95_ms=14.0)["bound"] is False


def test_a_slow_server_dwarfs_the_same_lag() -> None:
    assert generator.judge([proc(6.0, 20.0, 0.5)], p50_ms=300.0, p95_ms=450.0)["bound"] is False
    assert generator.judge([proc(0.1, 0.4, 0.2)], p50_ms=1.0, p95_ms=2.0)["bound"] is False


def test_a_saturated_core_is_generator_bound_whatever_the_latency() -> None:
    verdict = generator.judge([proc(0.1, 0.5, 0.97)], p50_ms=300.0, p95_ms=450.0)
    assert verdict["bound"] is True and "97% of a core" in verdict["reasons"][0]


def test_the_probe_measures_a_blocked_loop() -> None:
    """Holding the loop for 150 ms (longer than the probe interval) shows as at least 50 ms of lag."""
    import time

    probe = generator.SelfMeasurement()
    runner = gevent.spawn(probe.run)
    gevent.sleep(0.25)
    time.sleep(0.15)  # not gevent's: blocks the loop, as validating a burst of tokens would
    gevent.sleep(0.25)
    runner.kill()
    figures = probe.figures("local", "x")
    assert figures["samples"] >= 3 and figures["lag_ms"]["max"] >= 40, figures


def step(lag50: float, cpu: float, p50_ms: float = 400.0) -> dict[str, Any]:
    return generator.judge([proc(lag50, lag50 * 4, cpu)], p50_ms=p50_ms, p95_ms=p50_ms * 2)


def test_capacity_calls_a_busy_generator_with_loop_lag_the_bottleneck() -> None:
    """The break against wrk (docs/performance.md): lag p50 3.7-6.9 ms at 51-64 % of a core, on schedule."""
    verdict = generator.judge_schedule(step(3.7, 0.51), late50=5.0, target=2400)
    assert verdict["bound"] and "event-loop lag p50 3.7 ms" in verdict["reasons"][0]


def test_capacity_does_not_blame_an_idle_generator_for_the_machines_wake_up_delay() -> None:
    """A server saturating at 20/s offered 24/s, on 2 cores at load 10: 3 % of a core, on schedule, lag p50 2-3
    ms from the kernel's wake-ups. The p95 of 700 ms is the server's queue."""
    assert generator.judge_schedule(step(2.6, 0.03), late50=1.0, target=24)["bound"] is False
    assert generator.judge_schedule(step(1.2, 0.6), late50=1.0, target=24)["bound"] is False  # busy, little lag


def test_capacity_calls_a_generator_behind_its_schedule_whatever_its_cpu() -> None:
    """Starved below LAG_CPU_MIN while it has work: it falls behind the schedule, and that rule still fires."""
    verdict = generator.judge_schedule(step(2.6, 0.05), late50=40.0, target=300)
    assert verdict["bound"] and "behind schedule" in verdict["reasons"][-1]
