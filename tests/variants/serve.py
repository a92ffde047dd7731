"""Serving a correct variant: an ASGI app on uvicorn (IPv4 or IPv6 loopback, uvicorn options), or a stdlib front.

The faulty servers only ever need the reference app behind one wrapper on 127.0.0.1; some legitimate choices
live below ASGI - HTTP/1.0, 501 from ``http.server``, a keep-alive limit, no Date header, an IPv6 socket - so the
variants get their own small servers here.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from conformance.reference.app import Settings
from conformance.reference.threaded import ThreadedServer

ASGIApp = Any
#: ``serve(settings)`` is a context manager yielding the variant's base URL.
Serve = Callable[[Settings], Any]


class UvicornServer:
    """``app`` on ``host`` (127.0.0.1 or ::1), a free port, with extra uvicorn.Config options."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", **config: Any) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://[{host}]:{self.port}" if family == socket.AF_INET6 else f"http://{host}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                                     timeout_graceful_shutdown=1, **config))
        self._thread = threading.Thread(target=lambda: self._server.run(sockets=[self._sock]), daemon=True)

    def __enter__(self) -> UvicornServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"variant server on {self.url} did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


def asgi(factory: Callable[[Settings], ASGIApp], host: str = "127.0.0.1", **config: Any) -> Serve:
    @contextmanager
    def serve(settings: Settings) -> Iterator[str]:
        with UvicornServer(factory(settings), host, **config) as server:
            yield server.url

    return serve


# --- a stdlib front: http.server relaying to the reference app -------------------------------------------

#: Hop-by-hop headers a relay must not copy (RFC 9110 7.6.1), plus what the front computes itself.
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "upgrade"}


def stdlib_front(backend: Callable[[Settings], ASGIApp], *, protocol: str = "HTTP/1.0",
                 requests_per_connection: int | None = None, date_header: bool = True) -> Serve:
    """``http.server`` in front of the app: what its defaults do is the variant.

    It implements GET, POST and OPTIONS only, so PUT and DELETE get http.server's own 501 "Unsupported method"
    (RFC 9110 15.6.2). ``protocol`` HTTP/1.0 closes every connection; with HTTP/1.1,
    ``requests_per_connection`` closes a keep-alive connection after that many requests (nginx's
    keepalive_requests). ``date_header=False`` sends no Date (allowed without a clock, RFC 9110 6.6.1).
    """

    @contextmanager
    def serve(settings: Settings) -> Iterator[str]:
        with ThreadedServer(backend(settings)) as inner:
            host, port = inner.host, inner.port

            class Handler(http.server.BaseHTTPRequestHandler):
                protocol_version = protocol
                served = 0

                def log_message(self, format: str, *args: Any) -> None:  # quiet
                    pass

                def send_response(self, code: int, message: str | None = None) -> None:
                    if date_header:
                        super().send_response(code, message)
                    else:
                        self.log_request(code)
                        self.send_response_only(code, message)

                def _relay(self) -> None:
                    length = int(self.headers.get("content-length") or 0)
                    body = self.rfile.read(length) if length else None
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    conn.close()
                    self.served += 1
                    last = requests_per_connection is not None and self.served >= requests_per_connection
                    self.send_response(answer.status)
                    for k, v in answer.getheaders():
                        if k.lower() not in _HOP:
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    if last or protocol == "HTTP/1.0":
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(data)

                do_GET = do_POST = do_OPTIONS = _relay

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{server.server_address[1]}"
            finally:
                server.shutdown()
                server.server_close()

    return serve
