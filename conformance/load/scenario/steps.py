"""One step of a stepped scenario (ramp, capacity), judged on its own requests.

Locust's stats are cumulative; a ``Snapshot`` of them at the start and at the
end of a step gives that step's requests, failures, invalid tokens, dropped
sessions and latency percentiles (from the difference of the response-time
histograms), for the same SLO function as the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from locust.stats import calculate_response_time_percentile

from conformance.load.protocol import DROPPED, FETCH, INVALID, RENEW
from conformance.load.slo import Observed


@dataclass
class Snapshot:
    """Cumulative counters at one instant; the difference of two is one step."""

    histograms: dict[str, dict[int, int]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    dropped: int = 0
    invalid: int = 0

    @classmethod
    def take(cls, stats: Any) -> Snapshot:
        snap = cls()
        for (_name, method), entry in stats.entries.items():
            if method in (FETCH, RENEW):
                hist = snap.histograms.setdefault(method, {})
                for rt, n in entry.response_times.items():
                    hist[rt] = hist.get(rt, 0) + n
                snap.requests[method] = snap.requests.get(method, 0) + entry.num_requests
                snap.failures += entry.num_failures
            elif method == DROPPED:
                snap.dropped += entry.num_requests
            elif method == INVALID:
                snap.invalid += entry.num_requests
        return snap

    def since(self, before: Snapshot) -> Observed:
        p95: dict[str, float | None] = {}
        for kind in (FETCH, RENEW):
            n = self.requests.get(kind, 0) - before.requests.get(kind, 0)
            old = before.histograms.get(kind, {})
            diff = {rt: c - old.get(rt, 0) for rt, c in self.histograms.get(kind, {}).items() if c > old.get(rt, 0)}
            p95[kind.lower()] = float(calculate_response_time_percentile(diff, n, 0.95)) if n > 0 else None
        requests = sum(self.requests.values()) - sum(before.requests.values())
        return Observed(
            requests=requests,
            failures=self.failures - before.failures,
            p95_ms=p95,
            dropped=self.dropped - before.dropped,
            invalid=self.invalid - before.invalid,
        )

    def p50_since(self, before: Snapshot) -> float | None:
        """The step's median response time over FETCH and RENEW together (None without requests)."""
        merged: dict[int, int] = {}
        for kind in (FETCH, RENEW):
            old = before.histograms.get(kind, {})
            for rt, c in self.histograms.get(kind, {}).items():
                if c > old.get(rt, 0):
                    merged[rt] = merged.get(rt, 0) + c - old.get(rt, 0)
        n = sum(merged.values())
        return float(calculate_response_time_percentile(merged, n, 0.5)) if n else None
