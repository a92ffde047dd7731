"""``token-conformance load`` against hostile targets: a clear verdict, no traceback, no hang, nothing off-host.

``load`` meets a target twice: first its probe (one GET before Locust starts: a target that does not
answer is exit 2 at once), then Locust's clients. Each hostile behaviour is tried where it matters: at the
probe (the target misbehaves from the first request), and behind it (``hostile.after_probe``: the probe
request gets an empty 200, so the load generator itself meets the behaviour).

Each run is the real command line in a child process with a hard guard, 3 users for 3 s.
Expected: exit 2 when no token request could complete (nothing to judge), exit 1 when the target
answers but wrongly (every request fails: the failure-ratio SLO breaks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.reference.app import create_app, demo_settings

from . import hostile
from .hostile import CliRun, HostileServer, run_cli

#: A 3 s token renewed 1.5 s before expiry: a 3 s run renews (a run that cannot renew is refused).
SHORT = ("--run-time", "3s", "--users", "3", "--spawn-rate", "100", "--stop-timeout", "1s",
         "--progress-interval", "0", "--expiry", "3", "--renew-margin", "1.5")  # fmt: skip
#: For runs that end in about 15 s where a regression would hang (a drip, an endless body at the probe):
#: three times that, so the regression costs 45 s, not the default guard.
SHORT_GUARD_S = 45.0


def load(url: str, tmp_path: Path, *args: str, guard: float = hostile.GUARD_S,
         env: dict[str, str] | None = None) -> CliRun:
    return run_cli("load", url, *SHORT, *args, report_dir=tmp_path / "reports", guard=guard, env=env)


def assert_not_reached(run: CliRun, reason: str) -> None:
    """Exit 2 from the probe: the reason printed, Locust never started."""
    run.assert_clean()
    assert run.exit_code == 2, run.output[-3000:]
    assert "cannot reach" in run.output and reason in run.output, run.output[-3000:]
    assert not (run.report_dir / "locust.log").exists()


# --- the probe meets the target ---------------------------------------------------------------


def test_reset_at_the_probe_cannot_be_judged(tmp_path: Path) -> None:
    with HostileServer(hostile.reset) as server:
        run = load(server.url, tmp_path)
    assert_not_reached(run, "Connection reset by peer")
    assert server.connections == 1


@pytest.mark.slow
def test_never_answering_target_cannot_be_judged(tmp_path: Path) -> None:
    with HostileServer(hostile.never_answers) as server:
        run = load(server.url, tmp_path)
    assert_not_reached(run, "no answer within 10 s")
    assert server.connections == 1


@pytest.mark.slow
def test_dripping_target_is_given_up_by_the_probe(tmp_path: Path) -> None:
    """The probe has an overall deadline (--request-timeout), not only per-read timeouts a drip never trips."""
    with HostileServer(hostile.drip) as server:
        run = load(server.url, tmp_path, "--request-timeout", "2", guard=SHORT_GUARD_S)
    assert_not_reached(run, "no answer within 2 s")


@pytest.mark.slow
def test_endless_body_does_not_hold_the_probe(tmp_path: Path) -> None:
    """The probe reads a capped body and goes on; Locust's clients cut every answer at their cap (exit 1)."""
    with HostileServer(hostile.endless_body_slow) as server:
        run = load(server.url, tmp_path, guard=SHORT_GUARD_S)
    run.assert_clean()
    assert (run.report_dir / "locust.log").exists()  # the probe let the run start
    assert run.exit_code == 1, run.output[-3000:]
    assert 'why: "body over' in run.output


def test_off_host_redirect_is_not_followed(tmp_path: Path) -> None:
    if not hostile.other_host_available():
        pytest.skip(f"{hostile.OTHER_HOST} cannot be bound here (not Linux loopback)")
    with hostile.off_host_redirect() as (target, other):
        run = load(target.url, tmp_path)
    run.assert_clean()
    assert other.connections == 0, f"{other.connections} requests followed the redirect to {other.url}"
    assert run.exit_code == 1, run.output[-3000:]  # a redirect is not a token: every request failed
    assert 'why: "HTTP 302"' in run.output


