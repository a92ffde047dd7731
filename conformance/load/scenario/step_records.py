"""Capacity over several generator processes: each worker's own record of each step, sent to the master.

A master sees its workers' requests only through Locust's reports, every 3 s and
cumulative, and never what they *sent* or how late: judged from those, a step
mixes the end of the previous one and misses its own last seconds, and the
schedule's lateness is unknown. So each worker keeps, per step (an ``epoch`` of
``ArrivalControl``), what it sent and how late, the answers it got (a
histogram as Locust keeps it), its event loop's lag, its CPU and what was still
outstanding at the end, and sends that record to the master the moment the
master moves to the next epoch. The master waits for every worker's record of
the step (a few ms on a LAN; at most ``COLLECT_MAX_S``), merges them and judges
the step on all of them exactly as a local run judges its own: the requests
answered, the 90 %-answered rule against what was sent, the backlog, and the
generator's lag, CPU and lateness (the worst process).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.load.protocol import DROPPED, FETCH, INVALID, RENEW
from conformance.load.scenario import generator
from conformance.load.scenario.steps import Snapshot
from conformance.stats import quantile

#: Custom Locust message a worker sends its master when a step (epoch) ends: one record (``EpochRecorder.close``).
STEP_MESSAGE = "token_conformance_capacity_step"
#: Seconds a master waits for its workers' records of a step before judging on the records it has.
COLLECT_MAX_S = 3.0


def locust_rounded(ms: float) -> int:
    """A response time rounded as Locust's StatsEntry rounds it (2 significant digits above 100 ms)."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


@dataclass
class EpochRecorder:
    """A worker's figures for the step now running (one per worker process)."""

    epoch: int = -1
    started: float = field(default_factory=time.monotonic)
    late_mark: int = 0
    lag_mark: int = 0
    cpu_mark: float = 0.0
    answers: Snapshot = field(default_factory=Snapshot)

    def open(self, epoch: int, lateness: Sequence[float], lags: Sequence[float]) -> None:
        self.epoch = epoch
        self.started = time.monotonic()
        self.late_mark, self.lag_mark = len(lateness), len(lags)
        self.cpu_mark = generator._cpu()
        self.answers = Snapshot()

    def on_request(self, request_type: str, response_time: float, exception: Any) -> None:
        snap = self.answers
        if request_type in (FETCH, RENEW):
            hist = snap.histograms.setdefault(request_type, {})
            rt = locust_rounded(response_time or 0.0)
            hist[rt] = hist.get(rt, 0) + 1
            snap.requests[request_type] = snap.requests.get(request_type, 0) + 1
            if exception is not None:
                snap.failures += 1
        elif request_type == INVALID:
            snap.invalid += 1
        elif request_type == DROPPED:
            snap.dropped += 1

    def close(self, client_id: str, lateness: Sequence[float], lags: Sequence[float], outstanding: int,
              used: int) -> dict[str, Any]:
        """This worker's record of the step that just ended (plain data: it crosses the wire, nothing secret)."""
        wall = time.monotonic() - self.started
        # The probe's list is emptied when the run starts (a first rate may come before that): then count from 0.
        late = list(lateness[self.late_mark if self.late_mark <= len(lateness) else 0:])
        lag = list(lags[self.lag_mark if self.lag_mark <= len(lags) else 0:])
        cpu = (generator._cpu() - self.cpu_mark) / wall if wall > 0 else None
        snap = self.answers
        return {
            "epoch": self.epoch,
            "id": client_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "seconds": round(wall, 3),
            "sent": len(late),
            "late_ms": {"p50": quantile(late, 0.5), "p95": quantile(late, 0.95)},
            "lag_ms": {"p50": quantile(lag, 0.5), "p95": quantile(lag, 0.95)},
            "cpu": {"mean": round(cpu, 3) if cpu is not None else None},
            "samples": len(lag),
            "histograms": {k: {str(rt): n for rt, n in h.items()} for k, h in snap.histograms.items()},
            "requests": dict(snap.requests),
            "failures": snap.failures,
            "invalid": snap.invalid,
            "dropped": snap.dropped,
            "outstanding": outstanding,
            "connections_used": used,
        }


def merged(records: Sequence[dict[str, Any]]) -> Snapshot:
    """The step's answers over every worker: one histogram per kind, summed counts."""
    out = Snapshot()
    for record in records:
        for kind, hist in record.get("histograms", {}).items():
            into = out.histograms.setdefault(kind, {})
            for rt, n in hist.items():
                into[int(rt)] = into.get(int(rt), 0) + int(n)
        for kind, n in record.get("requests", {}).items():
            out.requests[kind] = out.requests.get(kind, 0) + int(n)
        out.failures += int(record.get("failures", 0))
        out.invalid += int(record.get("invalid", 0))
        out.dropped += int(record.get("dropped", 0))
    return out


def figures(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each worker's generator figures in the step, as ``generator.judge`` reads them."""
    return [{
        "role": "worker", "id": r["id"], "host": r.get("host"), "pid": r.get("pid"), "samples": r.get("samples", 0),
        "lag_ms": r["lag_ms"], "cpu": r["cpu"], "late_ms": r["late_ms"],
    } for r in records]  # fmt: skip


def per_process(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each worker did in the step (load.json ``capacity.steps[].processes``)."""
    return [{
        "id": r["id"], "host": r.get("host"), "sent": r["sent"], "answered": sum(r.get("requests", {}).values()),
        "late_p50_ms": r["late_ms"]["p50"], "lag_p50_ms": r["lag_ms"]["p50"], "cpu": r["cpu"]["mean"],
        "outstanding": r["outstanding"],
    } for r in sorted(records, key=lambda r: r["id"])]  # fmt: skip
