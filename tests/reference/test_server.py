"""ReferenceServer: the embedded server ``check`` and ``load`` start, in a thread or as uvicorn workers."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from conformance.reference.app import Settings
from conformance.reference.server import ReferenceServer
from conformance.tokens import decode, verify


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def _parent_pid(proc_dir: Path) -> int | None:
    stat = _read(proc_dir / "stat")
    return int(stat.rsplit(b")", 1)[1].split()[1]) if stat else None


def fetch_rtc(url: str) -> str:
    response = httpx.get(f"{url}/rtc/c/publisher/uid/9/", params={"expiry": 60})
    assert response.status_code == 200, response.text
    token: str = response.json()["rtcToken"]
    return token


def test_default_is_a_demo_pair_in_a_thread() -> None:
    with ReferenceServer() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/ping").json() == {"message": "pong"}
        token = fetch_rtc(server.url)
        assert decode(token).app_id == server.settings.app_id
        assert verify(token, server.settings.certificate)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ping")


def test_given_settings_and_expiry_policy_are_used() -> None:
    settings = Settings(secrets.token_hex(16), secrets.token_hex(16), default_expiry=30, max_expiry=60)
    with ReferenceServer(settings) as server:
        assert server.settings is settings
        token = httpx.get(f"{server.url}/rtm/bob/").json()["rtmToken"]
        assert decode(token).lifetime == 30
        assert verify(token, settings.certificate)
        assert httpx.get(f"{server.url}/rtm/bob/?expiry=61").status_code == 400


def test_url_needs_a_started_server() -> None:
    server = ReferenceServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"workers": 0}, "at least 1"),
        (
            {"workers": 2, "settings": Settings(secrets.token_hex(16), secrets.token_hex(16), default_expiry=60, max_expiry=600)},
            "workers=1",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ReferenceServer(**kwargs)  # type: ignore[arg-type]


def test_workers_run_as_a_uvicorn_child_with_the_secret_in_its_environment_only() -> None:
    server = ReferenceServer(workers=2)
    try:
        server.start()
        process = server._process
        assert process is not None
        argv = " ".join(map(str, process.args))  # type: ignore[arg-type]
        assert "conformance.reference.server" in argv
        assert server.settings.certificate not in argv
        tokens = [fetch_rtc(server.url) for _ in range(4)]
        assert all(verify(t, server.settings.certificate) for t in tokens)
        assert {decode(t).app_id for t in tokens} == {server.settings.app_id}
        if Path("/proc/self/stat").exists():  # Linux: the child supervises two spawned worker processes
            children = [p for p in Path("/proc").glob("[0-9]*") if _parent_pid(p) == process.pid]
            workers = [p for p in children if b"spawn_main" in _read(p / "cmdline")]
            assert len(workers) == 2
    finally:
        server.stop()
    assert process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/ping")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_fails_at_once(workers: int) -> None:
    with ReferenceServer() as first:
        second = ReferenceServer(port=first.port, workers=workers)
        with pytest.raises(OSError):
            second.start()
        assert second._process is None and second._threaded is None


def test_a_child_that_cannot_start_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("conformance.reference.server.FACTORY", "conformance.reference.app:no_such_factory")
    server = ReferenceServer(workers=2)
    try:
        with pytest.raises(RuntimeError, match="did not start") as info:
            server.start(timeout=15)
    finally:
        server.stop()  # in case it did start: never leave a child behind
    assert "no_such_factory" in str(info.value)
    assert server.settings.certificate not in str(info.value)