# --- Locust meets the target: it answers, but wrongly (exit 1) ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (hostile.empty_200, "the body is not JSON"),
        (hostile.invalid_utf8, "the body is not JSON"),
        (hostile.invalid_json, "the body is not JSON"),
        (hostile.fifty_megabytes, "body over"),
        (hostile.after_probe(hostile.reset), "no response"),
    ],
    ids=["empty-200", "invalid-utf8", "invalid-json", "50MB-body", "reset-after-probe"],
)
def test_wrong_answers_breach_the_failure_ratio_and_say_why(behaviour: hostile.Behaviour, reason: str,
                                                           tmp_path: Path) -> None:
    with HostileServer(behaviour) as server:
        run = load(server.url, tmp_path)
    run.assert_clean()
    assert run.exit_code == 1, run.output[-3000:]
    assert "SLO breached: failure_ratio" in run.output
    assert f'why: "{reason}' in run.output, run.output[-3000:]
    doc = run.document("load.json")
    assert doc is not None
    assert doc["requests"] > 0 and doc["failures"] == doc["requests"]
    assert sum(doc["failure_reasons"].values()) == doc["failures"]
    assert any(r.startswith(reason) for r in doc["failure_reasons"]), doc["failure_reasons"]
    assert doc["invalid_tokens"] == 0  # no body was taken for a token


#: Bytes one connection may take from an endless body if its client reads with a cap (64 KiB, or even the
#: suite's 1 MiB): the cap plus what the kernel's socket buffers hold on loopback (a few MB). A client
#: without a cap took ~40 MB here.
CAPPED_READ_BYTES = 16 * 1024 * 1024


@pytest.mark.slow
def test_locust_reads_bodies_with_a_size_cap(tmp_path: Path) -> None:
    """Behind the probe, an endless body fed at ~13 MB/s: each client stops reading at its cap."""
    sent: list[int] = []
    with HostileServer(hostile.after_probe(hostile.endless(0.005, sent))) as server:
        run = load(server.url, tmp_path, "--users", "1")
    run.assert_clean()
    assert sent, "no request reached the endless body"
    assert max(sent) < CAPPED_READ_BYTES, f"a client took {max(sent) / 1e6:.0f} MB of an endless body"
    assert run.exit_code == 1, run.output[-3000:]  # an over-cap body is a failed request, named
    assert 'why: "body over' in run.output


# --- Locust meets the target: no request completes (exit 2) -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "behaviour",
    [hostile.drip, hostile.never_answers],
    ids=["drip-1-byte-per-second", "never-answers"],
)
def test_no_request_completes_behind_the_probe(behaviour: hostile.Behaviour, tmp_path: Path) -> None:
    with HostileServer(hostile.after_probe(behaviour)) as server:
        run = load(server.url, tmp_path)
    run.assert_clean()
    assert run.exit_code == 2, run.output[-3000:]
    assert "no token request completed" in run.output
    doc = run.document("load.json")
    assert doc is not None and doc["requests"] == 0


# --- TLS with a self-signed certificate -----------------------------------------------------------


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pair = hostile.self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if pair is None:
        pytest.skip("neither the cryptography package nor openssl is available to make a certificate")
    with hostile.TlsServer(create_app(demo_settings()), *pair) as server:
        yield server.url


def test_self_signed_tls_is_refused_without_insecure(tls_url: str, tmp_path: Path) -> None:
    run = load(tls_url, tmp_path)
    assert_not_reached(run, "CERTIFICATE_VERIFY_FAILED")


def test_self_signed_tls_is_loaded_with_insecure(tls_url: str, tmp_path: Path) -> None:
    run = load(tls_url, tmp_path, "--insecure", "--max-p95-ms", "5000")
    run.assert_clean()
    assert run.exit_code == 0, run.output[-3000:]
