"""``fetch_and_renew``'s client at a fixed pace, for ``load_generator_bench.py``.

Identical to the scenario's TokenClient (same requests, same checks), except
that each client sends ``BENCH_USER_RATE`` requests per second instead of
renewing when its token asks: at equal request rates, the generator's CPU use of
this and of the bare GET differ only by the per-request cost of the checks.
Without BENCH_USER_RATE the client runs closed loop (with ``--renew-margin``
equal to ``--expiry`` it renews as soon as it holds a token).
"""

from __future__ import annotations

import os

from locust import constant_throughput

from conformance.load.scenario import token_client  # the module, not the class: Locust must see only PacedClient


class PacedClient(token_client.TokenClient):
    if os.environ.get("BENCH_USER_RATE"):
        wait_time = constant_throughput(float(os.environ["BENCH_USER_RATE"]))
