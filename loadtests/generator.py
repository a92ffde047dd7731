"""The load generator measures itself: event-loop lag and CPU, in every Locust process.

A response time in Locust runs from sending a request to the moment the
greenlet that sent it runs again. When the one event loop of a process is busy
(validating other tokens, spawning users, a burst of renewals all due at once),
that wait is the generator's, not the server's, and it is counted as latency.
So each process (local, master and every worker) runs a probe greenlet:

* **event-loop lag**: it asks to sleep ``PROBE_INTERVAL_S`` and records how much
  later than asked it woke up; that is the delay any greenlet waiting to run had
  at that instant (the same probe as Node's ``monitorEventLoopDelay``);
* **CPU**: the process's CPU time over wall time, per second.

Workers send their figures to the master with their reports; the master's
summary lists every process. ``judge`` decides whether the run's latency is
the generator's: see ``LAG_SHARE`` and ``CPU_SATURATED`` for the thresholds and
docs/load.md for the measurement behind them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

#: Seconds the probe asks to sleep (10 wake-ups a second: cheap, and a burst shorter than this is still seen
#: by the greenlets that were waiting during it).
PROBE_INTERVAL_S = 0.1
#: The generator is the bottleneck when, in its worst process, the event-loop lag is at least this share of
#: the measured latency at the same percentile (p50 against the requests' p50, p95 against the highest p95):
#: at least half of what was measured could then be the generator's own delay.
LAG_SHARE = 0.5
#: ... and that lag is at least this many ms: the accuracy this tool promises for its latency figures
#: (docs/performance.md: within 2 ms of one client's p50); a smaller lag cannot move a figure by more.
LAG_FLOOR_MS = 2.0
#: ... or a process ran at this share of one core or more over the run (it had no time left to wait well).
CPU_SATURATED = 0.9
#: Key of the generator figures in a worker's report to the master.
REPORT_KEY = "token_conformance_generator"


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Probe:
    """This process's lag samples (ms) and CPU windows (share of one core)."""

    lags_ms: list[float] = field(default_factory=list)
    cpu_shares: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    cpu_started: float = field(default_factory=lambda: _cpu())
    running: bool = False

    def reset(self) -> None:
        self.lags_ms.clear()
        self.cpu_shares.clear()
        self.started = time.monotonic()
        self.cpu_started = _cpu()

    def run(self) -> None:
        """The probe greenlet: forever, a sleep and how late it ended; a CPU reading every second."""
        import gevent

        self.running = True
        window_wall, window_cpu = time.monotonic(), _cpu()
        while True:
            before = time.monotonic()
            gevent.sleep(PROBE_INTERVAL_S)
            now = time.monotonic()
            self.lags_ms.append(max(0.0, (now - before - PROBE_INTERVAL_S) * 1000.0))
            if now - window_wall >= 1.0:
                cpu = _cpu()
                self.cpu_shares.append((cpu - window_cpu) / (now - window_wall))
                window_wall, window_cpu = now, cpu

    def figures(self, role: str, ident: str) -> dict[str, Any]:
        """What this process measured since the last reset (JSON-ready)."""
        lags = list(self.lags_ms)
        wall = time.monotonic() - self.started
        return {
            "role": role,
            "id": ident,
            "pid": os.getpid(),
            "samples": len(lags),
            "lag_ms": {
                "p50": _round(_quantile(lags, 0.5)),
                "p95": _round(_quantile(lags, 0.95)),
                "p99": _round(_quantile(lags, 0.99)),
                "max": _round(max(lags, default=None) if lags else None),
            },
            "cpu": {
                "mean": round((_cpu() - self.cpu_started) / wall, 3) if wall > 0 else None,
                "max": round(max(self.cpu_shares), 3) if self.cpu_shares else None,
            },
        }


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def judge(processes: list[dict[str, Any]], p50_ms: float | None, p95_ms: float | None = None) -> dict[str, Any]:
    """Is the measured latency the generator's? ``processes``: the figures of every process that sent requests;
    ``p50_ms`` the requests' median, ``p95_ms`` the highest p95 of a kind of request.

    Returns ``{"bound": bool, "reasons": [...], "advice": str | None, "worst_lag_p95_ms", "worst_cpu", ...}``.
    """

    def worst(path: tuple[str, str]) -> float | None:
        values = [p.get(path[0], {}).get(path[1]) for p in processes]
        return max((v for v in values if v is not None), default=None)

    lag50, lag95, worst_cpu = worst(("lag_ms", "p50")), worst(("lag_ms", "p95")), worst(("cpu", "mean"))
    reasons: list[str] = []
    for name, lag, measured in (("p50", lag50, p50_ms), ("p95", lag95, p95_ms)):
        if lag is not None and measured and lag >= LAG_FLOOR_MS and lag >= LAG_SHARE * measured:
            reasons.append(
                f"event-loop lag {name} {lag:g} ms is {lag / measured:.0%} of the measured {name} {measured:g} ms "
                f"(limit {LAG_SHARE:.0%}): requests waited on the generator, not only on the server"
            )
    if worst_cpu is not None and worst_cpu >= CPU_SATURATED:
        reasons.append(f"a generator process used {worst_cpu:.0%} of a core (limit {CPU_SATURATED:.0%})")
    advice = None
    if reasons:
        advice = (
            "the latency figures describe the generator: spread the load over more generator processes "
            "(--processes N, one per free core) or machines (Locust workers, docs/load.md), or lower the load"
        )
    return {
        "bound": bool(reasons),
        "reasons": reasons,
        "advice": advice,
        "worst_lag_p50_ms": lag50,
        "worst_lag_p95_ms": lag95,
        "worst_cpu": worst_cpu,
        "thresholds": {"lag_share": LAG_SHARE, "lag_floor_ms": LAG_FLOOR_MS, "cpu": CPU_SATURATED},
    }
