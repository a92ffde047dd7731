"""Quantiles of measured values, one definition for the whole project.

The definition is the **nearest rank**: the q-quantile of n values is the value of rank ceil(q * n) in ascending
order (rank 1 for q = 0). It is always one of the measured values, never an interpolation between two, so
"p95 = 412 ms" names an answer that really took 412 ms, and a small sample (10 token requests, a few renewal
leads) gives a figure a reader can find in the raw data. Every figure we report - the check's answer times,
LATENCY-2's p95, a load run's renewal leads, the generator's lag - uses it, so two reports of the same values agree.
(Locust's own percentiles come from its rounded response-time histogram; those stay Locust's.)

Standard library only: this module sits below everything that measures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def quantile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 <= q <= 1) of ``values``, in any order; None when there are none.

    ``quantile(v, 0.5)`` is the median for an odd count and the lower middle value for an even one;
    ``quantile(v, 1.0)`` is the largest value.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, not {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
