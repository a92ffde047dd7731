"""``token-conformance serve`` as a user runs it: a real process, real HTTP, Ctrl-C, and no secret in its output."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conformance.cli import main
from conformance.tokens import decode, verify

SERVE = [sys.executable, "-m", "conformance", "serve"]
APP_ID = secrets.token_hex(16)
CERT = secrets.token_hex(16)


def _env(**pair: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APP_ID", "APP_CERTIFICATE")}
    env.update(pair)
    return env


@dataclass
class Run:
    url: str
    process: subprocess.Popen[str]
    stdout: str = ""
    stderr: str = ""


@contextmanager
def serving(env: dict[str, str], *args: str, stop: signal.Signals = signal.SIGINT) -> Iterator[Run]:
    """``serve --port 0 ...`` until the block ends, then Ctrl-C (or ``stop``); the output is on the Run afterwards."""
    process = subprocess.Popen(
        [*SERVE, "--port", "0", *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    run = Run(url="", process=process)
    try:
        first = process.stdout.readline() if process.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert match, f"no URL in the first line of output: {first!r}"
        run.url = match.group(0)
        yield run
        process.send_signal(stop)
        process.wait(timeout=15)  # its output is a few lines: the pipes cannot fill up meanwhile
        assert process.stdout and process.stderr
        run.stdout, run.stderr = first + process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:  # SIGTERM first: with --workers the supervisor then stops its workers
            process.terminate()
            try:
                process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def fetch(url: str, path: str) -> httpx.Response:
    """GET with retries while the server finishes starting (the URL is printed just before uvicorn runs)."""
    for _ in range(200):
        try:
            return httpx.get(url + path, timeout=5)
        except httpx.ConnectError:
            pass
    raise AssertionError(f"{url} never answered")


def test_serves_verifiable_tokens_with_the_pair_from_the_environment() -> None:
    with serving(_env(APP_ID=APP_ID, APP_CERTIFICATE=CERT)) as run:
        response = fetch(run.url, "/rtc/my-channel/publisher/uid/42/?expiry=600")
        assert response.status_code == 200
        token = response.json()["rtcToken"]
        assert verify(token, CERT)
        decoded = decode(token)
        assert decoded.app_id == APP_ID and decoded.lifetime == 600
        assert decoded.rtc is not None and (decoded.rtc.channel, decoded.rtc.uid) == ("my-channel", "42")
    assert run.process.returncode == 0
    assert f"curl '{run.url}/rtc/" in run.stdout
    assert CERT not in (run.stdout + run.stderr).lower()
    assert "Traceback" not in run.stderr
    assert "demo" not in run.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_the_server_as_cleanly_as_ctrl_c(workers: str) -> None:
    # What a service manager or `docker stop` sends: a graceful stop, exit 0, not death by the signal (143).
    with serving(_env(APP_ID=APP_ID, APP_CERTIFICATE=CERT), "--workers", workers, stop=signal.SIGTERM) as run:
        assert fetch(run.url, "/rtm/bob/").status_code == 200
    assert run.process.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.rstrip().endswith("stopped")
    host, port = run.url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0  # nothing listens any more


def test_several_workers_share_the_pair() -> None:
    with serving(_env(APP_ID=APP_ID, APP_CERTIFICATE=CERT), "--workers", "2") as run:
        tokens = [fetch(run.url, "/rtm/bob/").json()["rtmToken"] for _ in range(4)]
        assert all(verify(t, CERT) for t in tokens)
    assert run.process.returncode == 0
    assert "2 workers" in run.stdout
    assert CERT not in (run.stdout + run.stderr).lower()


def test_demo_pair_shows_the_app_id_and_writes_the_certificate_only_to_a_private_file(tmp_path: Path) -> None:
    cert_file = tmp_path / "demo-cert"
    cert_file.write_text("an older, longer, world-readable file\n")
    cert_file.chmod(0o644)
    with serving(_env(), "--certificate-file", str(cert_file)) as run:
        token = fetch(run.url, "/rtc/c/subscriber/userAccount/alice/").json()["rtcToken"]
    certificate = cert_file.read_text().strip()
    app_id = decode(token).app_id
    assert verify(token, certificate)
    assert stat.S_IMODE(cert_file.stat().st_mode) == 0o600
    assert app_id in run.stderr and "not shown" in run.stderr and "APP_CERTIFICATE" in run.stderr
    assert certificate not in (run.stdout + run.stderr).lower()
    assert run.process.returncode == 0
    # The file is what `decode` reads to verify the demo tokens.
    decoded = subprocess.run(
        [sys.executable, "-m", "conformance", "decode", "--certificate-file", str(cert_file), token],
        env=_env(), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert json.loads(decoded.stdout)["signature"] == "valid"


def test_demo_pair_without_a_file_still_hides_the_certificate() -> None:
    with serving(_env()) as run:
        token = fetch(run.url, "/rtm/bob/").json()["rtmToken"]
    assert decode(token).app_id in run.stderr
    assert "--certificate-file" in run.stderr and "not shown" in run.stderr


def _fails(env: dict[str, str], *args: str) -> str:
    """Run the real command expecting a usage error: exit 2 and exactly one line on stderr, returned."""
    result = subprocess.run([*SERVE, *args], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("token-conformance serve: error: ")
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_port_in_use_is_a_one_line_error(taken_port: int) -> None:
    line = _fails(_env(APP_ID=APP_ID, APP_CERTIFICATE=CERT), "--port", str(taken_port))
    assert f"127.0.0.1:{taken_port}" in line and "in use" in line


def test_a_bad_pair_is_a_one_line_error_from_the_real_command() -> None:
    assert "APP_CERTIFICATE is not 32 hexadecimal" in _fails(_env(APP_ID=APP_ID, APP_CERTIFICATE="xyz"), "--port", "0")


# The remaining usage errors are raised before anything starts, so they run in-process (fast).


def _usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pair: dict[str, str], *args: str
) -> str:
    monkeypatch.delenv("APP_ID", raising=False)
    monkeypatch.delenv("APP_CERTIFICATE", raising=False)
    for name, value in pair.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("token-conformance serve: error: "), err
    return lines[0]


OWN_PAIR = {"APP_ID": APP_ID, "APP_CERTIFICATE": CERT}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--port", "99999"), "--port must be an integer from 0 to 65535"),
        (("--port", "http"), "--port"),
        (("--port", "-1"), "--port"),
        (("--port", "８０"), "--port"),
        (("--workers", "0"), "--workers must be an integer from 1"),
        (("--workers", "two"), "--workers"),
        (("--host", "no-such-host.invalid", "--port", "0"), "no-such-host.invalid"),
    ],
)
def test_bad_options_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    assert needle in _usage_error(monkeypatch, capsys, OWN_PAIR, *args)


@pytest.mark.parametrize(
    ("pair", "needle"),
    [
        ({"APP_ID": APP_ID}, "APP_ID is set but APP_CERTIFICATE is not"),
        ({"APP_CERTIFICATE": CERT}, "APP_CERTIFICATE is set but APP_ID is not"),
        ({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT[:-1]}, "APP_CERTIFICATE is not 32 hexadecimal"),
        ({"APP_ID": "my-app", "APP_CERTIFICATE": CERT}, "APP_ID is not 32 hexadecimal"),
    ],
)
def test_partial_or_malformed_pair_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pair: dict[str, str], needle: str
) -> None:
    line = _usage_error(monkeypatch, capsys, pair, "--port", "0")
    assert needle in line
    assert CERT[:-1] not in line


def test_certificate_file_needs_a_demo_pair(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = _usage_error(monkeypatch, capsys, OWN_PAIR, "--port", "0", "--certificate-file", str(tmp_path / "c"))
    assert "--certificate-file" in line
    assert not (tmp_path / "c").exists()
