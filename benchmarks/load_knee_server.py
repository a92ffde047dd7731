"""The reference server made slower by a fixed CPU cost per token request, for the capacity-knee benchmark.

Used by ``load_accuracy_bench.py --knee-capacities C,...`` (cost = 1/C minus the app's own). The plain reference server answers 4,300-4,900 tokens/s
on one core here, more than one Locust process can send while validating every token (about 3,200/s): against
it ``capacity`` rightly reports the generator's limit, not a knee. Spinning ``X`` ms of CPU inside every token
answer (the event loop blocked, as a server signing with a slow key library would be) brings the server's
saturation into the range one generator process can drive, so the knee can be compared with wrk's rate for the
same server. Prints its URL on the first line of stdout; loopback only; runs until killed.

    python benchmarks/load_knee_server.py COST_MS
"""

from __future__ import annotations

import socket
import sys
import time
from typing import Any

import uvicorn

from conformance.reference.app import create_app, demo_settings


def costly(app: Any, cost_s: float) -> Any:
    """``app`` with ``cost_s`` of busy CPU before every token request (not /ping): a fixed service time."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(("/rtc/", "/rtm/", "/rte/")):
            until = time.perf_counter() + cost_s
            while time.perf_counter() < until:
                pass
        await app(scope, receive, send)

    return wrapped


def main() -> None:
    cost_ms = float(sys.argv[1]) if len(sys.argv) > 1 else 0.6
    sock = socket.socket()
    # Accepted sockets inherit it: without, a keep-alive answer waits ~40 ms on Nagle against delayed ACKs
    # (wrk measured 23 requests/s per connection), as the reference server's own listener already knows.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(costly(create_app(demo_settings()), cost_ms / 1000.0), log_level="warning",
                            access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
