"""The yardstick of ``load_generator_bench.py``: a bare FastHttpUser GET of the token route.

Same route, same path shape and the same one-path-per-client habit as the
``fetch_and_renew`` scenario in closed loop, but nothing is done with the
answer: no JSON parsing, no decoding, no checks. The rate it reaches is what
the generator can do when it does nothing but send requests.

At exit it writes {"requests", "failures", "rps", "per_second"} to the file named by
BENCH_SUMMARY_FILE (the benchmark's only way to read a Locust child).
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task

from conformance.profiles import load_profile

PROFILE = load_profile("agora-token-service")


class BareGet(FastHttpUser):
    # Closed loop, or BENCH_USER_RATE requests per second per client (equal-rate CPU comparison).
    wait_time = (
        constant_throughput(float(os.environ["BENCH_USER_RATE"])) if os.environ.get("BENCH_USER_RATE") else constant(0)
    )

    def on_start(self) -> None:
        rng = random.Random()
        tokentype = rng.choice(PROFILE.token_types)
        uid = str(rng.randint(1, 2**32 - 1)) if tokentype == "uid" else f"user-{rng.getrandbits(48):012x}"
        role = rng.choice(("publisher", "subscriber"))
        self.path = PROFILE.rtc_path(f"load-{rng.getrandbits(40):010x}", role, tokentype, uid) + "?expiry=60"
        self.route = PROFILE.routes["rtc"]

    @task
    def get(self) -> None:
        self.client.get(self.path, name=self.route)


@events.quitting.add_listener
def _write(environment: Any, **_kwargs: Any) -> None:
    path = os.environ.get("BENCH_SUMMARY_FILE")
    if path:
        total = environment.stats.total
        data = {
            "requests": total.num_requests,
            "failures": total.num_failures,
            "rps": total.total_rps,
            "per_second": {str(k): v for k, v in total.num_reqs_per_sec.items()},
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
