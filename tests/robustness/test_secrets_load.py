"""The app certificate never leaves a ``load`` run: not on the wire, not on the terminal, not in any report.

``load`` is given a known certificate (a file, or the environment) and runs against a server that echoes
every request back and quotes the certificate itself in every place a client may repeat it (the token,
error bodies, a header). The certificate must then appear in none of: the terminal output, load.json,
load.html, Locust's HTML, CSV and log files, the plots; and the server must never receive it. A run
against the reference server with the same certificate shows it is really used (signatures checked).

``check`` is covered by tests/plugin/test_plugin.py (a leaky server, every report of a check run).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.reference.app import Settings, create_app
from conformance.reference.threaded import ThreadedServer

from . import hostile
from .hostile import CliRun, HostileServer, run_cli

SHORT = ("--run-time", "3s", "--users", "3", "--spawn-rate", "100", "--stop-timeout", "1s",
         "--progress-interval", "1", "--expiry", "3", "--renew-margin", "1.5", "--cycles", "2")  # fmt: skip


@pytest.fixture
def certificate() -> str:
    return secrets.token_hex(16)


def everything_written(run: CliRun) -> dict[str, bytes]:
    """The run's terminal output and every file it left in its report folder, as bytes."""
    found = {"terminal": run.output.encode("utf-8", "replace")}
    for path in sorted(run.report_dir.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(run.report_dir))] = path.read_bytes()
    return found


def assert_nowhere(secret: str, texts: dict[str, bytes]) -> None:
    needle = secret.lower().encode()
    leaked = [name for name, data in texts.items() if needle in data.lower()]
    assert not leaked, f"the certificate appears in: {', '.join(leaked)}"


@pytest.fixture
def leaky(certificate: str) -> Iterator[tuple[str, list[bytes]]]:
    seen: list[bytes] = []
    with HostileServer(hostile.leaky_echo(certificate, seen)) as server:
        yield server.url, seen


@pytest.mark.slow
def test_certificate_file_never_leaks_from_a_run_against_a_leaky_echo_server(
    leaky: tuple[str, list[bytes]], certificate: str, tmp_path: Path
) -> None:
    url, seen = leaky
    cert_file = tmp_path / "certificate"
    cert_file.write_text(certificate + "\n", encoding="utf-8")
    run = run_cli("load", url, *SHORT, "--certificate-file", str(cert_file), report_dir=tmp_path / "reports")
    run.assert_clean()
    assert run.exit_code == 1, run.output[-3000:]  # every request fails or carries no valid token
    written = everything_written(run)
    assert {"load.json", "load.html", "locust.html", "locust_stats.csv", "locust_failures.csv",
            "locust.log"} <= set(written), sorted(written)
    assert_nowhere(certificate, written)
    assert seen, "the server received nothing"
    assert_nowhere(certificate, {f"request {n}": r for n, r in enumerate(seen)})


@pytest.mark.slow
def test_certificate_from_the_environment_never_leaks(
    leaky: tuple[str, list[bytes]], certificate: str, tmp_path: Path
) -> None:
    url, seen = leaky
    env = hostile.child_environment(TOKEN_SERVER_APP_CERTIFICATE=certificate)
    run = run_cli("load", url, *SHORT, report_dir=tmp_path / "reports", env=env)
    run.assert_clean()
    assert run.exit_code == 1, run.output[-3000:]
    assert_nowhere(certificate, everything_written(run))
    assert_nowhere(certificate, {f"request {n}": r for n, r in enumerate(seen)})


@pytest.mark.slow
def test_certificate_used_for_signatures_never_leaks(certificate: str, tmp_path: Path) -> None:
    """Against the reference server the certificate verifies every token, and still appears nowhere."""
    settings = Settings(app_id=secrets.token_hex(16), certificate=certificate)
    cert_file = tmp_path / "certificate"
    cert_file.write_text(certificate, encoding="utf-8")
    with ThreadedServer(create_app(settings)) as server:
        run = run_cli("load", server.url, *SHORT, "--certificate-file", str(cert_file), "--app-id",
                      settings.app_id, "--max-p95-ms", "5000", report_dir=tmp_path / "reports")
    run.assert_clean()
    doc = run.document("load.json")
    # 0; or 2 when the machine left the generator no core (it then refuses a latency verdict, docs/load.md).
    generator_bound = doc is not None and doc["generator"]["bound"] and run.exit_code == 2
    assert run.exit_code == 0 or generator_bound, run.output[-3000:]
    assert doc is not None and doc["options"]["signature_checked"] is True and doc["invalid_tokens"] == 0
    assert doc["requests"] > 0
    assert_nowhere(certificate, everything_written(run))


def fragments(secret: str, size: int) -> set[bytes]:
    return {secret[i:i + size].lower().encode() for i in range(len(secret) - size + 1)}


@pytest.mark.slow
def test_no_fragment_of_the_certificate_is_quoted(
    leaky: tuple[str, list[bytes]], certificate: str, tmp_path: Path
) -> None:
    """A server that answers its certificate as the token: not even part of it is quoted back (an example
    of an undecodable token once quoted its first 12 characters, and the redactor matches whole secrets)."""
    url, _seen = leaky
    env = hostile.child_environment(TOKEN_SERVER_APP_CERTIFICATE=certificate)
    run = run_cli("load", url, *SHORT, report_dir=tmp_path / "reports", env=env)
    run.assert_clean()
    doc = run.document("load.json")
    assert doc is not None and doc["invalid_reasons"].get("undecodable", 0) > 0  # the secret came as a token
    windows = fragments(certificate, 12)
    leaked = sorted(name for name, data in everything_written(run).items()
                    if any(w in data.lower() for w in windows))
    assert not leaked, f"12 characters of the certificate appear in: {', '.join(leaked)}"
