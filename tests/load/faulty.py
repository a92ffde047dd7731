"""Faulty token servers for the load tests: each breaks one objective, and nothing else.

They are the reference app (``conformance.reference.app.create_app``) with one
fault added, either in the token (a ``TokenIssuer`` subclass) or around it (a
small ASGI wrapper), so a load run against one of them can fail for exactly
one reason and the test can say which. All run on 127.0.0.1 via ThreadedServer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from conformance.reference.app import Settings, create_app, demo_settings
from conformance.reference.issuer import TokenIssuer
from conformance.reference.threaded import ThreadedServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class WrongExpiryIssuer(TokenIssuer):
    """Every ``every``-th RTC token lapses ``extra`` seconds later than asked (the others are right)."""

    def __init__(self, app_id: str, certificate: str, *, extra: int = 60, every: int = 1) -> None:
        super().__init__(app_id, certificate)
        self.extra = extra
        self.every = every
        self.issued = 0

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        self.issued += 1
        if self.issued % self.every == 0:
            expiry += self.extra
        return super().rtc(channel, role, tokentype, uid, expiry)


def is_token_request(scope: Scope) -> bool:
    return scope.get("type") == "http" and str(scope.get("path", "")).startswith("/rtc/")


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def slow(app: ASGIApp, delay: float) -> ASGIApp:
    """Answers every token request ``delay`` seconds late (a p95 breach, nothing else)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            await asyncio.sleep(delay)
        await app(scope, receive, send)

    return wrapped


def limited(app: ASGIApp, per_second: float) -> ASGIApp:
    """Serves token requests one at a time, each taking 1/per_second s: a server that saturates at per_second."""
    lock = asyncio.Lock()

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            async with lock:
                await asyncio.sleep(1.0 / per_second)
        await app(scope, receive, send)

    return wrapped


def flaky(app: ASGIApp, every: int, status: int = 503) -> ASGIApp:
    """Fails every ``every``-th token request with ``status`` (deterministic: a failure-ratio breach)."""
    count = 0

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal count
        if is_token_request(scope):
            count += 1
            if count % every == 0:
                await _plain(send, status, b"temporarily unavailable")
                return
        await app(scope, receive, send)

    return wrapped


def dying(app: ASGIApp, answered: int, hang: float = 60.0) -> ASGIApp:
    """Answers the first ``answered`` token requests, then stops answering: later ones hang.

    A hung renewal is the nasty case for a client: no error, no token, and the
    old token runs out while it waits.
    """
    count = 0

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal count
        if is_token_request(scope):
            count += 1
            if count > answered:
                await asyncio.sleep(hang)
                return
        await app(scope, receive, send)

    return wrapped


def renewals_hang(app: ASGIApp, hang: float = 60.0) -> ASGIApp:
    """Answers the first token request of each channel (a session's fetch, and the CLI's probe), and never the
    later ones (its renewals): whatever the order in which clients start."""
    seen: set[str] = set()

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            path = str(scope.get("path", ""))
            key = path.split("/")[2] if path.count("/") > 2 else path  # /rtc/<channel>/...
            if key in seen:
                await asyncio.sleep(hang)
                return
            seen.add(key)
        await app(scope, receive, send)

    return wrapped


def redirecting(location: str) -> ASGIApp:
    """Answers every token request with a 302 to ``location`` (another server): a client must not follow."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            headers = [(b"location", location.encode()), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 302, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await _plain(send, 404, b"not found")

    return app


def counting(app: ASGIApp) -> tuple[ASGIApp, list[str]]:
    """``app``, plus the list of paths it was asked for (to prove a server received nothing)."""
    seen: list[str] = []

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http":
            seen.append(str(scope.get("path")))
        await app(scope, receive, send)

    return wrapped, seen


def serial(app: ASGIApp, service_time: float) -> ASGIApp:
    """One token request at a time, ``service_time`` each: latency grows with concurrency (a ramp's knee)."""
    lock = asyncio.Lock()

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            async with lock:
                await asyncio.sleep(service_time)
        await app(scope, receive, send)

    return wrapped


def reference_app(settings: Settings, issuer: TokenIssuer | None = None) -> ASGIApp:
    app: ASGIApp = create_app(settings, issuer)
    return app


@contextlib.contextmanager
def serving(
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    *,
    issuer: Callable[[Settings], TokenIssuer] | None = None,
) -> Iterator[tuple[str, Settings]]:
    """Run the reference app (with a fault) on a free loopback port: yields (url, settings)."""
    settings = demo_settings()
    app = reference_app(settings, issuer(settings) if issuer else None)
    if wrap is not None:
        app = wrap(app)
    with ThreadedServer(app) as server:
        yield server.url, settings


def arrivals(app: ASGIApp) -> tuple[ASGIApp, list[float]]:
    """``app``, plus the wall-clock time each token request reached it (load spread counted at the server)."""
    seen: list[float] = []

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if is_token_request(scope):
            seen.append(time.time())
        await app(scope, receive, send)

    return wrapped, seen


class ConnectionLimiter:
    """A TCP front on 127.0.0.1 that relays to ``upstream`` while fewer than ``limit`` connections are open, and
    resets (RST) every connection beyond that: a server that gives out under many simultaneous connections
    (a thread per connection, a small accept pool) and is healthy for one client on one keep-alive connection."""

    def __init__(self, upstream: str, limit: int) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", int(parts.port or 80))
        self.limit = limit
        self.open = 0
        self.peak = 0
        self.reset = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, name="connection-limiter", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= self.limit:
            self.reset += 1
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # with SO_LINGER 0: an RST, "connection reset" at the client
            return
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            up_writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            self.open -= 1
            writer.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                sink.close()

    def __enter__(self) -> ConnectionLimiter:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
