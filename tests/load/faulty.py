"""Faulty token servers for the load tests: each breaks one objective, and nothing else.

They are the reference app (``conformance.reference.app.create_app``) with one
fault added, either in the token (a ``TokenIssuer`` subclass) or around it (a
small ASGI wrapper), so a load run against one of them can fail for exactly
one reason and the test can say which. All run on 127.0.0.1 via ThreadedServer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

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
