"""Plain ``locust -f loadtests/...`` (no token-conformance CLI) refuses the SLOs ``load`` refuses, and says why it
exits non-zero (conformance.load.scenario.options.scenario_config, listeners._on_quitting)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conformance.load.protocol import CERTIFICATE_ENV
from conformance.load.runner import scenario_path

from .. import faulty


def locust(*args: str, certificate: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    if certificate:
        env[CERTIFICATE_ENV] = certificate
    command = [sys.executable, "-m", "locust", "-f", str(scenario_path("fetch_and_renew")), "--headless",
               "--only-summary", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (("--slo-p95-ms", "-1"), "--slo-p95-ms must be a number > 0"),
        (("--slo-failure-ratio", "5"), "--slo-failure-ratio must be between 0 and 1"),
        (("--slo-dropped", "-1"), "--slo-dropped must be >= 0"),
    ],
)
def test_a_bad_slo_is_refused_before_the_run(given: tuple[str, ...], said: str) -> None:
    # No server: the options are refused at init, before any request.
    result = locust("--host", "http://127.0.0.1:9", "-u", "1", "-r", "1", "--run-time", "3s", *given)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"token-conformance scenario: {said}" in result.stderr


def test_a_breached_slo_says_which() -> None:
    # A failure ratio, not a latency: a latency breach on a busy machine may be the generator's (then exit 2).
    with faulty.serving(lambda app: faulty.flaky(app, every=3)) as (url, settings):
        result = locust("--host", url, "-u", "2", "-r", "2", "--run-time", "8s", "--expiry", "6", "--renew-margin",
                        "3", "--slo-failure-ratio", "0", certificate=settings.certificate)
    assert result.returncode == 1, result.stderr[-2000:]
    line = next(x for x in result.stderr.splitlines() if x.startswith("token-conformance scenario: exit 1:"))
    assert "failed" in line, line
