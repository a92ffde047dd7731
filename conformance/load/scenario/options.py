"""The scenario's Locust options: what ``locust -f loadtests/...`` takes, and the configuration read from them.

Plain functions: common.py registers :func:`add_scenario_options` with Locust's ``init_command_line_parser``
(every scenario), capacity.py :func:`add_capacity_options` (the capacity scenario alone), so
``locust -f loadtests/fetch_and_renew.py --help`` shows no capacity rates.
"""

from __future__ import annotations

import os
from typing import Any

from conformance.load.protocol import CERTIFICATE_ENV
from conformance.load.scenario.capacity_plan import LinearPlan, SearchPlan, plan_from
from conformance.load.scenario.validation import ScenarioConfig, build_config
from conformance.load.slo import Thresholds


def add_scenario_options(parser: Any) -> None:
    """The scenario options; defaults suit a run of seconds (see docs/load.md for real-life values)."""
    add = parser.add_argument
    add("--expiry", type=int, default=10, help="token lifetime to ask for (?expiry=N), seconds")
    add("--renew-margin", type=float, default=5.0, help="renew this many seconds before the token expires")
    add("--cycles", type=int, default=3, help="renewals per session before the client leaves (and a new one joins)")
    add("--role-mix", default="publisher=1,subscriber=1", help="weights of the roles, e.g. publisher=1,subscriber=3")
    add("--tokentype-mix", default="", help="weights of the token types, e.g. uid=3,userAccount=1 (default: all)")
    # Not --profile: Locust (>= 2.36) has its own --profile option.
    add("--token-profile", default="agora-token-service", help="server profile: bundled name or JSON file")
    add("--app-id", default="", help="expected app id of every token (32 hex characters); empty: not checked")
    add("--expiry-tolerance", type=float, default=2.0, help="seconds a token's expiry may differ from the asked one")
    add("--strict-roles", action="store_true", default=False, help="a subscriber token must not carry publish rights")
    add("--request-timeout", type=float, default=10.0, help="client timeout per request, seconds (the SDK's is 10)")
    add("--retry-interval", type=float, default=1.0, help="seconds between attempts after a failed fetch or renewal")
    add("--insecure", action="store_true", default=False, help="do not verify the server's TLS certificate")
    add("--progress-interval", type=float, default=0.0, help="print a progress line every N seconds (0: never)")
    add("--slo-p95-ms", type=float, default=500.0, help="SLO: p95 latency of FETCH and of RENEW, ms")
    add("--slo-failure-ratio", type=float, default=0.01, help="SLO: largest share of failed token requests")
    add("--slo-dropped", type=int, default=0, help="SLO: largest number of dropped sessions")
    add("--slo-invalid", type=int, default=0, help="SLO: largest number of invalid tokens")
    add("--slo-limited-ratio", type=float, default=1.0,
        help="SLO: largest share of token requests answered 429 / 503 + Retry-After (default 1: not gated)")
    add("--summary-file", default="", include_in_web_ui=False, help="write the run summary (JSON) here at exit")


def scenario_config(options: Any) -> ScenarioConfig:
    """The checked configuration from Locust's parsed options; the certificate from the environment only."""
    return build_config(vars(options), certificate=os.environ.get(CERTIFICATE_ENV, "").strip() or None)


def thresholds(options: Any) -> Thresholds:
    return Thresholds(
        max_p95_ms=float(options.slo_p95_ms),
        max_failure_ratio=float(options.slo_failure_ratio),
        max_dropped=int(options.slo_dropped),
        max_invalid=int(options.slo_invalid),
        max_limited_ratio=float(getattr(options, "slo_limited_ratio", 1.0)),
    )


def add_capacity_options(parser: Any) -> None:
    parser.add_argument("--start-rate", type=float, default=0.0, help="capacity: requests/s of the first step (0: 50)")
    parser.add_argument("--step-rate", type=float, default=0.0,
                        help="capacity: requests/s added per step: the linear plan (0: the search, doubling then "
                             "bisecting to the knee)")
    parser.add_argument("--max-rate", type=float, default=0.0,
                        help="capacity: highest rate tried (0: 1000 for the linear plan, 100000 for the search)")
    parser.add_argument("--step-time", type=float, default=0.0,
                        help="capacity: seconds per step (0: 5 for the search, 10 for the linear plan)")


def plan_of(options: Any) -> LinearPlan | SearchPlan:
    return plan_from(options.start_rate, options.step_rate, options.max_rate, options.step_time)
