"""The SLO verdict shared by the CLI and the scenarios."""

from __future__ import annotations

import pytest

from conformance.load.slo import Observed, Thresholds, check_thresholds, evaluate


def test_everything_within_limits_holds() -> None:
    seen = Observed(requests=1000, failures=5, p95_ms={"fetch": 120.0, "renew": 80.0}, dropped=0, invalid=0)
    assert evaluate(seen, Thresholds(max_p95_ms=200, max_failure_ratio=0.01)) == []


def test_each_breach_is_named_with_limit_and_actual() -> None:
    seen = Observed(requests=100, failures=3, p95_ms={"fetch": 250.0, "renew": None}, dropped=2, invalid=1)
    breaches = evaluate(seen, Thresholds(max_p95_ms=200, max_failure_ratio=0.02))
    by_name = {b.slo: b for b in breaches}
    assert set(by_name) == {"fetch_p95_ms", "failure_ratio", "invalid_tokens", "dropped"}
    assert (by_name["fetch_p95_ms"].limit, by_name["fetch_p95_ms"].actual) == (200, 250.0)
    assert by_name["failure_ratio"].actual == pytest.approx(0.03)
    assert "2 dropped sessions" in by_name["dropped"].message
    assert by_name["invalid_tokens"].as_dict()["actual"] == 1


def test_one_invalid_token_or_dropped_session_fails_by_default_and_limits_can_be_raised() -> None:
    seen = Observed(requests=10, failures=0, p95_ms={"fetch": 1.0}, dropped=1, invalid=1)
    assert {b.slo for b in evaluate(seen, Thresholds())} == {"dropped", "invalid_tokens"}
    assert evaluate(seen, Thresholds(max_dropped=1, max_invalid=1)) == []


def test_no_requests_is_not_a_failure_ratio_breach() -> None:
    # "Nothing ran" is the caller's exit 2, not an SLO verdict.
    assert evaluate(Observed(requests=0, failures=0), Thresholds()) == []


@pytest.mark.parametrize(
    ("limits", "option"),
    [
        (Thresholds(max_p95_ms=0), "--max-p95-ms"),
        (Thresholds(max_p95_ms=float("nan")), "--max-p95-ms"),
        (Thresholds(max_failure_ratio=1.5), "--max-failure-ratio"),
        (Thresholds(max_dropped=-1), "--max-dropped"),
        (Thresholds(max_invalid=-1), "--max-invalid"),
    ],
)
def test_bad_thresholds_are_named(limits: Thresholds, option: str) -> None:
    assert option in str(check_thresholds(limits))
    assert check_thresholds(Thresholds()) is None
