"""What a capacity run's steps say: the open model's two rules for one step, when a step that broke is the
server's after all, and what the judged steps add up to (the knee, who limited the run, its verdict).

Plain functions over the step records the shape (capacity.py) keeps (``steps`` in load.json ``capacity``), so
they are Locust-free. A step that broke is the server's (it feeds the knee) unless the generator could not keep
to the schedule (its lag, CPU or lateness: ``generator.judge_schedule``): such a step bounds the search, which
bisects below it as below any break; when the lowest rate that broke is the generator's, no knee is claimed
(``capacity_plan.limited_by``).
"""

from __future__ import annotations

from typing import Any

from conformance.load.scenario import generator
from conformance.load.scenario.capacity_plan import LinearPlan, SearchPlan, StepOutcome, knee_of
from conformance.load.slo import Breach

#: A step record (one entry of load.json ``capacity.steps``).
Step = dict[str, Any]


def open_model_breaches(breaches: list[Breach], target: float, achieved: float, offered: float,
                        backlog: int | None, max_p95_ms: float, judge_rate: bool) -> list[Breach]:
    """``breaches`` (the SLOs'), plus the open model's rules when no SLO broke: fewer than 90 % of the target
    answered while more was sent (``rate``, only where what was sent is known: ``judge_rate``), and a backlog at
    the step's end that the newest request would wait longer than the p95 objective for (``backlog``)."""
    found = list(breaches)
    if judge_rate and achieved < 0.9 * min(target, offered) and not found:
        found.append(Breach("rate", target, round(achieved, 2),
                            f"{achieved:.0f} of {target:g} requests/s answered in the step"))  # fmt: skip
    if backlog is not None and target > 0 and backlog / target * 1000.0 > max_p95_ms and not found:
        # Little's law: the newest request waits behind the backlog for about backlog / rate seconds.
        found.append(Breach("backlog", max_p95_ms, round(backlog / target * 1000.0, 1),
                            f"{backlog} requests still unanswered at the step's end: the newest waits about "
                            f"{backlog / target * 1000.0:.0f} ms (p95 objective {max_p95_ms:g} ms)"))
    return found

#: A step that broke on latency is the server's, whatever the generator's lag, when the generator did send the
#: step's rate and the step's p95 is at least this many times the event loop's lag p95: the generator can add
#: to a request's measured time only the wait for its loop, and a loop that delays a wake-up by tens of ms cannot
#: hold answers for seconds (lateness delays the sending, which the measured time does not include). Measured on
#: this 2-core VM at load 7-15: servers saturated at 120 and 250/s gave p95 1 100-2 100 ms with lag p95 64 ms and
#: less; the breaks docs/performance.md attributes to a starved generator had p95 4.5-8 x the lag p95.
SERVER_P95_OVER_LAG = 10.0


def server_outran_lag(gen: dict[str, Any], offered_share: float | None, p95_ms: float | None,
                      breaches: list[Breach]) -> dict[str, Any]:
    """Clear a generator verdict on a step whose latency is far beyond anything the generator can add.

    ``offered_share``: what was sent over the target (None on a master, which does not know)."""
    lag95 = gen.get("worst_lag_p95_ms")
    cpu = gen.get("worst_cpu")
    sent_it = (offered_share is None or offered_share >= 0.9) and (cpu is None or cpu < generator.CPU_SATURATED)
    latency = any(b.slo.endswith("_p95_ms") or b.slo == "backlog" for b in breaches)
    if gen["bound"] and sent_it and latency and p95_ms and lag95 and p95_ms >= SERVER_P95_OVER_LAG * lag95:
        gen["bound"] = False
        gen["cleared"] = (f"p95 {p95_ms:g} ms is {p95_ms / lag95:.0f} x the event loop's lag p95 ({lag95:.0f} ms) "
                          f"and the step's rate was sent: the server's, not the generator's ("
                          + "; ".join(gen["reasons"]) + ")")
        gen["reasons"] = []
    return gen



def counted(steps: list[Step], step_time: float) -> list[Step]:
    """The steps a finding rests on: every full step, and a partial one (cut by the run's end) that ran at
    least half a step. The others are kept and shown, but too short to judge a rate by."""
    half = step_time / 2
    return [s for s in steps if not s["partial"] or s["seconds"] >= half]


