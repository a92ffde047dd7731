"""Section LATENCY: a token arrives within the client's timeout, and typically well under a second.

Both cases run last (the plugin orders them so): they judge the answer times of
the whole run, which the client records, and add a small sample of their own.
"""

from __future__ import annotations

import time

from ..cases import case
from ..preflight import LATENCY_MEMO, slow_evidence
from ..stats import quantile
from ..target import Target
from ..verdict import Findings, fail

#: LATENCY-2 judges at least this many token requests, sent one at a time ...
SAMPLE = 10
#: ... within this many seconds (a slow server gets fewer samples, never a longer run).
SAMPLE_BUDGET_S = 6.0
TYPICAL_LIMIT_S = 1.0


@case("LATENCY-1")
def test_answered_within_client_timeout(token_target: Target) -> None:
    t = token_target
    memo = t.memo.get(LATENCY_MEMO)
    if memo is not None:
        reason, ex = memo
        fail("token request", f"an answer within {t.settings.timeout:g} s", reason, ex)
    request = t.rtc_request(channel="conformance-latency")
    ex = t.send(request)
    if ex.error:
        reason = slow_evidence(t, f"{request.method} {request.path}", ex) or ex.error
        fail("token request", f"an answer within {t.settings.timeout:g} s", reason, ex)
    f = Findings()
    f.check(t.client.stats.timeouts == 0, "token requests of the run", "every one answered within the timeout",
            f"{t.client.stats.timeouts} request(s) had no answer within {t.settings.timeout:g} s")
    f.conclude()


@case("LATENCY-2")
def test_typical_answer_time(token_target: Target) -> None:
    t = token_target
    times: list[float] = []
    slowest = None
    started = time.monotonic()
    for n in range(SAMPLE):
        ex = t.send_rtc(channel=f"conformance-latency-{n}")
        if ex.status is not None:
            times.append(ex.elapsed_s)
            if slowest is None or ex.elapsed_s > slowest.elapsed_s:
                slowest = ex
        if time.monotonic() - started > SAMPLE_BUDGET_S:
            break
    p95 = quantile(times, 0.95)
    if p95 is None:
        fail("token requests", "answers", "no answer to any of them (judged by LATENCY-1)")
        return
    times.sort()
    f = Findings()
    f.check(p95 < TYPICAL_LIMIT_S, f"95th percentile of {len(times)} token requests sent one at a time",
            f"under {TYPICAL_LIMIT_S:g} s", f"{p95 * 1000:.0f} ms (median {times[len(times) // 2] * 1000:.0f} ms)",
            slowest)
    f.conclude()
