"""What a load run adds up to: the summary ``token-conformance load`` reads, its SLO verdict and exit code, and
the progress lines a person watches.

Everything is read from Locust's aggregated stats (so a master sees all its workers) and from the run state
(run_state.py). The summary's exit code is 0 (the SLOs held), 1 (one broke) or 2 (nothing could be judged:
no requests, nothing renewed, or only the generator's or a lost worker's findings), so plain ``locust -f ...``
in CI gates the same way as the CLI (listeners.py sets it as Locust's exit code).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import gevent
from locust.runners import MasterRunner
from locust.stats import calculate_response_time_percentile

from conformance.load.protocol import (
    DROPPED,
    FETCH,
    INVALID,
    LIMITED,
    NO_RENEWAL,
    PROGRESS_PREFIX,
    RENEW,
    SUMMARY_VERSION,
)
from conformance.load.scenario import distributed, generator
from conformance.load.scenario.options import thresholds
from conformance.load.scenario.run_state import SELF_MEASUREMENT, STATE
from conformance.load.slo import Breach, Observed


def _entry(stats_entry: Any) -> dict[str, Any]:
    n = stats_entry.num_requests
    pct = stats_entry.get_response_time_percentile
    return {
        "requests": n,
        "failures": stats_entry.num_failures,
        "p50_ms": pct(0.5) if n else None,
        "p95_ms": pct(0.95) if n else None,
        "p99_ms": pct(0.99) if n else None,
        "avg_ms": round(stats_entry.avg_response_time, 3) if n else None,
        "max_ms": stats_entry.max_response_time if n else None,
        "rps": round(stats_entry.total_rps, 3) if n else 0.0,
        "per_second": {str(k): v for k, v in sorted(stats_entry.num_reqs_per_sec.items())},
        "failures_per_second": {str(k): v for k, v in sorted(stats_entry.num_fail_per_sec.items())},
    }


def request_rows(stats: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Locust's own (aggregated) rows of our request types: {type: {name: entry}}."""
    rows: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in (FETCH, RENEW, INVALID, DROPPED)}
    for (name, method), stats_entry in stats.entries.items():
        if method in rows:
            rows[method][name] = _entry(stats_entry)
    return rows


def observed_from(stats: Any) -> Observed:
    """What the SLOs judge, from Locust's aggregated stats (so a master sees all workers)."""
    requests = failures = 0
    p95: dict[str, float | None] = {}
    for kind in (FETCH, RENEW):
        entries = [e for (_name, method), e in stats.entries.items() if method == kind]
        n = sum(e.num_requests for e in entries)
        requests += n
        failures += sum(e.num_failures for e in entries)
        if n:
            p95[kind.lower()] = float(max(e.get_response_time_percentile(0.95) for e in entries if e.num_requests))
        else:
            p95[kind.lower()] = None
    dropped = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == DROPPED)
    invalid = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == INVALID)
    limited = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == LIMITED)
    return Observed(requests=requests, failures=failures, p95_ms=p95, dropped=dropped, invalid=invalid,
                    limited=limited)


def _overall_p50(stats: Any) -> float | None:
    """The median response time of all FETCH and RENEW requests together."""
    merged: dict[int, int] = {}
    for (_name, method), entry in stats.entries.items():
        if method in (FETCH, RENEW):
            for rt, n in entry.response_times.items():
                merged[rt] = merged.get(rt, 0) + n
    total = sum(merged.values())
    return float(calculate_response_time_percentile(merged, total, 0.5)) if total else None


