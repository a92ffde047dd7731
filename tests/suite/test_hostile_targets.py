"""The harness against targets that are not token servers at all: it must give a verdict, not a traceback or a hang.

Each target runs on 127.0.0.1 in this process; ``token-conformance check``
runs as a child process through the real command line with ``--timeout 2``.
A target that does not answer is "could not judge" (exit 2), one that answers
nonsense is "not conforming" (exit 1). The child's own timeout is only a guard
against a hang, not a speed requirement.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from conformance.reference.threaded import ThreadedServer
from tests.faulty.runner import child_environment

#: Far above what any of these runs needs (a few seconds); reached only if the harness hangs.
GUARD_S = 90.0
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "INTERNALERROR")


def run_cli(url: str, report_dir: Path, *args: str) -> tuple[int, str, dict[str, Any] | None]:
    import subprocess

    argv = [sys.executable, "-m", "conformance", "check", url, "--timeout", "2", "--report-dir", str(report_dir), *args]
    proc = subprocess.run(argv, env=child_environment(None), cwd=report_dir, capture_output=True, text=True,
                          timeout=GUARD_S, check=False)
    report = report_dir / "conformance.json"
    document = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    return proc.returncode, proc.stdout + proc.stderr, document


def assert_no_traceback(output: str) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in output, output[-3000:]


@contextmanager
def raw_tcp(handler: Any) -> Iterator[str]:
    """A TCP server on a free loopback port; ``handler(conn)`` serves each connection in a thread."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            threading.Thread(target=handler, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        srv.close()


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Not HTTP: an SSH banner and binary noise, then close."""
    try:
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\x13\x37garbage\x00" * 4)
    except OSError:
        pass
    finally:
        conn.close()


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read, never answer (until the test ends)."""
    conn.settimeout(0.2)
    while not stop.is_set():
        try:
            if conn.recv(65536) == b"":
                return
        except TimeoutError:
            continue
        except OSError:
            return


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- targets that do not answer: exit 2 --------------------------------------


def test_unreachable_url_cannot_be_judged(tmp_path: Path) -> None:
    code, output, doc = run_cli(f"http://127.0.0.1:{closed_port()}", tmp_path)
    assert code == 2
    assert "does not answer" in output and "refused" in output.lower()
    assert doc is not None and doc["summary"]["verdict"] == "could not judge"
    assert_no_traceback(output)


def test_non_http_port_cannot_be_judged(tmp_path: Path) -> None:
    with raw_tcp(_garbage) as url:
        code, output, doc = run_cli(url, tmp_path)
    assert code == 2
    assert "does not answer" in output
    assert doc is not None and doc["summary"]["exit_code"] == 2
    assert_no_traceback(output)


def test_silent_server_cannot_be_judged_and_does_not_hang(tmp_path: Path) -> None:
    with raw_tcp(_silent) as url:
        code, output, doc = run_cli(url, tmp_path)
    assert code == 2
    assert "does not answer" in output and "2 s" in output
    assert doc is not None and doc["summary"]["verdict"] == "could not judge"
    assert all(c["outcome"] == "not run" for c in doc["cases"])
    assert_no_traceback(output)


# --- targets that answer nonsense: exit 1 ---------------------------------------

HUGE_BLOCK = b"[" + b"0," * (512 * 1024)
HUGE_BLOCKS = 50 * 1024 * 1024 // len(HUGE_BLOCK) + 1  # just over 50 MB


async def _huge_body(scope: Any, receive: Any, send: Any) -> None:
    """200 application/json with a declared and streamed 50 MB body (a client must stop reading)."""

    async def blocks() -> Any:
        for _ in range(HUGE_BLOCKS):
            yield HUGE_BLOCK

    length = str(HUGE_BLOCKS * len(HUGE_BLOCK))
    await StreamingResponse(blocks(), media_type="application/json", headers={"content-length": length})(
        scope, receive, send)


async def _invalid_json(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    request = Request(scope)
    body = b'{"rtcToken": "007eJxTYBBbcOPo' if request.method != "OPTIONS" else b""
    await Response(body, status_code=200, media_type="application/json")(scope, receive, send)


@pytest.mark.parametrize("app", [_huge_body, _invalid_json], ids=["50MB-body", "invalid-json"])
def test_nonsense_answers_are_not_conforming(app: Any, tmp_path: Path) -> None:
    with ThreadedServer(app) as server:
        code, output, doc = run_cli(server.url, tmp_path, "--case", "ROUTE")
    assert code == 1
    assert doc is not None and doc["summary"]["verdict"] == "not conforming"
    outcomes = {c["id"]: c["outcome"] for c in doc["cases"]}
    for case in ("ROUTE-1", "ROUTE-6", "ROUTE-9"):
        assert outcomes[case] == "failed"
    assert "NOT CONFORMING" in output
    assert_no_traceback(output)
