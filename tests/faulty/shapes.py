"""Token servers of other route shapes: the reference server (or a faulty one) behind another front door.

Two shapes from public token servers (docs/profiles.md has their profile files):

- ``query``: ``GET /token?channel=c&uid=0&role=publisher&expiry=600`` -> ``{"token": "007..."}``, ``GET /health``;
- ``json``: ``POST /api/token {"channelName": "c", "uid": 0, "role": "host", "expireSeconds": 600}``
  -> ``{"data": {"token": "007..."}}``, ``GET /healthz``; the uid is a JSON number, roles are host|audience.

Each front door translates its request into the Go family's RTC request and the answer back, refusing what
its own shape makes invalid (a missing field, a uid that is not a JSON integer) with a JSON 400, and nothing
else: every other check (channel alphabet, uid range, lifetime bounds) and every header is the inner app's.
A fault of the catalogue put behind a front door is therefore the same defect in another shape, and the suite
must find it through the shape's profile with the same cases.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.responses import Response

from conformance.reference.app import COMMON_HEADERS, Settings

from .asgi import ASGIApp, Message, Receive, Scope, Send, json_response
from .runner import Run, run_check, serving

PROFILES = Path(__file__).parent / "profiles"


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


async def _forward(app: ASGIApp, scope: Scope, send: Send, *, method: str, channel: str, role: str, uid: str,
                   expiry: str | None, answer: Callable[[str], object]) -> None:
    """Send the Go-shaped RTC request to ``app``; a 200 ``{"rtcToken"}`` is re-shaped by ``answer``."""
    path = f"/rtc/{channel}/{role}/uid/{uid}/"
    raw = "/rtc/" + "/".join(quote(v, safe="") for v in (channel, role, "uid", uid)) + "/"
    query = urlencode({"expiry": expiry}) if expiry is not None else ""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"content-type")]
    inner = {**scope, "method": method, "path": path, "raw_path": raw.encode("ascii"),
             "query_string": query.encode("ascii"), "headers": headers}
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async def nothing() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app(inner, nothing, capture)
    body = b"".join(chunks)
    status = int(start["status"])
    if status == 200:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("rtcToken"), str):
            body = json.dumps(answer(data["rtcToken"]), separators=(",", ":")).encode("utf-8")
    out = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def _not_allowed(method: str, allow: str) -> Response:
    return json_response(405, {"error": f"method {method} is not allowed here; allowed: {allow}"},
                         {**COMMON_HEADERS, "Allow": allow})


def query_shape(app: ASGIApp) -> ASGIApp:
    """``GET /token?channel=&uid=&role=&expiry=`` -> ``{"token"}``; ``GET /health`` -> ``{"status": "ok"}``."""

    async def shaped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/health":
            response = json_response(200, {"status": "ok"}) if method == "GET" else _not_allowed(method, "GET")
        elif path != "/token":
            response = json_response(404, {"error": "not found"})
        elif method == "OPTIONS":
            await _forward(app, scope, send, method="OPTIONS", channel="c", role="publisher", uid="0", expiry=None,
                           answer=lambda t: {"token": t})
            return
        elif method != "GET":
            response = _not_allowed(method, "GET, OPTIONS")
        else:
            query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            values = {k: query[k][-1] for k in ("channel", "uid", "role", "expiry") if k in query}
            missing = [k for k in ("channel", "uid", "role") if k not in values]
            if missing:
                response = json_response(400, {"error": f"{missing[0]} is required"})
            else:
                await _forward(app, scope, send, method="GET", channel=values["channel"], role=values["role"],
                               uid=values["uid"], expiry=values.get("expiry"), answer=lambda t: {"token": t})
                return
        await response(scope, receive, send)

    return shaped


def chosen_uid_shape(app: ASGIApp, *, answered: Callable[[int], int] = lambda uid: uid,
                     token: Callable[[str], str] = lambda t: t) -> ASGIApp:
    """The query shape, but the server chooses the uid: asked for uid 0 it picks a random one, binds the token to
    it and answers ``{"token", "uid"}`` (any other uid is bound and echoed as asked).

    ``answered`` maps the chosen uid to the one the answer names and ``token`` rewrites a chosen uid's token:
    both the identity for the correct server, a fault otherwise.
    """

    async def shaped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/token" or scope["method"] != "GET":
            await query_shape(app)(scope, receive, send)
            return
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        values = {k: query[k][-1] for k in ("channel", "uid", "role", "expiry") if k in query}
        missing = [k for k in ("channel", "uid", "role") if k not in values]
        if missing:
            await json_response(400, {"error": f"{missing[0]} is required"})(scope, receive, send)
            return
        uid, chosen = values["uid"], values["uid"] == "0"
        if chosen:
            uid = str(secrets.randbelow(2**32 - 2) + 1)

        def answer(t: str) -> object:
            if not chosen:
                return {"token": t, "uid": int(uid) if uid.isdigit() else uid}
            return {"token": token(t), "uid": answered(int(uid))}

        await _forward(app, scope, send, method="GET", channel=values["channel"], role=values["role"], uid=uid,
                       expiry=values.get("expiry"), answer=answer)

    return shaped


def other_uid(uid: int) -> int:
    """A uid that is not ``uid``: what a server that draws its random uid twice names in its answer."""
    return uid % (2**32 - 1) + 1


def broken_006_signature(token: str) -> str:
    """The 006 token with one byte of its signature flipped: it no longer verifies with any certificate."""
    content = bytearray(base64.b64decode(token[35:]))
    content[2] ^= 0xFF  # after the u16 length of the signature
    return token[:35] + base64.b64encode(bytes(content)).decode("ascii")


#: The JSON shape's role words.
JSON_ROLES = {"host": "publisher", "audience": "subscriber"}


def json_shape(app: ASGIApp) -> ASGIApp:
    """``POST /api/token {channelName, uid (number), role host|audience, expireSeconds}`` -> ``{"data": {"token"}}``."""

    async def shaped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            response = json_response(200, {"status": "ok"}) if method == "GET" else _not_allowed(method, "GET")
        elif path != "/api/token":
            response = json_response(404, {"error": "not found"})
        elif method == "OPTIONS":
            await _forward(app, scope, send, method="OPTIONS", channel="c", role="publisher", uid="0", expiry=None,
                           answer=lambda t: {"data": {"token": t}})
            return
        elif method != "POST":
            response = _not_allowed(method, "POST, OPTIONS")
        else:
            problem, fields = _json_fields(await _read(receive))
            if problem:
                response = json_response(400, {"error": problem})
            else:
                role = JSON_ROLES.get(fields["role"], fields["role"])
                await _forward(app, scope, send, method="GET", channel=fields["channelName"], role=role,
                               uid=str(fields["uid"]), expiry=fields.get("expireSeconds"),
                               answer=lambda t: {"data": {"token": t}})
                return
        await response(scope, receive, send)

    return shaped


def _json_fields(raw: bytes) -> tuple[str | None, dict[str, Any]]:
    """The body's fields as text, or the shape's own reason to refuse it."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "the body must be a JSON object", {}
    if not isinstance(body, dict):
        return "the body must be a JSON object", {}
    for key in ("channelName", "uid", "role"):
        if key not in body:
            return f"{key} is required", {}
    if not isinstance(body["channelName"], str):
        return "channelName must be a string", {}
    if not isinstance(body["role"], str):
        return "role must be a string", {}
    uid = body["uid"]
    if isinstance(uid, bool) or not isinstance(uid, int):
        return "uid must be an integer", {}
    out: dict[str, Any] = {"channelName": body["channelName"], "role": body["role"], "uid": uid}
    if "expireSeconds" in body:
        expire = body["expireSeconds"]
        if isinstance(expire, bool) or not isinstance(expire, int):
            return "expireSeconds must be an integer", {}
        out["expireSeconds"] = str(expire)
    return None, out


