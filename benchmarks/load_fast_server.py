"""A deliberately fast token server, so that the *load generator* is the bottleneck.

Used by ``load_generator_bench.py``. It answers ``GET /rtc/{channel}/{role}/{tokentype}/{uid}/?expiry=N``
with a real, correctly bound and signed 007 token (``conformance.tokens.encode``),
over keep-alive HTTP/1.1, on a bare ``asyncio.Protocol``: no framework, no
validation beyond what it needs. A token is built once per path and second and
then reused within that second: every answer is still a token issued "now"
(whole seconds, as every builder stamps them), so a renewal a second later
still gets a later expiry, and the checks of the scenario all pass. On one core
it answers several times more requests per second than Locust can send on one
core, which is what makes it the right target for measuring the generator.

Not a reference for anything else: it trusts its input.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

from conformance.tokens.encode import build_007, rtc_service

PUBLISHER = (1, 2, 3, 4)
SUBSCRIBER = (1,)


def token_for(target: str, app_id: str, certificate: str, rng: random.Random, issue_ts: int) -> bytes | None:
    parts = urlsplit(target)
    segments = parts.path.strip("/").split("/")
    if len(segments) != 5 or segments[0] != "rtc":
        return None
    channel, role, tokentype, uid_text = (unquote(s) for s in segments[1:])
    expiry = int(parse_qs(parts.query).get("expiry", ["3600"])[0])
    uid: int | str = int(uid_text) if tokentype == "uid" else uid_text
    privileges = {p: expiry for p in (PUBLISHER if role == "publisher" else SUBSCRIBER)}
    token = build_007(
        app_id,
        certificate,
        issue_ts=issue_ts,
        expire=expiry,
        salt=rng.randint(1, 99_999_999),
        services=[rtc_service(channel, uid, privileges)],
    )
    return json.dumps({"rtcToken": token}).encode()


class _Bodies:
    """Answer bodies by (target, second): built once per second per path, shared by all connections."""

    def __init__(self, app_id: str, certificate: str) -> None:
        self.app_id, self.certificate = app_id, certificate
        self.rng = random.Random()
        self.second = 0
        self.cache: dict[str, bytes | None] = {}

    def __call__(self, target: str) -> bytes | None:
        now = int(time.time())
        if now != self.second:
            self.second, self.cache = now, {}
        if target not in self.cache:
            self.cache[target] = token_for(target, self.app_id, self.certificate, self.rng, now)
        return self.cache[target]


class _Protocol(asyncio.Protocol):
    def __init__(self, bodies: _Bodies) -> None:
        self.body = bodies
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
            body = self.body(target)
            status = b"200 OK" if body is not None else b"404 Not Found"
            body = body if body is not None else b'{"error":"not found"}'
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body
            )  # fmt: skip


class FastServer:
    """Serve on 127.0.0.1:<free port> in a background thread (its own event loop)."""

    def __init__(self, app_id: str, certificate: str) -> None:
        self.bodies = _Bodies(app_id, certificate)
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fast-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FastServer:
        async def start() -> None:
            self.server = await self.loop.create_server(lambda: _Protocol(self.bodies), "127.0.0.1", 0, backlog=2048)
            self.port = self.server.sockets[0].getsockname()[1]

        self.loop.run_until_complete(start())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


def main() -> None:
    """Run standalone (the benchmark starts it as a pinned subprocess): prints its URL, serves until killed."""
    import os
    import signal

    with FastServer(os.environ["APP_ID"], os.environ["APP_CERTIFICATE"]) as server:
        print(server.url, flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    main()
