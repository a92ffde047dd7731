"""Scenario ``ramp``: step the users up until an SLO breaks, and report the knee.

Every ``--step-time`` seconds the shape judges the step that just ended, on that
step's requests only (latency percentiles from the difference of Locust's
response-time histograms, failures, invalid tokens, dropped sessions), with the
same SLO function as the CLI. If the step held, ``--step-users`` more users
join; if not, the run stops. The knee is the last step that held: its users and
its measured request rate, the highest rate at which the SLOs still hold.

A client's request rate is about ``1 / (expiry - margin)``: to reach high rates
with few users, shorten the cycle (``--expiry 2 --renew-margin 1``), or set the
margin equal to the expiry so every client renews as soon as it has a token
(closed loop: the rate is then bounded by the server's latency).

    locust -f loadtests/ramp.py --host URL --headless -u 500 -r 50 -t 120s \\
        --step-users 50 --step-time 10 --slo-p95-ms 200
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events

from conformance.load.scenario.options import add_ramp_options, thresholds
from conformance.load.scenario.run_state import STATE
from conformance.load.scenario.steps import Snapshot
from conformance.load.scenario.token_client import TokenClient
from conformance.load.slo import Breach, Observed, Thresholds, evaluate

__all__ = ["Ramp", "TokenClient"]


events.init_command_line_parser.add_listener(add_ramp_options)


class Ramp(LoadTestShape):
    """Adds ``--step-users`` every ``--step-time`` s up to ``-u`` while each step holds the SLOs."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.new_ramp()

    def new_ramp(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.users = 0
        self.step_started = 0.0
        self.snapshot: Snapshot | None = None
        self.ended_by: str | None = None

    def reset_time(self) -> None:
        super().reset_time()
        self.new_ramp()  # a new run (web UI) starts a new ramp
        STATE.judge = self.judge

    def judge_step(self, final: bool) -> bool:
        """Record the step that just ended; True if it held the SLOs."""
        assert self.runner is not None and self.snapshot is not None
        environment = self.runner.environment
        seconds = self.get_run_time() - self.step_started
        observed = Snapshot.take(environment.stats).since(self.snapshot)
        limits = thresholds(environment.parsed_options)
        breaches = evaluate(observed, limits)
        if observed.requests == 0:
            breaches.append(Breach("requests", 1, 0, "no token request completed in this step"))
        held = not breaches
        self.steps.append(
            {
                "step": len(self.steps) + 1,
                "users": self.users,
                "seconds": round(seconds, 2),
                "requests": observed.requests,
                "rps": round(observed.requests / seconds, 2) if seconds > 0 else 0.0,
                "p95_ms": observed.p95_ms,
                "failure_ratio": round(observed.failure_ratio, 6),
                "dropped": observed.dropped,
                "invalid": observed.invalid,
                "partial": final,
                "held": held,
                "breaches": [b.as_dict() for b in breaches],
            }
        )
        self.publish()
        return held

    def knee(self) -> dict[str, Any] | None:
        held = [s for s in self.steps if s["held"]]
        return max(held, key=lambda s: s["rps"]) if held else None

    def publish(self) -> None:
        STATE.extra = {
            **(STATE.extra or {}),
            "ramp": {"steps": self.steps, "knee": self.knee(), "ended_by": self.ended_by},
        }

    def judge(self, observed: Observed, limits: Thresholds) -> list[Breach]:
        """The ramp's verdict: it passes when at least one step held the SLOs (that step is the knee)."""
        if self.knee() is not None:
            return []
        if not self.steps:
            return [Breach("knee", 1, 0, "the ramp ended before a step could be judged (run time < step time?)")]
        first = self.steps[0]
        reasons = "; ".join(b["message"] for b in first["breaches"])
        return [Breach("knee", 1, 0, f"even the first step ({first['users']} users) broke the SLOs: {reasons}")]

    def finish(self, reason: str) -> None:
        if self.ended_by is None:
            if self.snapshot is not None and self.get_run_time() - self.step_started >= 1.0 and reason == "run time":
                self.judge_step(final=True)
            self.ended_by = reason
            self.publish()

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        STATE.judge = self.judge
        options: Any = self.runner.environment.parsed_options
        if self.ended_by is not None:
            return None
        max_users = max(int(options.num_users or 1), 1)
        step_users = int(options.step_users) or max(1, -(-max_users // 5))
        step_time = max(float(options.step_time), 1.0)
        spawn_rate = float(options.spawn_rate or step_users)
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            self.finish("run time")
            return None
        if self.snapshot is None or elapsed - self.step_started >= step_time:
            if self.snapshot is not None:
                if not self.judge_step(final=False):
                    self.finish(f"step {len(self.steps)} broke the SLOs")
                    return None
                if self.users >= max_users:
                    self.finish("all users running, the SLOs held")
                    return None
            self.users = min(self.users + step_users, max_users)
            self.step_started = elapsed
            self.snapshot = Snapshot.take(self.runner.environment.stats)
            self.publish()
        return self.users, spawn_rate