def build_summary(environment: Any) -> dict[str, Any]:
    """The run as the CLI reads it: Locust's rows, the tally, the SLO verdict and the exit code."""
    options = environment.parsed_options
    limits = thresholds(options)
    observed = observed_from(environment.stats)
    breaches = STATE.judge(observed, limits)
    is_master = isinstance(environment.runner, MasterRunner)
    assert STATE.recorded is not None and STATE.received is not None
    tally = STATE.received.copy() if is_master else STATE.recorded.copy()
    if is_master:
        tally.merge(STATE.recorded.to_dict())  # a master records nothing itself, but be exact
    renewals = sum(e.num_requests for (_n, m), e in environment.stats.entries.items() if m == RENEW)
    own = SELF_MEASUREMENT.figures("master" if is_master else "local", getattr(environment.runner, "client_id", "local"))
    senders = list(STATE.generator_workers.values()) if is_master else [own]
    gen = generator.judge(senders, _overall_p50(environment.stats), max(filter(None, observed.p95_ms.values()), default=None))
    gen["processes"] = [own, *(STATE.generator_workers[k] for k in sorted(STATE.generator_workers))]
    gen["gate"] = STATE.generator_gate
    if STATE.generator_verdict is not None:
        # capacity judged the generator step by step; the whole run's figures mix steps it kept up with and
        # the one it did not. Those stay in ``run_figures``; bound / reasons are the steps' verdict.
        gen["run_figures"] = {"bound": gen["bound"], "reasons": gen["reasons"]}
        gen.update(STATE.generator_verdict())
        gen["advice"] = (gen.get("advice") or "rates above it were not measured: spread the load over more "
                         "generator processes (--processes N, one per free core) or machines (Locust workers, "
                         "docs/load.md)") if gen["bound"] else None
    if gen["bound"] and STATE.generator_gate:
        # The latency is (partly) the generator's: no verdict on it either way. Other findings stand.
        breaches = [b for b in breaches if not b.slo.endswith("_p95_ms")]
        breaches.append(Breach("generator", 0, 1, "generator-bound: " + "; ".join(gen["reasons"])))
    lost = distributed.lost_breach(environment)  # a worker lost mid-run: fewer clients than asked
    if lost is not None:
        breaches.append(lost)
    if observed.requests and not renewals and not breaches:
        # Nothing renewed and nothing else wrong: the renewals were never judged, so the run cannot pass.
        breaches = [Breach("renewals", 1, 0, NO_RENEWAL)]
        exit_code = 2
    elif observed.requests == 0:
        exit_code = 2
    elif breaches and all(b.slo in ("generator", distributed.LOST_SLO) for b in breaches):
        exit_code = 2  # nothing judged on the server's latency, or not the load asked, and nothing else broke
    else:
        exit_code = 1 if breaches else 0
    config = STATE.config
    options = config.as_dict() if config is not None else {}
    by_workers = distributed.signatures_checked_by_workers(environment)
    if by_workers is not None:  # a master checks no token: its workers do, each with its own certificate
        options["signature_checked"] = by_workers
    return {
        "version": SUMMARY_VERSION,
        "host": environment.host,
        "mode": "master" if is_master else "local",
        "started_at": STATE.started_at,
        "stopped_at": STATE.stopped_at,
        "ended_at": time.time(),
        "max_users": STATE.max_users,
        "options": options,
        "thresholds": limits.as_dict(),
        "rows": request_rows(environment.stats),
        "observed": {
            "requests": observed.requests,
            "failures": observed.failures,
            "p95_ms": observed.p95_ms,
            "dropped": observed.dropped,
            "invalid": observed.invalid,
            "limited": observed.limited,
        },
        "tally": tally.to_dict(),
        "workers": {cid: dict(c) for cid, c in sorted((STATE.per_worker or {}).items())},
        "extra": dict(STATE.extra or {}),
        "generator": gen,
        "distributed": distributed.summary(environment),
        "slo": {"passed": not breaches and observed.requests > 0, "breaches": [b.as_dict() for b in breaches]},
        "exit_code": exit_code,
    }


def print_progress(environment: Any, interval: float) -> None:
    """One line every ``interval`` seconds while users run: what a person watching needs to see.

    The rate is the token requests answered since the previous line over the time
    between the lines (Locust's ``current_rps`` excludes the current second and
    reads 0 for the first few seconds of a run).
    """
    last_requests, last_time = 0, None
    while True:
        gevent.sleep(interval)
        runner = environment.runner
        if runner is None or STATE.started_at is None or runner.state not in ("spawning", "running"):
            last_requests, last_time = 0, None
            continue
        stats = environment.stats
        observed = observed_from(stats)
        now = time.time()
        since = last_time if last_time is not None else STATE.started_at
        rps = (observed.requests - last_requests) / (now - since) if now > since else 0.0
        last_requests, last_time = observed.requests, now
        sys.stderr.write(
            f"{PROGRESS_PREFIX} {now - STATE.started_at:5.0f}s users={runner.user_count} "
            f"rps={rps:.1f} requests={observed.requests} fails={observed.failures} "
            f"invalid={observed.invalid} dropped={observed.dropped}\n"
        )
        sys.stderr.flush()
