"""Scenario ``renew_storm``: clients join in cohorts, all of a cohort in the same instant.

Clients that joined together renew together (client-behaviour.md 7): every
client of a cohort fetched its token in the same second, so its renewals land
in the same second too, one ``expiry - margin`` apart, in waves. This shape
spawns ``-u`` users in ``--cohorts`` equal cohorts, ``--cohort-interval``
seconds apart, each at once, and keeps them until ``--run-time``. The waves
show in the request-rate plot; p95 then measures the server *during* bursts.

    locust -f loadtests/renew_storm.py --host URL --headless -u 200 -t 60s \\
        --expiry 10 --renew-margin 5 --cohorts 2 --cohort-interval 2.5
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape, events

from conformance.load.scenario.options import add_renew_storm_options
from conformance.load.scenario.run_state import STATE
from conformance.load.scenario.token_client import TokenClient

__all__ = ["RenewStorm", "StormClient"]


class StormClient(TokenClient):
    """The same client, started at once and renewing on the second: a cohort's renewals land together."""

    start_spread = False
    phase_spread = False

#: Spawn rate that puts a whole cohort in within one dispatch step (users per second).
AT_ONCE = 1_000_000.0


events.init_command_line_parser.add_listener(add_renew_storm_options)


class RenewStorm(LoadTestShape):
    """``-u`` users in ``--cohorts`` cohorts; stops at ``--run-time`` (or after a few cycles without one)."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        options: Any = self.runner.environment.parsed_options
        users = max(int(options.num_users or 1), 1)
        cohorts = max(1, min(int(options.cohorts), users))
        expiry, margin = float(options.expiry), float(options.renew_margin)
        period = max(expiry - margin, 1.0)
        interval = float(options.cohort_interval) or period / cohorts
        elapsed = self.get_run_time()
        limit = options.run_time or (cohorts - 1) * interval + period * (int(options.cycles) + 1)
        if elapsed >= limit:
            return None
        joined = min(cohorts, 1 + int(elapsed // interval))
        STATE.extra = {
            **(STATE.extra or {}),
            "storm": {"cohorts": cohorts, "cohort_interval_s": interval, "renewal_period_s": period},
        }
        return round(users * joined / cohorts), AT_ONCE
