"""Service-level objectives of a load run, and the verdict against them.

One function decides, used in two places: by ``token-conformance load`` on the
collected results, and inside the Locust process (the ramp scenario judges each
step with it; any scenario sets Locust's exit code with it), so a run judged by
the CLI and the same run under plain ``locust`` can never disagree.

Defaults follow what a client needs (client-behaviour.md): an invalid token or
a dropped session is a failure at any count, unless the user raises the limit;
latency is judged on the 95th percentile, per kind of request, because renewals
arrive in bursts and must stay fast when they do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..settings.declarations import option, problem
from ..settings.load_options import (
    DEFAULT_MAX_DROPPED,
    DEFAULT_MAX_FAILURE_RATIO,
    DEFAULT_MAX_INVALID,
    DEFAULT_MAX_LIMITED_RATIO,
    DEFAULT_MAX_P95_MS,
    SLO_KEYS,
)


@dataclass(frozen=True)
class Thresholds:
    """The SLOs; the fields are the options' keys (``--max-p95-ms``: max_p95_ms), the defaults theirs."""

    max_p95_ms: float = DEFAULT_MAX_P95_MS
    max_failure_ratio: float = DEFAULT_MAX_FAILURE_RATIO
    max_dropped: int = DEFAULT_MAX_DROPPED
    max_invalid: int = DEFAULT_MAX_INVALID
    #: Largest share of token requests a rate limiter answered (429 / 503 + Retry-After); 1.0: not gated.
    max_limited_ratio: float = DEFAULT_MAX_LIMITED_RATIO

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Observed:
    """What a run (or one step of a ramp) measured."""

    #: HTTP token requests (fetches + renewals) and how many of them failed.
    requests: int
    failures: int
    #: 95th percentile per kind of request ("fetch", "renew"); None when there was none of that kind.
    p95_ms: dict[str, float | None] = field(default_factory=dict)
    dropped: int = 0
    invalid: int = 0
    #: Answers of a rate limiter (429, 503 + Retry-After): neither failures nor latency samples.
    limited: int = 0

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Breach:
    """One objective that did not hold: its name, the limit, the measured value, a sentence."""

    slo: str
    limit: float
    actual: float
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"slo": self.slo, "limit": self.limit, "actual": self.actual, "message": self.message}


def evaluate(observed: Observed, thresholds: Thresholds) -> list[Breach]:
    """Every objective that did not hold (an empty list means the SLOs held)."""
    breaches: list[Breach] = []
    for kind, p95 in observed.p95_ms.items():
        if p95 is not None and p95 > thresholds.max_p95_ms:
            breaches.append(
                Breach(
                    f"{kind}_p95_ms",
                    thresholds.max_p95_ms,
                    p95,
                    f"{kind} p95 latency {p95:g} ms exceeds {thresholds.max_p95_ms:g} ms",
                )
            )
    ratio = observed.failure_ratio
    if observed.requests and ratio > thresholds.max_failure_ratio:
        breaches.append(
            Breach(
                "failure_ratio",
                thresholds.max_failure_ratio,
                round(ratio, 6),
                f"{observed.failures} of {observed.requests} token requests failed "
                f"({ratio:.2%} > {thresholds.max_failure_ratio:.2%})",
            )
        )
    attempts = observed.requests + observed.limited
    if observed.limited and attempts and observed.limited / attempts > thresholds.max_limited_ratio:
        share = observed.limited / attempts
        breaches.append(
            Breach(
                "limited_ratio",
                thresholds.max_limited_ratio,
                round(share, 6),
                f"{observed.limited} of {attempts} token requests were rate limited "
                f"({share:.2%} > {thresholds.max_limited_ratio:.2%})",
            )
        )
    if observed.invalid > thresholds.max_invalid:
        breaches.append(
            Breach(
                "invalid_tokens",
                thresholds.max_invalid,
                observed.invalid,
                f"{observed.invalid} invalid tokens (limit {thresholds.max_invalid})",
            )
        )
    if observed.dropped > thresholds.max_dropped:
        breaches.append(
            Breach(
                "dropped",
                thresholds.max_dropped,
                observed.dropped,
                f"{observed.dropped} dropped sessions: renewals that brought no valid token before the "
                f"previous one expired (limit {thresholds.max_dropped})",
            )
        )
    return breaches


def check_thresholds(thresholds: Thresholds, *, locust: bool = False) -> str | None:
    """What is wrong with the thresholds (a message naming the option: load's flag, or ``locust``: the Locust
    scenario's), or None. The rules are the options' declared ones (conformance/settings/load_options.py)."""
    for key in SLO_KEYS:
        reason = problem(key, getattr(thresholds, key))
        if reason is not None:
            declared = option(key)
            return f"{declared.locust_flag if locust else declared.flags[0]} {reason}"
    return None
