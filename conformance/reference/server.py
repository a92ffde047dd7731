"""Start and stop the reference server from Python: what ``check`` and ``load`` run when given no URL.

One worker runs in a thread of the calling process (cheap to start). More
workers need processes: a child process runs uvicorn's multi-process
supervisor with N workers. Either way the listening socket is bound first, in
the calling process, so there is no port race and a taken port fails at once.
The app id and certificate reach the child through its environment only, never
its argv (visible to every user through ``ps``).
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

import uvicorn
from uvicorn.supervisors import Multiprocess

from .app import APP_CERTIFICATE_ENV, APP_ID_ENV, Settings, create_app, demo_settings
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
        self._bound = False

    @property
    def url(self) -> str:
        """The base URL, known once started (and kept after ``stop()``, for reports)."""
        if not self._bound:
            raise RuntimeError("the reference server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ReferenceServer:
        if self._threaded is not None or self._process is not None:
            raise RuntimeError("the reference server is already started")
        if self.workers == 1:
            self._threaded = ThreadedServer(create_app(self.settings), self.host, self.port)
            self.port = self._threaded.port
            self._bound = True
            try:
                self._threaded.start(timeout)
            except BaseException:
                self.stop()
                raise
            return self
        self._start_process(timeout)
        return self

    def _start_process(self, timeout: float) -> None:
        # Bind here and hand the socket down: no window in which another
        # process could take the port, and a taken port fails here, at once.
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._bound = True
        log = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(sock.fileno()), str(self.workers), FACTORY],
                env={**os.environ, APP_ID_ENV: self.settings.app_id, APP_CERTIFICATE_ENV: self.settings.certificate},
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, pass_fds=(sock.fileno(),),
            )  # fmt: skip
        finally:
            sock.close()  # the child holds its own copy
        if _wait_for_ping(self._process, self.host, self.port, timeout):
            log.close()
            return
        self.stop()
        log.seek(0)
        output = log.read().decode("utf-8", "replace").strip()[-2000:]
        log.close()
        output = re.sub(re.escape(self.settings.certificate), "<certificate>", output, flags=re.IGNORECASE)
        raise RuntimeError(f"the reference server ({self.workers} uvicorn workers) did not start: {output}")

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


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


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


def _serve_inherited_socket(fd: int, workers: int, factory: str) -> None:
    """The child's side: ``workers`` uvicorn workers on the socket inherited as ``fd``."""
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        factory, factory=True, workers=workers, log_level="warning", access_log=False,
        lifespan="off", timeout_graceful_shutdown=1,
    )  # fmt: skip
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":  # the guard matters: uvicorn's spawned workers re-import this module
    _serve_inherited_socket(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
