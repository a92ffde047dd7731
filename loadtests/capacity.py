"""Scenario ``capacity``: an open model — token requests arrive at a target rate until the server's knee is found.

    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 150s
    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 120s \\
        --start-rate 200 --step-rate 200 --max-rate 4000 --step-time 10

The arrival loop: ``conformance.load.scenario.arrivals``; the plan and the shape: ``conformance.load.scenario.capacity``;
docs/load.md.
"""

from conformance.load.scenario.arrivals import ArrivalClient
from conformance.load.scenario.capacity import Capacity

__all__ = ["ArrivalClient", "Capacity"]
