"""Small correct token servers of the shapes ``profile infer`` must read (servers that take fewer inputs), each a Starlette app.

- ``one_role_query``: ``GET /api/v1/rtcToken?channelName=c&uid=0`` -> ``{"key": "006..."}``; no role input (always
  publisher), a fixed 1 h lifetime, ``GET /`` answers a text page (nixrajput/agora-token-server-nodejs).
- ``chosen_uid_post``: ``POST /rtctoken {"channel": "c", "isPublisher": true}`` -> ``{"uid": 123456, "token":
  "006..."}``; the server draws the uid, a boolean role, a fixed 1 h lifetime, ``GET /health``
  (RudrThakur/agora-rtc-token-generator, without its truthiness defect).
- ``fixed_lifetime``: ``GET /token?channel=c&uid=42&role=host`` -> ``{"data": {"token": "007..."}}``, roles
  host|audience, every token 600 s, ``GET /healthz`` answers 204.
- ``raw_token``: ``GET /rtc?channel=c&uid=42&role=publisher&ttl=10`` -> the 007 token as text/plain, the lifetime
  in minutes (default 60, limits 5..120), no health route.

The tokens come from the suite's own issuers (the reference issuer for 007, ``Issuer006`` for 006), so they are
right; what varies is only the shape.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from conformance.reference.app import Settings, create_app, demo_settings
from conformance.reference.issuer import TokenIssuer
from conformance.reference.threaded import ThreadedServer
from tests.faulty.asgi import json_response
from tests.faulty.issuers import Issuer006

HOUR = 3600


def _bad(message: str) -> Response:
    return json_response(400, {"error": message})


def one_role_query(s: Settings) -> Starlette:
    issuer = Issuer006(s.app_id, s.certificate)

    def token(request: Request) -> Response:
        channel, uid = request.query_params.get("channelName"), request.query_params.get("uid", "0")
        if not channel or not uid.isdigit():
            return _bad("channelName is required, uid must be a number")
        return json_response(200, {"key": issuer.rtc(channel, "publisher", "uid", uid, HOUR)})

    def home(request: Request) -> Response:
        return PlainTextResponse("agora token server is running")

    return Starlette(routes=[Route("/api/v1/rtcToken", token), Route("/", home)])


def chosen_uid_post(s: Settings) -> Starlette:
    issuer = Issuer006(s.app_id, s.certificate)

    async def token(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _bad("the body must be JSON")
        if not isinstance(body, dict) or not isinstance(body.get("channel"), str) or not body["channel"]:
            return _bad("channel is required")
        if not isinstance(body.get("isPublisher"), bool):
            return _bad("isPublisher must be a boolean")
        uid = secrets.randbelow(2**31 - 2) + 1
        role = "publisher" if body["isPublisher"] else "subscriber"
        return json_response(200, {"uid": uid, "token": issuer.rtc(body["channel"], role, "uid", str(uid), HOUR)})

    def health(request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    return Starlette(routes=[Route("/rtctoken", token, methods=["POST"]), Route("/health", health)])


FIXED_LIFETIME = 600


def fixed_lifetime(s: Settings) -> Starlette:
    issuer = TokenIssuer(s.app_id, s.certificate)
    words = {"host": "publisher", "audience": "subscriber"}

    def token(request: Request) -> Response:
        q = request.query_params
        channel, uid, role = q.get("channel"), q.get("uid", ""), words.get(q.get("role", ""))
        if not channel or not uid.isdigit() or role is None:
            return _bad("channel, uid (a number) and role (host or audience) are required")
        return json_response(200, {"data": {"token": issuer.rtc(channel, role, "uid", uid, FIXED_LIFETIME)}})

    def healthz(request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(routes=[Route("/token", token), Route("/healthz", healthz)])


#: The raw-token server's lifetime limits, in minutes.
RAW_TTL_MINUTES = (5, 120)


def raw_token(s: Settings) -> Starlette:
    issuer = TokenIssuer(s.app_id, s.certificate)

    def token(request: Request) -> Response:
        q = request.query_params
        channel, uid, role, ttl = q.get("channel"), q.get("uid", ""), q.get("role", ""), q.get("ttl", "60")
        if not channel or not uid.isdigit() or role not in ("publisher", "subscriber") or not ttl.isdigit():
            return PlainTextResponse("bad request", status_code=400)
        if not RAW_TTL_MINUTES[0] <= int(ttl) <= RAW_TTL_MINUTES[1]:
            return PlainTextResponse("ttl out of range", status_code=400)
        return PlainTextResponse(issuer.rtc(channel, role, "uid", uid, int(ttl) * 60) + "\n")

    return Starlette(routes=[Route("/rtc", token)])


def reference(s: Settings) -> Starlette:
    return create_app(s)


@contextmanager
def serving(make: object) -> Iterator[str]:
    """The app ``make(settings)`` builds, on a free loopback port: yields its base URL."""
    settings = demo_settings()
    with ThreadedServer(make(settings)) as server:  # type: ignore[operator]
        yield server.url


def uid_in_token_only(s: Settings) -> Starlette:
    """``POST /token {"channel": "c"}`` -> ``{"token": "007..."}`` bound to a uid the server drew and names nowhere
    else (the 007 token carries it)."""
    issuer = TokenIssuer(s.app_id, s.certificate)

    async def token(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        uid = str(secrets.randbelow(2**31 - 2) + 1)
        return json_response(200, {"token": issuer.rtc(str(body.get("channel", "")), "publisher", "uid", uid, HOUR)})

    return Starlette(routes=[Route("/token", token, methods=["POST"])])
