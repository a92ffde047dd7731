"""Scenario ``fetch_and_renew`` (the default): clients fetch, renew before expiry for N cycles, and leave.

Run it with the harness (``token-conformance load URL``) or with plain Locust,
web UI included::

    locust -f loadtests/fetch_and_renew.py --host http://127.0.0.1:8080 \\
        --expiry 10 --renew-margin 5 --cycles 3 --role-mix publisher=1,subscriber=3

The client, its rows and counters: ``conformance.load.scenario.token_client``; docs/load.md.
"""

from conformance.load.scenario.token_client import TokenClient

__all__ = ["TokenClient"]
