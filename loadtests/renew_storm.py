"""Scenario ``renew_storm``: clients join in cohorts, all of a cohort in the same instant, and renew in waves.

    locust -f loadtests/renew_storm.py --host URL --headless -u 200 -t 60s \\
        --expiry 10 --renew-margin 5 --cohorts 2 --cohort-interval 2.5

The client and the shape: ``conformance.load.scenario.renew_storm``; docs/load.md.
"""

from conformance.load.scenario.renew_storm import RenewStorm, StormClient

__all__ = ["RenewStorm", "StormClient"]
