"""Start and stop the reference server from Python: what ``check`` and ``load`` run when given no URL.

One worker runs in a thread of the calling process (cheap to start, no port
race: the socket is bound before the thread starts). More workers need
processes, so they run as a ``uvicorn --workers N`` child; the app id and
certificate reach it through the child's environment only, never its argv
(visible to every user through ``ps``).
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType

from .app import APP_ID_ENV, CERTIFICATE_ENV, Settings, create_app, demo_settings
from .threaded import ThreadedServer

FACTORY = "conformance.reference.app:app_from_env"


class ReferenceServer:
    """The reference server on ``host:port`` (port 0 = a free one) with ``workers`` workers.

    ``settings`` None means a random demo pair; read it back from ``.settings``
    (a harness needs the certificate to verify the tokens).
    """

    def __init__(
        self, settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 0, workers: int = 1
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.settings = settings if settings is not None else demo_settings()
        if workers > 1 and (self.settings.default_expiry, self.settings.max_expiry) != (3600, 86400):
            # The child reads only APP_ID / APP_CERTIFICATE; say so rather than ignore the policy.
            raise ValueError("custom default_expiry / max_expiry need workers=1")
        self.host = host
        self.port = port
        self.workers = workers
        self._threaded: ThreadedServer | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._threaded is None and self._process is None:
            raise RuntimeError("the reference server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ReferenceServer:
        if self._threaded is not None or self._process is not None:
            raise RuntimeError("the reference server is already started")
        if self.workers == 1:
            self._threaded = ThreadedServer(create_app(self.settings), self.host, self.port)
            self.port = self._threaded.port
            try:
                self._threaded.start(timeout)
            except BaseException:
                self.stop()
                raise
            return self
        self._start_process(timeout)
        return self

    def _start_process(self, timeout: float) -> None:
        chosen = self.port
        for _attempt in range(3):
            self.port = chosen or _free_port(self.host)
            log = tempfile.TemporaryFile()
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", FACTORY, "--factory",
                    "--host", self.host, "--port", str(self.port), "--workers", str(self.workers),
                    "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "1",
                ],
                env={**os.environ, APP_ID_ENV: self.settings.app_id, CERTIFICATE_ENV: self.settings.certificate},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            self._process = process
            if _wait_for_ping(process, self.host, self.port, timeout):
                log.close()
                return
            self.stop()
            log.seek(0)
            output = log.read().decode("utf-8", "replace")
            log.close()
            if chosen or "address already in use" not in output.lower():
                break  # a free port taken by someone else between our probe and uvicorn's bind: retry
        cert = re.compile(re.escape(self.settings.certificate), re.IGNORECASE)
        tail = cert.sub("<certificate>", output.strip()[-2000:])
        raise RuntimeError(f"the reference server (uvicorn, {self.workers} workers) did not start: {tail}")

    def stop(self) -> None:
        if self._threaded is not None:
            self._threaded.stop()
            self._threaded = None
        if self._process is not None:
            process, self._process = self._process, None
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_ping(process: subprocess.Popen[bytes], host: str, port: int, timeout: float) -> bool:
    """Poll GET /ping until it answers 200 (True), the process exits or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection(host, port, timeout=1)
        try:
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    return False
