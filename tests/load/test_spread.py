"""Clients that start spread out, counted where it matters: at the server.

Locust runs a user's first task before its first wait, so a start delay set in the constructor was never used:
100 clients spawned at once all fetched in the first second and renewed in waves. Here a loopback server records
when each token request reaches it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conformance.cli import main

from . import faulty
from .outcomes import held


@pytest.mark.slow
def test_one_hundred_clients_spawned_at_once_reach_the_server_spread_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """100 clients, all spawned within a second (--spawn-rate 100), 20 s tokens renewed 5 s early: each client's
    first fetch falls at a random point of its first 15 s renewal period, so no second of the run holds more
    than a quarter of the clients' requests (it held 37 before, and all 100 within two seconds). The run is
    bounded at 22 s: every client fetches, and the early ones renew."""
    recorded: list[list[float]] = []

    def wrap(app: faulty.ASGIApp) -> faulty.ASGIApp:
        wrapped, times = faulty.arrivals(app)
        recorded.append(times)
        return wrapped

    with faulty.serving(wrap) as (url, _settings):
        code = main(["load", url, "--report-dir", str(tmp_path), "--users", "100", "--spawn-rate", "100",
                     "--expiry", "20", "--renew-margin", "5", "--run-time", "22s", "--stop-timeout", "1s",
                     "--progress-interval", "0", "--max-p95-ms", "2000"])  # fmt: skip
        times = sorted(recorded[0])[1:]  # the first is the CLI's probe, sent before Locust starts
    err = capsys.readouterr().err
    doc = json.loads((tmp_path / "load.json").read_text())
    assert held(code, doc), err
    per_second = Counter(int(t - min(times)) for t in times)
    assert doc["fetch"]["requests"] >= 90 and doc["renew"]["requests"] >= 10, (doc["fetch"], doc["renew"])
    assert max(per_second.values()) <= 25, sorted(per_second.items())
    # The first fetches themselves are spread: the first two seconds hold a small share of the 100.
    assert per_second[0] + per_second[1] <= 30, sorted(per_second.items())
    # ... over most of the renewal period (15 s), not bunched at its start.
    assert len([s for s in per_second if s < 15]) >= 12, sorted(per_second.items())
