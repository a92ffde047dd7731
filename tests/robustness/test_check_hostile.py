"""``token-conformance check`` against hostile targets: a clear verdict, no traceback, no hang, nothing off-host.

Each target is a raw-socket server on loopback (``hostile``); each run is the real command line in a child
process with a hard guard. A target that does not answer is "could not judge" (exit 2) and the reason is
printed; one that answers wrongly is "not conforming" (exit 1) with the problem in the case messages.

Not repeated here (tests/suite/test_hostile_targets.py has them): a refused port, a non-HTTP port, a silent
server with ``--timeout 2``, a 50 MB body and invalid JSON. Client-level bounds (deadline, size cap,
redirects) are in tests/test_client.py; this file is about the verdict a user gets.

Most runs use ``--timeout 2`` and ``--case ROUTE`` to stay fast; one full run with default options proves
the one-timeout rule: the never-answering target costs one 10 s timeout, not one per case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.contract import REQUIREMENTS
from conformance.reference.app import create_app, demo_settings

from . import hostile
from .hostile import CliRun, HostileServer, run_cli

FAST = ("--timeout", "2", "--case", "ROUTE")


def check(url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> CliRun:
    return run_cli("check", url, *args, report_dir=tmp_path / "reports", env=env)


def assert_could_not_judge(run: CliRun, reason: str) -> None:
    run.assert_clean()
    assert run.exit_code == 2, run.output[-3000:]
    assert reason in run.output, run.output[-3000:]
    doc = run.document()
    assert doc is not None, "no conformance.json for a run that could not judge"
    assert doc["summary"]["verdict"] == "could not judge"
    assert reason in doc["summary"]["reason"]  # the report says why, not only the terminal
    assert set(run.outcomes().values()) == {"not run"}, run.outcomes()


# --- targets that do not answer (usably): exit 2, the reason printed -----------------------------


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (hostile.hang_after_headers, "no complete response within 2 s"),
        (hostile.drip, "no complete response within 2 s"),
        (hostile.reset, "Connection reset by peer"),
    ],
    ids=["hang-after-headers", "drip-1-byte-per-second", "connection-reset"],
)
def test_target_that_does_not_answer_cannot_be_judged(behaviour: hostile.Behaviour, reason: str,
                                                      tmp_path: Path) -> None:
    with HostileServer(behaviour) as server:
        run = check(server.url, tmp_path, *FAST)
    assert_could_not_judge(run, reason)
    assert "does not answer" in run.output
    # The preflight, and the liveness probe (/ping, 3 s at most) that tells a target too slow for the client
    # (LATENCY-1) from one that does not answer: no case waited out the target again.
    assert server.connections <= 2


@pytest.mark.slow
def test_never_answering_target_costs_one_timeout_with_default_options(tmp_path: Path) -> None:
    """The full suite, default options: one 10 s timeout (the preflight, plus a 3 s liveness probe), then exit 2."""
    with HostileServer(hostile.never_answers) as server:
        run = check(server.url, tmp_path)
    assert_could_not_judge(run, "no complete response within 10 s")
    assert len(run.outcomes()) == len(REQUIREMENTS)
    assert server.connections <= 2


def test_target_that_stops_answering_ends_the_run(tmp_path: Path) -> None:
    """Answers the preflight, then never again: the breaker stops the run after one timeout (exit 2)."""
    with HostileServer(hostile.answers_once(hostile.never_answers)) as server:
        run = check(server.url, tmp_path, "--timeout", "2")
    run.assert_clean()
    assert run.exit_code == 2, run.output[-3000:]
    assert "stopped answering: no complete response within 2 s" in run.output
    doc = run.document()
    assert doc is not None and doc["summary"]["verdict"] == "could not judge"
    outcomes = run.outcomes()
    assert "passed" not in outcomes.values() and "failed" not in outcomes.values(), outcomes
    # The first case's requests and the background prefetches started together; nothing after the breaker.
    assert server.connections < 10, f"{server.connections} connections for {len(outcomes)} cases"


def test_off_host_redirect_is_not_followed(tmp_path: Path) -> None:
    if not hostile.other_host_available():
        pytest.skip(f"{hostile.OTHER_HOST} cannot be bound here (not Linux loopback)")
    with hostile.off_host_redirect() as (target, other):
        run = check(target.url, tmp_path, *FAST)
    assert_could_not_judge(run, "redirect to another host not followed")
    assert f"http://{hostile.OTHER_HOST}:{other.port}/" in run.output  # where it pointed, so a user can see
    assert other.connections == 0


# --- targets that answer wrongly: exit 1, the problem in the messages ------------------------------


@pytest.mark.parametrize(
    ("behaviour", "actual"),
    [
        (hostile.endless_body, "bytes+)"),  # cut at the size cap, and the message says so
        (hostile.invalid_utf8, "body is not JSON in 200 application/json"),
        (hostile.empty_200, "body is not JSON in 200 no Content-Type ''"),
    ],
    ids=["endless-body", "invalid-utf8", "empty-200"],
)
def test_target_that_answers_wrongly_is_not_conforming(behaviour: hostile.Behaviour, actual: str,
                                                       tmp_path: Path) -> None:
    with HostileServer(behaviour) as server:
        run = check(server.url, tmp_path, *FAST)
    run.assert_clean()
    assert run.exit_code == 1, run.output[-3000:]
    assert "NOT CONFORMING" in run.output
    doc = run.document()
    assert doc is not None and doc["summary"]["verdict"] == "not conforming"
    outcomes = run.outcomes()
    for case in ("ROUTE-1", "ROUTE-3", "ROUTE-6", "ROUTE-9"):
        assert outcomes[case] == "failed", outcomes
    messages = {c["id"]: c["message"] for c in doc["cases"]}
    assert actual in messages["ROUTE-3"], messages["ROUTE-3"]
    # Whatever bytes came back, the reports are well-formed and bounded (1 MiB cap, quoted in part).
    ET.parse(run.report_dir / "junit.xml")
    assert (run.report_dir / "conformance.html").is_file()
    for name in ("conformance.json", "junit.xml", "conformance.html"):
        assert (run.report_dir / name).stat().st_size < 1024 * 1024, name


# --- TLS with a self-signed certificate -----------------------------------------------------------


@pytest.fixture(scope="module")
def tls_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, certificate) of the reference server behind TLS with a fresh self-signed certificate."""
    pair = hostile.self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if pair is None:
        pytest.skip("neither the cryptography package nor openssl is available to make a certificate")
    settings = demo_settings()
    with hostile.TlsServer(create_app(settings), *pair) as server:
        assert hostile.tls_handshake_fails_unverified(server.url)
        yield server.url, settings.certificate


def test_self_signed_tls_is_refused_without_insecure(tls_target: tuple[str, str], tmp_path: Path) -> None:
    url, _ = tls_target
    run = check(url, tmp_path, *FAST)
    assert_could_not_judge(run, "CERTIFICATE_VERIFY_FAILED")


def test_self_signed_tls_is_judged_with_insecure(tls_target: tuple[str, str], tmp_path: Path) -> None:
    url, certificate = tls_target
    env = hostile.child_environment(TOKEN_SERVER_APP_CERTIFICATE=certificate)
    run = check(url, tmp_path, "--insecure", "--case", "ROUTE-1,ROUTE-6,TOKEN-1,TOKEN-8", env=env)
    run.assert_clean()
    assert run.exit_code == 0, run.output[-3000:]
    assert set(run.outcomes().values()) == {"passed"}, run.outcomes()
