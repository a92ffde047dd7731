"""Scenario ``capacity``: an open model — token requests arrive at a target rate, stepped up until an SLO breaks.

Simulated users (``fetch_and_renew``, ``ramp``) are a closed model: each sends
its next request only after the last one answered and a renewal period passed,
so with real token lifetimes one machine cannot reach a server's limit, and a
slow answer slows the arrivals down (the server is spared the very load that
would show its limit). Here, as with wrk2's constant throughput or k6's
arrival-rate executors, requests are *sent on a schedule*, whether or not the
earlier ones have been answered: ``--start-rate`` requests per second for
``--step-time`` seconds, then ``--step-rate`` more per step, up to
``--max-rate``.

Each request is a validated token request, the same as the other scenarios
send and check: a new session's fetch, or the renewal of a token fetched at
least a second earlier (so "a renewal lapses later" is checked too); about one
in two is a renewal.

Every step is judged on its own requests with the run's SLOs. At the first
step that breaks one the run stops, and the scenario tells who broke:

* **the server** (the generator's event loop and CPU had room): the ``knee``
  is the last rate that held, the step above it the one that broke;
* **the generator** (its lag or CPU says it could not keep to the schedule):
  no knee is claimed; the run says to add generator processes.

When every step held: "no knee up to R req/s".

One arrival loop runs per Locust user, and the harness starts one user per
generator process (``--processes``): each sends ``rate / users`` per second.

    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 120s \\
        --start-rate 200 --step-rate 200 --max-rate 4000 --step-time 10
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.pool import Pool
from locust import LoadTestShape, events, task

from conformance.load.protocol import FETCH, INVALID, RENEW
from conformance.load.slo import Breach, Observed, Thresholds, evaluate
from conformance.loadtests import common, generator
from conformance.loadtests.common import PROBE, STATE, Session, thresholds
from conformance.loadtests.steps import Snapshot
from conformance.loadtests.validation import REASONS, Request, check_token

__all__ = ["ArrivalClient", "Capacity"]

#: Requests one generator process keeps outstanding at most; past it, an arrival is a failure
#: ("not sent: ... outstanding") — the server has stopped keeping up (or the generator has).
MAX_OUTSTANDING = 2000
#: Held tokens kept for renewal at most (older ones are dropped unrenewed: not a failure).
MAX_HELD = 5000
#: How late (ms) this process sent each request after its scheduled instant, in order (the shape reads each
#: step's slice). A generator that cannot keep to the schedule falls further behind with every request.
LATENESS_MS: list[float] = []
#: Spawn rate that starts the arrival loops at once.
AT_ONCE = 1_000_000.0


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--start-rate", type=float, default=50.0, help="capacity: requests/s of the first step")
    parser.add_argument("--step-rate", type=float, default=0.0, help="capacity: requests/s added per step (0: start)")
    parser.add_argument("--max-rate", type=float, default=1000.0, help="capacity: highest rate tried, requests/s")
    parser.add_argument("--step-time", type=float, default=10.0, help="capacity: seconds per step")


@dataclass(frozen=True)
class Schedule:
    """The target rate over time, the same on the master and every worker (computed, not sent)."""

    start: float
    step: float
    maximum: float
    step_time: float

    @classmethod
    def from_options(cls, options: Any) -> Schedule:
        start = max(float(options.start_rate), 0.1)
        step = float(options.step_rate) or start
        return cls(start, step, max(float(options.max_rate), start), max(float(options.step_time), 1.0))

    def rate(self, index: int) -> float:
        return min(self.start + index * self.step, self.maximum)

    def index_at(self, elapsed: float) -> int:
        return int(elapsed // self.step_time)

    @property
    def steps(self) -> int:
        return 1 + math.ceil(max(0.0, self.maximum - self.start) / self.step - 1e-9)


class ArrivalClient(common.TokenClient):
    """One arrival loop: sends validated token requests on the schedule, each in its own greenlet."""

    concurrency = MAX_OUTSTANDING  # FastHttpSession: requests in flight at once from this user
    start_spread = False
    phase_spread = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.held: collections.deque[Session] = collections.deque()

    def wait_time(self) -> float:
        return 0.0

    @task
    def arrivals(self) -> None:
        options = self.environment.parsed_options
        schedule = Schedule.from_options(options)
        users = max(int(options.num_users or 1), 1)
        pool = Pool(MAX_OUTSTANDING)
        t0 = time.monotonic()
        due = t0
        while True:
            now = time.monotonic()
            if due > now:
                gevent.sleep(due - now)
            index = schedule.index_at(due - t0)
            if index >= schedule.steps:
                gevent.sleep(0.5)  # past the last step: the shape stops the run
                continue
            LATENESS_MS.append(max(0.0, (time.monotonic() - due) * 1000.0))
            if pool.full():
                self.fire(FETCH, self.route, 0.0, RuntimeError(f"not sent: {MAX_OUTSTANDING} requests outstanding"))
                self.tally.failure(f"not sent: {MAX_OUTSTANDING} requests outstanding")
            else:
                pool.spawn(self.one_request)
            due += users / schedule.rate(index)

    def one_request(self) -> None:
        now = time.time()
        while self.held and self.held[0].expires is not None and self.held[0].expires - now < 1.0:
            self.held.popleft()  # too close to expiry to renew safely: let it go
        if self.held and now - self.held[0].received_at >= 1.0:
            self.renew_one(self.held.popleft())
        else:
            self.fetch_one()

    def fetch_one(self) -> None:
        config = self.config
        session = self.new_session()
        token, ms, sent, received = self.request_token(FETCH, session)
        self.tally.count("fetch")
        if token is None:
            return
        verdict = check_token(
            token, Request(session.channel, session.role, session.tokentype, session.uid, config.expiry, sent, received),
            config,
        )
        if not verdict.ok:
            assert verdict.reason is not None
            self.tally.invalid(verdict.reason, verdict.detail)
            self.fire(INVALID, verdict.reason, ms, common.InvalidToken(REASONS[verdict.reason]))
            return
        self.tally.count("fetch_ok")
        self.tally.count("sessions_started")
        session.expires, session.received_at = verdict.expires_ts, received
        if len(self.held) < MAX_HELD:
            self.held.append(session)

    def renew_one(self, session: Session) -> None:
        config = self.config
        assert session.expires is not None
        old = session.expires
        token, ms, sent, received = self.request_token(RENEW, session)
        self.tally.count("renew")
        if token is None:
            return
        request = Request(
            session.channel, session.role, session.tokentype, session.uid, config.expiry, sent, received,
            replaces_expiry=old, require_later=sent - session.received_at >= 1.0,
        )  # fmt: skip
        verdict = check_token(token, request, config)
        if not verdict.ok:
            assert verdict.reason is not None
            self.tally.invalid(verdict.reason, verdict.detail)
            self.fire(INVALID, verdict.reason, ms, common.InvalidToken(REASONS[verdict.reason]))
            return
        self.tally.count("renew_ok")
        self.tally.count("cycles")
        self.tally.lead(old - received)
        self.tally.count("sessions_completed")

    def on_stop(self) -> None:
        self.held.clear()  # an open model holds no session through its expiry: nothing is dropped


class Capacity(LoadTestShape):
    """Keeps one arrival loop per user; judges each step; stops at the first that breaks an SLO."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.new_run()

    def new_run(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.index = -1
        self.step_started = 0.0
        self.snapshot: Snapshot | None = None
        self.lag_mark = 0
        self.late_mark = 0
        self.cpu_mark = (time.monotonic(), generator._cpu())
        self.ended_by: str | None = None
        self.limited_by: str | None = None

    def reset_time(self) -> None:
        super().reset_time()
        self.new_run()
        STATE.judge = self.judge
        STATE.generator_gate = False

    # ---- judging one step

    def generator_figures(self) -> list[dict[str, Any]]:
        """The generator during the step that just ended: this process's own window, or the workers' last reports."""
        if STATE.generator_workers:
            return list(STATE.generator_workers.values())  # cumulative per worker: the best a master knows
        lags = PROBE.lags_ms[self.lag_mark :]
        late = LATENESS_MS[self.late_mark :]
        wall0, cpu0 = self.cpu_mark
        wall = time.monotonic() - wall0
        cpu = (generator._cpu() - cpu0) / wall if wall > 0 else None
        return [{
            "role": "local", "id": "local", "samples": len(lags),
            "lag_ms": {"p50": generator._quantile(lags, 0.5), "p95": generator._quantile(lags, 0.95)},
            "cpu": {"mean": round(cpu, 3) if cpu is not None else None},
            "late_ms": {"p50": generator._quantile(late, 0.5), "p95": generator._quantile(late, 0.95)},
        }]  # fmt: skip

    def judge_step(self, target: float, final: bool) -> dict[str, Any]:
        assert self.runner is not None and self.snapshot is not None
        environment = self.runner.environment
        seconds = self.get_run_time() - self.step_started
        now = Snapshot.take(environment.stats)
        observed = now.since(self.snapshot)
        breaches = evaluate(observed, thresholds(environment.parsed_options))
        achieved = observed.requests / seconds if seconds > 0 else 0.0
        # Short of the target is the server's only if it left unanswered what was sent: an arrival loop that
        # started late (a busy machine: 0.25 s into a 2 s step) sent 14 of 16, all answered. A master does not
        # know what its workers sent: the target stands in (LATENESS_MS holds one entry per request sent here).
        sent = None if STATE.generator_workers else len(LATENESS_MS) - self.late_mark
        offered = sent / seconds if sent is not None and seconds > 0 else target
        if achieved < 0.9 * min(target, offered) and not breaches:
            breaches.append(Breach("rate", target, round(achieved, 2),
                                   f"{achieved:.0f} of {target:g} requests/s answered in the step"))  # fmt: skip
        figures = self.generator_figures()
        late50 = max((f.get("late_ms", {}).get("p50") or 0.0 for f in figures), default=0.0)
        gen = generator.judge(figures, now.p50_since(self.snapshot), max(filter(None, observed.p95_ms.values()), default=None))
        gen = generator.judge_schedule(gen, late50, target)
        step = {
            "step": len(self.steps) + 1,
            "target_rps": target,
            "seconds": round(seconds, 2),
            "requests": observed.requests,
            "sent": sent,
            "achieved_rps": round(achieved, 2),
            "p50_ms": now.p50_since(self.snapshot),
            "p95_ms": observed.p95_ms,
            "failure_ratio": round(observed.failure_ratio, 6),
            "invalid": observed.invalid,
            "generator": {
                "bound": gen["bound"],
                "lag_p50_ms": gen["worst_lag_p50_ms"],
                "lag_p95_ms": gen["worst_lag_p95_ms"],
                "cpu": gen["worst_cpu"],
                "late_p50_ms": round(late50, 2),
                "reasons": gen["reasons"],
            },
            "partial": final,
            "held": not breaches,
            "breaches": [b.as_dict() for b in breaches],
        }
        self.steps.append(step)
        self.publish()
        return step

    def knee(self) -> dict[str, Any] | None:
        """Only when the server broke an SLO: the last rate that held and the step that broke."""
        if self.limited_by != "server" or not self.steps:
            return None
        broke = self.steps[-1]
        held = [s for s in self.steps if s["held"]]
        last = held[-1] if held else None
        return {
            "rps": last["target_rps"] if last else None,
            "achieved_rps": last["achieved_rps"] if last else None,
            "broke_at_rps": broke["target_rps"],
            "broken": [b["slo"] for b in broke["breaches"]],
        }

    def publish(self) -> None:
        held = [s["target_rps"] for s in self.steps if s["held"]]
        STATE.extra = {
            **(STATE.extra or {}),
            "capacity": {
                "steps": self.steps,
                "knee": self.knee(),
                "limited_by": self.limited_by,
                "highest_held_rps": max(held) if held else None,
                "ended_by": self.ended_by,
            },
        }

    def judge(self, observed: Observed, limits: Thresholds) -> list[Breach]:
        """The run's verdict: a measurement, it passes when the first step held and the generator kept up."""
        if not self.steps:
            return [Breach("knee", 1, 0, "the run ended before a step could be judged (run time < step time?)")]
        if self.limited_by == "generator":
            broke = self.steps[-1]
            return [Breach("generator", 0, 1, f"the generator could not keep to {broke['target_rps']:g} requests/s: "
                           + "; ".join(broke["generator"]["reasons"] or ["it fell behind the schedule"]))]  # fmt: skip
        first = self.steps[0]
        if not first["held"]:
            reasons = "; ".join(b["message"] for b in first["breaches"])
            return [Breach("knee", 1, 0, f"even the first step ({first['target_rps']:g} requests/s) broke: {reasons}")]
        return []

    def finish(self, reason: str) -> None:
        if self.ended_by is None:
            self.ended_by = reason
            self.publish()

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        STATE.judge = self.judge
        STATE.generator_gate = False
        options: Any = self.runner.environment.parsed_options
        if self.ended_by is not None:
            return None
        schedule = Schedule.from_options(options)
        users = max(int(options.num_users or 1), 1)
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            self.finish("run time")
            return None
        index = schedule.index_at(elapsed)
        if self.snapshot is None or index > self.index:
            if self.snapshot is not None:
                step = self.judge_step(schedule.rate(self.index), final=False)
                if not step["held"]:
                    self.limited_by = "generator" if step["generator"]["bound"] else "server"
                    self.finish(f"step {step['step']} ({step['target_rps']:g} requests/s) broke: {self.limited_by}")
                    return None
                if index >= schedule.steps:
                    self.finish(f"every step held up to {schedule.maximum:g} requests/s")
                    return None
            self.index = index
            self.step_started = elapsed
            self.snapshot = Snapshot.take(self.runner.environment.stats)
            self.lag_mark = len(PROBE.lags_ms)
            self.late_mark = len(LATENESS_MS)
            self.cpu_mark = (time.monotonic(), generator._cpu())
            self.publish()
        return users, AT_ONCE
