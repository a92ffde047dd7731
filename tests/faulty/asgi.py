"""ASGI building blocks for faulty servers: change one thing around the reference app.

Each helper wraps the reference app (``conformance.reference.app.create_app``)
and alters exactly one aspect of its behaviour - a response header, the body of
some responses, how one route parses one parameter - so a conformance case can
be shown to fail for that reason and no other. ``lax_rtc_routes`` re-implements
the reference RTC handler with injectable parsers; the proofs run it with the
reference parsers as a control, so the copy is known to be faithful.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.reference.app import COMMON_HEADERS, PREFLIGHT_HEADERS
from conformance.reference.issuer import TokenIssuer
from conformance.reference.validation import (
    InvalidParameter,
    parse_channel,
    parse_expiry,
    parse_role,
    parse_tokentype,
    parse_uid,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the reference server's headers (so only the body or status differs)."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=headers or COMMON_HEADERS, media_type="application/json")


# --- responses ---------------------------------------------------------------


@dataclass
class Reply:
    """A complete buffered response, for rewriting before it is sent."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def set_header(self, name: str, value: str | None) -> None:
        """Replace (or with None remove) every header ``name``."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def set_json(self, body: object) -> None:
        self.body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


Rewriter = Callable[[Request, Reply], None]


def rewrite(app: ASGIApp, fn: Rewriter) -> ASGIApp:
    """Buffer every HTTP response of ``app`` and let ``fn`` change it in place before it is sent."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, capture)
        reply = Reply(
            status=int(start["status"]),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])],
            body=b"".join(chunks),
        )
        fn(Request(scope), reply)
        reply.set_header("content-length", str(len(reply.body)))
        await send({
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers],
        })
        await send({"type": "http.response.body", "body": reply.body})

    return wrapped


def intercept(app: ASGIApp, answer: Callable[[Request], Response | None]) -> ASGIApp:
    """Let ``answer`` reply to a request instead of ``app`` (when it returns a response)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = answer(Request(scope))
            if response is not None:
                await response(scope, receive, send)
                return
        await app(scope, receive, send)

    return wrapped


def rewrite_path(app: ASGIApp, fn: Callable[[list[str]], list[str]]) -> ASGIApp:
    """Change the request path's segments before routing (how a lax server reinterprets what it was sent)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = str(scope["path"])
            new = "/".join(fn(path.split("/")))
            if new != path:
                scope = {**scope, "path": new, "raw_path": new.encode("utf-8")}
        await app(scope, receive, send)

    return wrapped


def rewrite_json_request(app: ASGIApp, fn: Callable[[Request, dict[str, Any]], Response | None]) -> ASGIApp:
    """Let ``fn`` change a JSON object POST body in place before ``app`` reads it, or answer instead of ``app``.

    Bodies that are not a JSON object pass as sent.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            answer = fn(Request(scope), data)
            if answer is not None:
                await answer(scope, receive, send)
                return
            body = json.dumps(data).encode("utf-8")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await app(scope, replay, send)

    return wrapped


# --- a replacement RTC route with injectable parsers --------------------------


@dataclass
class RtcParsers:
    """How the RTC route reads its parameters; the defaults are the reference server's parsers."""

    channel: Callable[[str], str] = parse_channel
    role: Callable[[str], str] = parse_role
    tokentype: Callable[[str], str] = parse_tokentype
    uid: Callable[[str, str], str] = parse_uid
    #: Every ``?expiry=`` value sent -> seconds.
    expiry: Callable[[list[str]], int] = field(default=lambda values: parse_expiry(values, 3600, 86400))


def lax_rtc_routes(issuer: TokenIssuer, parsers: RtcParsers) -> list[Route]:
    """The reference RTC route (both slash forms), reading its parameters with ``parsers``."""

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        p = request.path_params
        try:
            channel = parsers.channel(p["channel"])
            role = parsers.role(p["role"])
            tokentype = parsers.tokentype(p["tokentype"])
            uid = parsers.uid(p["uid"], tokentype)
            expiry = parsers.expiry(request.query_params.getlist("expiry"))
        except InvalidParameter as exc:
            return json_response(400, {"error": exc.message, "status": 400})
        return json_response(200, {"rtcToken": issuer.rtc(channel, role, tokentype, uid, expiry)})

    path = "/rtc/{channel:anyseg}/{role:anyseg}/{tokentype:anyseg}/{uid:anyseg}"
    return [Route(path + "/", endpoint, methods=["GET", "OPTIONS"]), Route(path, endpoint, methods=["GET", "OPTIONS"])]


def replace_routes(app: Starlette, routes: list[Route]) -> Starlette:
    """Put ``routes`` in front of the app's own, so they answer the paths they match."""
    app.router.routes[0:0] = routes
    return app