@dataclass(frozen=True)
class Shape:
    """A front door and the profile file that describes it."""

    name: str
    wrap: Callable[[ASGIApp], ASGIApp]

    @property
    def profile(self) -> str:
        return str(PROFILES / f"{self.name}-shape.json")

    def around(self, make: Callable[[Settings], ASGIApp]) -> Callable[[Settings], ASGIApp]:
        return lambda s: self.wrap(make(s))


SHAPES = (Shape("query", query_shape), Shape("json", json_shape))
#: The query shape with a server-chosen uid (``"uid"`` in the answer), for the 007 and the 006 family.
CHOSEN_UID = Shape("chosen-uid", chosen_uid_shape)
CHOSEN_UID_006 = Shape("chosen-uid-006", chosen_uid_shape)
#: Cases neither shape can be asked: no RTM / RTE / POST /getToken operation, no string accounts, no token-type
#: field, no trailing slash on the token path. They skip, saying so.
NOT_IN_SHAPE = frozenset({"ROUTE-4", "ROUTE-6", "ROUTE-7", "ROUTE-8", "ROUTE-9", "TOKEN-5", "TOKEN-9", "INPUT-2"})
#: Faults of the catalogue re-run behind each front door: at least one per section.
SHAPE_FAULTS = ("text-plain", "mute-publisher", "role-downgraded", "uid-large-wrapped", "forever", "cached-30s",
                "cacheable", "certificate-in-errors", "trace-in-400", "symbols-refused")


def judge_shape(shape: Shape, make: Callable[[Settings], ASGIApp], cases: tuple[str, ...] = (),
                prop_examples: int | None = None) -> Run:
    """A strict run (app id and certificate known) against ``make``'s app behind ``shape``, with its profile."""
    with serving(shape.around(make)) as (url, settings):
        return run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                         profile=shape.profile, cases=cases, prop_examples=prop_examples)
