"""Scenario ``ramp``: step the users up until an SLO breaks, and report the knee.

    locust -f loadtests/ramp.py --host URL --headless -u 500 -r 50 -t 120s \\
        --step-users 50 --step-time 10 --slo-p95-ms 200

The shape: ``conformance.load.scenario.ramp``; docs/load.md.
"""

from conformance.load.scenario.ramp import Ramp, TokenClient

__all__ = ["Ramp", "TokenClient"]
