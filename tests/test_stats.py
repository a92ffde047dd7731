"""``conformance.stats.quantile``: the nearest-rank definition every reported percentile uses."""

from __future__ import annotations

import math
import random

import pytest

from conformance.stats import quantile


def test_nearest_rank_is_a_measured_value_of_rank_ceil_q_n() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]  # the textbook example of the nearest-rank method
    assert quantile(values, 0.05) == 15.0
    assert quantile(values, 0.30) == 20.0
    assert quantile(values, 0.40) == 20.0
    assert quantile(values, 0.50) == 35.0
    assert quantile(values, 1.0) == 50.0
    assert quantile(values, 0.0) == 15.0


def test_order_of_the_values_does_not_matter_and_they_are_not_changed() -> None:
    values = [50.0, 15.0, 40.0, 20.0, 35.0]
    assert quantile(values, 0.5) == 35.0
    assert values == [50.0, 15.0, 40.0, 20.0, 35.0]
    assert quantile(iter(values), 0.5) == 35.0


def test_even_count_median_is_the_lower_middle_value_not_an_average() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0


def test_p95_of_twenty_answers_is_the_nineteenth() -> None:
    values = [float(n) for n in range(1, 21)]
    assert quantile(values, 0.95) == 19.0
    assert quantile(values, 0.99) == 20.0


def test_always_one_of_the_values_and_at_least_q_of_them_at_or_below() -> None:
    rng = random.Random(7)
    for _ in range(200):
        values = [rng.uniform(0, 1000) for _ in range(rng.randint(1, 50))]
        q = rng.random()
        got = quantile(values, q)
        assert got in values
        assert sum(v <= got for v in values) >= math.ceil(q * len(values))
        assert sum(v < got for v in values) < max(1, math.ceil(q * len(values)))


def test_no_values_no_quantile() -> None:
    assert quantile([], 0.5) is None


@pytest.mark.parametrize("q", [-0.1, 1.5, 95])
def test_q_outside_0_1_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantile([1.0], q)