def outcomes(steps: list[Step]) -> list[StepOutcome]:
    """The counted ``steps`` as the plan reads them."""
    return [StepOutcome(s["target_rps"], s["held"], bool(s["generator"]["bound"])) for s in steps]


def generator_break(steps: list[Step]) -> Step | None:
    """The lowest-rate counted step the generator could not keep to (the one that bounds what was measured)."""
    bound = [s for s in steps if not s["held"] and s["generator"]["bound"]]
    return min(bound, key=lambda s: s["target_rps"]) if bound else None


def knee(steps: list[Step], limited: str | None) -> dict[str, Any] | None:
    """Only when the server broke an SLO (``limited`` == "server"): the highest rate of the counted ``steps``
    that held below the lowest it broke."""
    if limited != "server":
        return None
    held_rate, broke_rate = knee_of(outcomes(steps))
    if broke_rate is None:
        return None
    broke = next(s for s in steps if s["target_rps"] == broke_rate and not s["held"])
    held = next((s for s in reversed(steps) if s["held"] and s["target_rps"] == held_rate), None)
    return {
        "rps": held_rate,
        "achieved_rps": held["achieved_rps"] if held else None,
        "broke_at_rps": broke_rate,
        "broken": [b["slo"] for b in broke["breaches"]],
        "resolution": round(broke_rate / held_rate - 1, 3) if held_rate else None,
    }


def findings(plan: LinearPlan | SearchPlan | None, steps: list[Step], limited: str | None,
             ended_by: str | None) -> dict[str, Any]:
    """load.json ``capacity``: the plan, every step, and what the counted ones add up to."""
    kept = counted(steps, plan.step_time if plan else 1.0)
    held = [s["target_rps"] for s in kept if s["held"]]
    generator_step = generator_break(kept)
    return {
        "plan": plan.describe() if plan else None,
        "plan_kind": plan.kind if plan else None,
        "steps": steps,
        "knee": knee(kept, limited),
        "limited_by": limited,
        "highest_held_rps": max(held) if held else None,
        "generator_bound_at_rps": generator_step["target_rps"] if generator_step else None,
        "ended_by": ended_by,
    }


def run_breaches(steps: list[Step], kept: list[Step], limited: str | None) -> list[Breach]:
    """The run's verdict (a measurement): it passes when a counted step (``kept``) held and the generator did not
    end it."""
    if not steps:
        return [Breach("knee", 1, 0, "the run ended before a step could be judged (run time < step time?)")]
    broke = generator_break(kept)
    if limited == "generator" and broke is not None:
        return [Breach("generator", 0, 1, f"the generator could not keep to {broke['target_rps']:g} requests/s: "
                       + "; ".join(broke["generator"]["reasons"] or ["it fell behind the schedule"]))]  # fmt: skip
    if not any(s["held"] for s in kept):
        # The lowest rate tried (the search halves below its start before it gives up).
        lowest = min(steps, key=lambda s: s["target_rps"])
        reasons = "; ".join(b["message"] for b in lowest["breaches"])
        which = "the first step" if lowest is steps[0] else "the lowest step"
        return [Breach("knee", 1, 0, f"even {which} ({lowest['target_rps']:g} requests/s) broke: {reasons}")]
    return []


def generator_story(kept: list[Step], limited: str | None) -> dict[str, Any]:
    """The run's generator story for the summary, from the counted steps (what the knee line says too)."""
    step = generator_break(kept)
    if limited == "generator" and step is not None:
        return {"bound": True, "reasons": [f"at {step['target_rps']:g} requests/s (step {step['step']}): "
                                           + "; ".join(step["generator"]["reasons"])]}
    return {"bound": False, "reasons": []}


def end_reason(kept: list[Step], limited: str | None, maximum: float) -> str:
    """Why the plan ended after the counted steps ``kept``; ``maximum``: the plan's highest rate."""
    broke = generator_break(kept)
    if limited == "generator" and broke is not None:
        return f"the generator could not keep to {broke['target_rps']:g} requests/s"
    found = knee(kept, limited)
    if found is not None:
        return (f"knee found: {found['rps']:g} requests/s held, {found['broke_at_rps']:g} broke"
                if found["rps"] is not None else f"even {found['broke_at_rps']:g} requests/s broke")
    return f"every step held up to {maximum:g} requests/s"
