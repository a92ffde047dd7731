"""Scenario ``capacity``: an open model — token requests arrive at a target rate until the server's knee is found.

This module is the shape: it decides the rates, step by step, and judges each step. The arrival loops that send
the requests on the schedule, and why an open model: arrivals.py; what the judged steps add up to:
capacity_verdict.py.

The rates come from a plan (``conformance/load/scenario/capacity_plan.py``): by default a
search — double the rate every ``--step-time`` s while steps hold, then bisect
between the highest rate held and the lowest broken until they are within
10 %, and stop; with ``--step-rate`` the linear plan ``--start-rate``,
``+ --step-rate``, ... up to ``--max-rate``, stopping at the first break.

Every step is judged on its own requests with the run's SLOs, plus two rules
of the open model (``rate``: too little answered, ``backlog``: too much left
unanswered), and a step that broke is the server's unless the generator could
not keep to the schedule (capacity_verdict.py says how, and what the steps add
up to: the knee, or no knee when the lowest rate that broke is the generator's).

Nothing is sent at a new rate once the run is over: the shape stops the
arrivals when it ends, and the step running when Locust stops the run (its
``--run-time``, Ctrl-C) is judged then and kept as ``partial``.

The shape runs where the stats are (the local process, or the master) and tells every process its share of the
rate (``arrivals.ArrivalControl``; a master sends it to its workers as ``arrivals.RATE_MESSAGE``). Importing
this module adds the capacity options to Locust's parser and the listener that ends the running step at the
run's end: only the capacity scenario imports it.

    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 150s
    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 120s \\
        --start-rate 200 --step-rate 200 --max-rate 4000 --step-time 10
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import LoadTestShape, events
from locust.runners import MasterRunner

from conformance.load.scenario import capacity_verdict as verdict
from conformance.load.scenario import generator, step_records
from conformance.load.scenario.arrivals import CONTROL, LATENESS_MS, RATE_MESSAGE, RECORDS
from conformance.load.scenario.capacity_plan import (
    DRAIN_MAX_S,
    LinearPlan,
    SearchPlan,
    StepOutcome,
    connections_for,
    limited_by,
    share,
)
from conformance.load.scenario.options import add_capacity_options, plan_of, thresholds
from conformance.load.scenario.run_state import SELF_MEASUREMENT, STATE
from conformance.load.scenario.steps import Snapshot
from conformance.load.slo import Breach, Observed, Thresholds, evaluate
from conformance.stats import quantile

__all__ = ["Capacity"]

#: Spawn rate that starts the arrival loops at once.
AT_ONCE = 1_000_000.0

events.init_command_line_parser.add_listener(add_capacity_options)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kwargs: Any) -> None:
    """The run is ending (run time, Ctrl-C, the shape itself): judge the running step, then send nothing more."""
    shape = environment.shape_class
    if isinstance(shape, Capacity):
        shape.stop_now("run time")
    CONTROL.stop()


class Capacity(LoadTestShape):
    """Runs the plan: one step at a time, each judged on its own requests, until the plan or the run ends.

    The step records (``steps`` in load.json ``capacity``) are the API the reports and a master read: target
    and achieved rate, requests sent and answered, p50/p95, failures, the generator's lag, CPU and lateness,
    the connections, and whether it held and why not.
    """

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.new_run()

    def new_run(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.plan: LinearPlan | SearchPlan | None = None
        self.phase: str | None = None  # "step", "drain"; None before the first step
        self.rate = 0.0
        self.epoch = 0
        self.step_started = 0.0
        self.drain_started = 0.0
        self.drain_epoch = 0  # a master's first epoch of the drain: the workers' records from it on are polls
        self.snapshot: Snapshot | None = None
        self.lag_mark = 0
        self.late_mark = 0
        self.cpu_mark = (time.monotonic(), generator._cpu())
        self.ended_by: str | None = None
        self.limited_by: str | None = None
        self.connections = 0
        self.pending_rate = 0.0
        self.collect_started = 0.0
        self.closing_epoch = -1
        RECORDS.clear()

    def reset_time(self) -> None:
        super().reset_time()
        self.new_run()
        STATE.judge = self.judge
        STATE.generator_gate = False

    # ---- the arrivals

    @property
    def users(self) -> int:
        assert self.runner is not None
        options: Any = self.runner.environment.parsed_options
        return max(int(options.num_users or 1), 1)

    def send_rate(self, rate: float) -> None:
        """Every arrival loop sends its share of ``rate`` from now on (0: nothing), over enough connections."""
        assert self.runner is not None
        self.rate = rate
        self.epoch += 1
        per_loop = share(rate, self.users)
        self.connections = connections_for(per_loop, self.latency_s())
        CONTROL.set(per_loop, self.connections, self.epoch)
        if isinstance(self.runner, MasterRunner):
            self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())

    def latency_s(self) -> float | None:
        """The latency the connections are sized on: the highest p95 of the last step that held."""
        held = [s for s in self.steps if s["held"]]
        if not held:
            return None
        p95 = max((v for v in held[-1]["p95_ms"].values() if v is not None), default=None)
        return None if p95 is None else p95 / 1000.0

    def outstanding(self) -> int | None:
        """Requests sent and not yet answered, when this process is the one sending them (not on a master)."""
        return None if isinstance(self.runner, MasterRunner) else CONTROL.in_flight

    def poll_workers_outstanding(self) -> int | None:
        """On a master during a drain: what the workers still had in flight at the last poll, or None until every
        worker has answered it. A poll is a new epoch at rate 0: each worker closes its record of the one before,
        with its outstanding requests in it (as at a step's end), and the master asks again at its next tick."""
        polled = self.epoch - 1
        if polled >= self.drain_epoch:
            records, complete = self.records_of(polled)
            if not complete:
                return None  # the answers to the last poll are on their way: do not ask again yet
            outstanding = sum(int(r.get("outstanding") or 0) for r in records)
            if outstanding == 0:
                return 0
        self.send_rate(0.0)
        return None

    # ---- judging one step

    def generator_figures(self) -> list[dict[str, Any]]:
        """The generator during the step that just ended: this process's own window, or the workers' last reports."""
        if STATE.generator_workers:
            return list(STATE.generator_workers.values())  # cumulative per worker: the best a master knows
        lags = SELF_MEASUREMENT.lags_ms[self.lag_mark :]
        late = LATENESS_MS[self.late_mark :]
        wall0, cpu0 = self.cpu_mark
        wall = time.monotonic() - wall0
        cpu = (generator._cpu() - cpu0) / wall if wall > 0 else None
        return [{
            "role": "local", "id": "local", "samples": len(lags),
            "lag_ms": {"p50": quantile(lags, 0.5), "p95": quantile(lags, 0.95)},
            "cpu": {"mean": round(cpu, 3) if cpu is not None else None},
            "late_ms": {"p50": quantile(late, 0.5), "p95": quantile(late, 0.95)},
        }]  # fmt: skip

    def judge_step(self, final: bool, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Judge the step that just ended: on this process's own figures, or on a master on its workers' records
        of the step (``records``: what each sent and how late, its answers, lag, CPU and backlog)."""
        assert self.runner is not None and self.snapshot is not None and self.plan is not None
        environment = self.runner.environment
        target = self.rate
        seconds = self.get_run_time() - self.step_started
        if records is not None:
            seconds = self.collect_started - self.step_started
            now, self.snapshot = step_records.merged(records), Snapshot()
        else:
            now = Snapshot.take(environment.stats)
        observed = now.since(self.snapshot)
        limits = thresholds(environment.parsed_options)
        breaches = evaluate(observed, limits)
        achieved = observed.requests / seconds if seconds > 0 else 0.0
        # Short of the target is the server's only if it left unanswered what was sent: an arrival loop that
        # started late (a busy machine: 0.25 s into a 2 s step) sent 14 of 16, all answered. A master knows
        # neither what its workers sent nor, within Locust's 3 s report interval, what they got back: it does not
        # apply this rule (per-process step records are the next step: docs/load.md). LATENESS_MS holds one entry
        # per request sent here.
        master = isinstance(self.runner, MasterRunner) and records is None
        if records is not None:  # the workers said what they sent (conformance/load/scenario/step_records.py)
            sent: int | None = sum(int(r["sent"]) for r in records)
        else:
            sent = None if master else len(LATENESS_MS) - self.late_mark
        offered = sent / seconds if sent is not None and seconds > 0 else target
        backlog = self.outstanding() if records is None else sum(int(r["outstanding"]) for r in records)
        breaches = verdict.open_model_breaches(breaches, target, achieved, offered, backlog, limits.max_p95_ms,
                                               judge_rate=not master)
        figures = self.generator_figures() if records is None else step_records.figures(records)
        late50 = max((f.get("late_ms", {}).get("p50") or 0.0 for f in figures), default=0.0)
        gen = generator.judge(figures, now.p50_since(self.snapshot),
                              max(filter(None, observed.p95_ms.values()), default=None))
        gen = generator.judge_schedule(gen, late50, target)
        gen = verdict.server_outran_lag(gen, offered / target if sent is not None and target > 0 else None,
                                        max(filter(None, observed.p95_ms.values()), default=None), breaches)
        step = {
            "step": len(self.steps) + 1,
            "plan": self.plan.kind,
            "target_rps": target,
            "started_s": round(self.step_started, 2),
            "seconds": round(seconds, 2),
            "requests": observed.requests,
            "sent": sent,
            "offered_rps": round(offered, 2) if sent is not None else None,
            "achieved_rps": round(achieved, 2),
            "p50_ms": now.p50_since(self.snapshot),
            "p95_ms": observed.p95_ms,
            "failures": observed.failures,
            "failure_ratio": round(observed.failure_ratio, 6),
            "invalid": observed.invalid,
            "outstanding_at_end": backlog,
            "connections": {
                "per_process": self.connections,
                "processes": self.users,
                # Connections that carried a request in the step (this process, or all the workers' records).
                "used": sum(int(r["connections_used"]) for r in records) if records is not None
                else None if isinstance(self.runner, MasterRunner) else len(CONTROL.used),
            },
            # On a master: what each worker sent, how late, its answers, lag and CPU in the step.
            "processes": step_records.per_process(records) if records is not None else None,
            "generator": {
                "bound": gen["bound"],
                "lag_p50_ms": gen["worst_lag_p50_ms"],
                "lag_p95_ms": gen["worst_lag_p95_ms"],
                "cpu": gen["worst_cpu"],
                "late_p50_ms": round(late50, 2),
                "reasons": gen["reasons"],
                "cleared": gen.get("cleared"),
            },
            "partial": final,
            "held": not breaches,
            "breaches": [b.as_dict() for b in breaches],
        }
        self.steps.append(step)
        self.publish()
        return step

    def counted(self) -> list[dict[str, Any]]:
        """The steps a finding rests on (capacity_verdict.counted)."""
        return verdict.counted(self.steps, self.plan.step_time if self.plan else 1.0)

    def outcomes(self) -> list[StepOutcome]:
        return verdict.outcomes(self.counted())

    def publish(self) -> None:
        STATE.extra = {
            **(STATE.extra or {}),
            "capacity": verdict.findings(self.plan, self.steps, self.limited_by, self.ended_by),
        }

    def judge(self, observed: Observed, limits: Thresholds) -> list[Breach]:
        """The run's verdict (STATE.judge): a measurement; it passes when a step held and the generator did not
        end it."""
        return verdict.run_breaches(self.steps, self.counted(), self.limited_by)

    def generator_verdict(self) -> dict[str, Any]:
        """The run's generator story for the summary (STATE.generator_verdict), from the steps."""
        return verdict.generator_story(self.counted(), self.limited_by)

    # ---- the run

    def finish(self, reason: str) -> None:
        if self.ended_by is None:
            self.ended_by = reason
            self.phase = None
            CONTROL.stop()
            if self.runner is not None and isinstance(self.runner, MasterRunner):
                self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())
            self.publish()

    def stop_now(self, reason: str) -> None:
        """The run ends now (its run time, Ctrl-C): the running step is judged as it stands and kept (partial)."""
        if self.ended_by is not None or self.runner is None:
            return
        if isinstance(self.runner, MasterRunner) and self.phase in ("step", "collect"):
            # The workers' records of the running step (or of the one being collected) are still to come.
            final = self.phase == "step"
            if final:
                self.collect_started, self.closing_epoch = self.get_run_time(), self.epoch
                CONTROL.stop()
                self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())
            deadline = time.monotonic() + step_records.COLLECT_MAX_S
            records, complete = self.records_of(self.closing_epoch)
            while not complete and time.monotonic() < deadline:
                gevent.sleep(0.1)
                records, complete = self.records_of(self.closing_epoch)
            if records and (not final or self.collect_started - self.step_started >= 0.5):
                step = self.judge_step(final=final, records=records)
                step["records"] = f"{len(records)} of {len(self.expected_workers())} workers"
                if step in self.counted():
                    self.attribute(step)
            self.finish(reason)
            return
        if self.phase == "step" and self.snapshot is not None and self.get_run_time() - self.step_started >= 0.5:
            step = self.judge_step(final=True)
            if step in self.counted():
                self.attribute(step)
        self.finish(reason)

    def attribute(self, step: dict[str, Any]) -> None:
        """Who limits the run after ``step``: whoever broke the lowest rate that broke (``limited_by``)."""
        if not step["held"]:
            self.limited_by = limited_by(self.outcomes())

    def begin_step(self, rate: float) -> None:
        assert self.runner is not None
        self.phase = "step"
        self.step_started = self.get_run_time()
        self.snapshot = Snapshot.take(self.runner.environment.stats)
        self.lag_mark = len(SELF_MEASUREMENT.lags_ms)
        self.late_mark = len(LATENESS_MS)
        self.cpu_mark = (time.monotonic(), generator._cpu())
        self.send_rate(rate)
        self.publish()

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        STATE.judge = self.judge
        STATE.generator_gate = False
        STATE.generator_verdict = self.generator_verdict
        options: Any = self.runner.environment.parsed_options
        if self.ended_by is not None:
            return None
        if self.plan is None:
            self.plan = plan_of(options)
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            self.stop_now("run time")
            return None
        if self.phase is None:
            if isinstance(self.runner, MasterRunner) and self.runner.user_count < self.users and elapsed < 10:
                # The workers' arrival loops are not up yet: a first step started now would be judged on a
                # fraction of its rate (seen: 8 of 24 requests sent, a 'rate' break of a server at a third of its
                # capacity). Wait for their spawn reports (at most 10 s).
                return self.users, AT_ONCE
            self.begin_step(self.plan.start)
        elif self.phase == "step" and elapsed - self.step_started >= self.plan.step_time:
            if isinstance(self.runner, MasterRunner):
                # Close the step on the workers (a new epoch at the same rate): each sends its record of it, and
                # the step is judged on them all once they are in (next tick), lateness included.
                self.phase, self.collect_started, self.closing_epoch = "collect", elapsed, self.epoch
                self.send_rate(self.rate)
            elif not self.after_step(self.judge_step(final=False), elapsed):
                return None
        elif self.phase == "collect":
            records, complete = self.records_of(self.closing_epoch)
            if complete or elapsed - self.collect_started >= step_records.COLLECT_MAX_S:
                step = self.judge_step(final=False, records=records or None)
                step["records"] = f"{len(records)} of {len(self.expected_workers())} workers"
                if not self.after_step(step, elapsed):
                    return None
        elif self.phase == "drain":
            # A master learns its workers' backlog by polling them (a local run counts its own): without it, a
            # fixed 2 s pause let the next, lower, step be judged on the last one's backlog (seen with --processes 2:
            # 265 answers/s "achieved" at a 225/s step, and a knee of 200 against a server wrk put at 339/s).
            master = isinstance(self.runner, MasterRunner)
            outstanding = self.poll_workers_outstanding() if master else self.outstanding()
            waited = elapsed - self.drain_started
            if outstanding == 0 or waited >= DRAIN_MAX_S:
                if self.steps:
                    self.steps[-1]["drain_s"] = round(waited, 2)
                self.begin_step(self.pending_rate)
        return self.users, AT_ONCE

    def after_step(self, step: dict[str, Any], elapsed: float) -> bool:
        """The next step, a drain before it, or the end (False) after a judged step."""
        assert self.plan is not None
        self.attribute(step)
        rate = self.plan.next_rate(self.outcomes())
        if rate is None:
            self.finish(self.end_reason())
            return False
        if step["held"]:
            self.begin_step(rate)
        else:  # let the server answer the backlog first: the next, lower, step is judged on its own
            self.phase, self.drain_started, self.pending_rate = "drain", elapsed, rate
            self.send_rate(0.0)
            self.drain_epoch = self.epoch
        return True

    def expected_workers(self) -> set[str]:
        """The workers whose records a master waits for: those connected and not missing."""
        runner = self.runner
        assert isinstance(runner, MasterRunner)
        return {c.id for c in runner.clients.values() if c.state != "missing"}

    def records_of(self, epoch: int) -> tuple[list[dict[str, Any]], bool]:
        """The workers' records of ``epoch`` so far, and whether every expected worker's is in."""
        got = RECORDS.get(epoch, {})
        return list(got.values()), bool(got) and self.expected_workers() <= set(got)

    def end_reason(self) -> str:
        assert self.plan is not None
        return verdict.end_reason(self.counted(), self.limited_by, self.plan.maximum)
