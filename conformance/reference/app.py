"""The reference token server as a Starlette app: the agora-token-service routes, strictly validated.

Contract: docs/reference-server.md. Handlers stay thin (parse, call the
issuer, answer JSON) because the server doubles as the calibration target of
the load benchmarks: a token request should cost little more than ``/ping``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .issuer import TokenIssuer, is_hex32
from .validation import (
    MISSING,
    InvalidParameter,
    parse_channel,
    parse_expire_json,
    parse_expiry,
    parse_numeric_uid,
    parse_role,
    parse_rtm_user,
    parse_tokentype,
    parse_uid,
    shown,
)

logger = logging.getLogger("conformance.reference")

APP_ID_ENV = "APP_ID"
APP_CERTIFICATE_ENV = "APP_CERTIFICATE"
#: Largest POST /getToken body read; a real one is under 200 bytes.
MAX_REQUEST_BODY_BYTES = 16 * 1024

# Every response: never cache a token (a shared cache would hand one user's
# token to another), readable from any web page (tokens are fetched by
# browsers; access control belongs in front of this server, not in CORS).
COMMON_HEADERS = {
    "Cache-Control": "private, no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
}
PREFLIGHT_HEADERS = {
    **COMMON_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


@dataclass(frozen=True)
class Settings:
    """What the server needs: the app's id and certificate, and its expiry policy (seconds)."""

    app_id: str
    certificate: str = field(repr=False)  # never in a repr, hence never in a log line
    default_expiry: int = 3600
    max_expiry: int = 86400

    def __post_init__(self) -> None:
        if not is_hex32(self.app_id):
            raise ValueError(f"the app id must be 32 hexadecimal characters (got {len(self.app_id)})")
        if not is_hex32(self.certificate):
            raise ValueError(f"the app certificate must be 32 hexadecimal characters (got {len(self.certificate)})")
        if not 1 <= self.default_expiry <= self.max_expiry:
            raise ValueError(f"need 1 <= default_expiry ({self.default_expiry}) <= max_expiry ({self.max_expiry})")


def demo_settings() -> Settings:
    """A random app id / certificate pair: tokens that verify, for an app that does not exist."""
    return Settings(app_id=secrets.token_hex(16), certificate=secrets.token_hex(16))


def settings_from_env(environ: Mapping[str, str] = os.environ) -> tuple[Settings, bool]:
    """Settings from APP_ID / APP_CERTIFICATE; the bool says a demo pair was generated (both unset).

    Raises ValueError (message safe to print: it never quotes the certificate)
    when only one is set or either is not 32 hexadecimal characters.
    """
    app_id = environ.get(APP_ID_ENV, "").strip()
    certificate = environ.get(APP_CERTIFICATE_ENV, "").strip()
    if not app_id and not certificate:
        return demo_settings(), True
    how = f"set both {APP_ID_ENV} and {APP_CERTIFICATE_ENV} (32 hexadecimal characters each), or neither for a demo pair"
    if not certificate:
        raise ValueError(f"{APP_ID_ENV} is set but {APP_CERTIFICATE_ENV} is not: {how}")
    if not app_id:
        raise ValueError(f"{APP_CERTIFICATE_ENV} is set but {APP_ID_ENV} is not: {how}")
    for name, value in ((APP_ID_ENV, app_id), (APP_CERTIFICATE_ENV, certificate)):
        if not is_hex32(value):
            raise ValueError(f"{name} is not 32 hexadecimal characters (it has {len(value)} characters): {how}")
    return Settings(app_id=app_id, certificate=certificate), False


def app_from_env() -> Starlette:
    """uvicorn factory (``conformance.reference.app:app_from_env``) for multi-worker runs.

    Every worker builds its own app, so a demo pair generated here would differ
    per worker: the pair must come from the environment (``serve`` puts the one
    it generated there before starting the workers).
    """
    settings, generated = settings_from_env()
    if generated:
        raise RuntimeError(f"set {APP_ID_ENV} and {APP_CERTIFICATE_ENV} (32 hexadecimal characters each)")
    return create_app(settings)


#: One encoder, built once: ``json.dumps`` with non-default options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _raw_headers(headers: Mapping[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())


_COMMON_RAW = _raw_headers({**COMMON_HEADERS, "Content-Type": "application/json"})


class _JSONResponse(Response):
    """A JSON response whose fixed headers were encoded once (Starlette encodes a header mapping per response)."""

    def __init__(self, content: bytes, status_code: int, raw: tuple[tuple[bytes, bytes], ...]) -> None:
        self._fixed = raw
        super().__init__(content, status_code)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        self.raw_headers = [*self._fixed, (b"content-length", str(len(self.body)).encode("latin-1"))]


def _json(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    content = _ENCODER.encode(body).encode("utf-8")
    raw = _COMMON_RAW if headers is None else _raw_headers({**headers, "Content-Type": "application/json"})
    return _JSONResponse(content, status, raw)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json(status, {"error": message, "status": status}, headers)


class _AnySegment(Convertor[str]):
    """A path segment that may be empty, so ``/rtc//publisher/uid/0/`` is a 400 "channel is empty", not a 404."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anyseg", _AnySegment())

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(settings: Settings, issuer: TokenIssuer | None = None) -> Starlette:
    """The ASGI app; ``issuer`` defaults to a ``TokenIssuer`` for ``settings`` (pass a subclass to inject faults)."""
    tokens = issuer if issuer is not None else TokenIssuer(settings.app_id, settings.certificate)
    default, maximum = settings.default_expiry, settings.max_expiry
    scrub = re.compile(re.escape(settings.certificate), re.IGNORECASE)

    def internal_error(request: Request, exc: BaseException) -> Response:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        logger.error(
            "internal error on %s %s\n%s", request.method, request.url.path, scrub.sub("<certificate>", detail)
        )
        return _error(500, "internal error")

    def guarded(handler: Callable[[Request], Response]) -> Endpoint:
        """One place for preflight, 400s and the catch-all 500 (an uncaught error must not leak a traceback)."""

        async def endpoint(request: Request) -> Response:
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=PREFLIGHT_HEADERS)
            try:
                return handler(request)
            except InvalidParameter as exc:
                return _error(400, exc.message)
            except Exception as exc:
                return internal_error(request, exc)

        return endpoint

    def expiry_of(request: Request) -> int:
        query: bytes = request.scope["query_string"]
        if not query:
            return default
        # Starlette's request.query_params builds a multi-dict; one key is all we need.
        values = [v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k == "expiry"]
        return parse_expiry(values, default, maximum)

    def rtc_head(params: Mapping[str, str]) -> tuple[str, str, str]:
        channel = parse_channel(params["channel"])
        role = parse_role(params["role"])
        tokentype = parse_tokentype(params["tokentype"])
        return channel, role, tokentype

    def rtc(request: Request) -> Response:
        p = request.path_params
        channel, role, tokentype = rtc_head(p)
        uid = parse_uid(p["uid"], tokentype)
        expiry = expiry_of(request)
        return _json(200, {"rtcToken": tokens.rtc(channel, role, tokentype, uid, expiry)})

    def rtm(request: Request) -> Response:
        user = parse_rtm_user(request.path_params["uid"])
        expiry = expiry_of(request)
        return _json(200, {"rtmToken": tokens.rtm(user, expiry)})

    def rte(request: Request) -> Response:
        p = request.path_params
        channel, role, tokentype = rtc_head(p)
        uid = parse_uid(p["rtcuid"], tokentype, "rtcuid")
        if "rtmuid" in p:
            rtm_user = parse_rtm_user(p["rtmuid"], "rtmuid")
        elif uid != "0":
            rtm_user = parse_rtm_user(uid, "rtcuid")
        else:
            raise InvalidParameter(
                "rtmuid",
                "rtmuid is missing: with rtcuid 0 give the RTM user id as "
                "/rte/{channel}/{role}/{tokentype}/0/{rtmuid}/ (RTM has no 'any user' id)",
            )
        expiry = expiry_of(request)
        return _json(
            200,
            {
                "rtcToken": tokens.rtc(channel, role, tokentype, uid, expiry),
                "rtmToken": tokens.rtm(rtm_user, expiry),
            },
        )

    async def get_token(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        try:
            body = await _read_body(request)
            return _json(200, {"token": _post_token(body, tokens, default, maximum)})
        except InvalidParameter as exc:
            return _error(413 if exc.name == "body-size" else 400, exc.message)
        except Exception as exc:
            return internal_error(request, exc)

    async def ping(request: Request) -> Response:
        return _json(200, {"message": "pong"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, "not found")
        if exc.status_code == 405:
            allow = (exc.headers or {}).get("Allow", "")
            return _error(
                405,
                f"method {request.method} is not allowed here; allowed: {allow}",
                {**COMMON_HEADERS, "Allow": allow},
            )
        return _error(exc.status_code, str(exc.detail))

    async def unhandled(request: Request, exc: Exception) -> Response:
        return internal_error(request, exc)

    token_methods = ["GET", "OPTIONS"]
    routes: list[Route] = []

    def both(path: str, endpoint: Endpoint, methods: list[str]) -> None:
        # Trailing slash optional, served directly: the Go server 301-redirects,
        # and a redirect drops the CORS headers and costs a round trip.
        routes.append(Route(path + "/", endpoint, methods=methods))
        routes.append(Route(path, endpoint, methods=methods))

    both("/ping", ping, ["GET"])
    both("/rtc/{channel:anyseg}/{role:anyseg}/{tokentype:anyseg}/{uid:anyseg}", guarded(rtc), token_methods)
    both("/rtm/{uid:anyseg}", guarded(rtm), token_methods)
    # The 4-segment form first: with empty segments allowed, "/rte/c/r/t/u/" would
    # otherwise also match the 5-segment form with an empty rtmuid.
    rte_endpoint = guarded(rte)
    both("/rte/{channel:anyseg}/{role:anyseg}/{tokentype:anyseg}/{rtcuid:anyseg}", rte_endpoint, token_methods)
    both(
        "/rte/{channel:anyseg}/{role:anyseg}/{tokentype:anyseg}/{rtcuid:anyseg}/{rtmuid:anyseg}",
        rte_endpoint,
        token_methods,
    )
    both("/getToken", get_token, ["POST", "OPTIONS"])

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: unhandled})
    app.router.redirect_slashes = False
    return app


async def _read_body(request: Request) -> bytes:
    """The request body, refusing (413) more than MAX_REQUEST_BODY_BYTES without reading it all."""
    too_big = InvalidParameter("body-size", f"the request body is larger than {MAX_REQUEST_BODY_BYTES} bytes")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_REQUEST_BODY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


_POST_FIELDS = {
    "rtc": ("tokenType", "channel", "role", "uid", "expire"),
    "rtm": ("tokenType", "uid", "expire"),
}
_POST_SHAPE = (
    'send a JSON object {"tokenType": "rtc", "channel": "...", "role": "publisher"|"subscriber", '
    '"uid": "<string>", "expire": <seconds>} or {"tokenType": "rtm", "uid": "<string>", "expire": <seconds>}'
)


def _post_token(raw: bytes, tokens: TokenIssuer, default: int, maximum: int) -> str:
    """POST /getToken: validate the JSON body and issue the token it asks for."""
    if not raw.strip():
        raise InvalidParameter("body", f"the request body is empty: {_POST_SHAPE}")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidParameter("body", f"the request body is not valid JSON: {_POST_SHAPE}") from None
    if not isinstance(body, dict):
        raise InvalidParameter("body", f"the request body is JSON but not an object: {_POST_SHAPE}")
    kind = body.get("tokenType", MISSING)
    if not isinstance(kind, str) or kind not in _POST_FIELDS:  # a list or object is unhashable
        raise InvalidParameter(
            "tokenType",
            f'tokenType must be "rtc" or "rtm", got {"nothing" if kind is MISSING else shown(kind)}',
        )
    allowed = _POST_FIELDS[kind]
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise InvalidParameter(
            unknown[0],
            f"unknown field {shown(unknown[0])} for tokenType {kind}: the accepted fields are {', '.join(allowed)}",
        )

    def text(name: str) -> str:
        value = body.get(name, MISSING)
        if value is MISSING:
            raise InvalidParameter(name, f"{name} is required for tokenType {kind}: {_POST_SHAPE}")
        if not isinstance(value, str):
            raise InvalidParameter(name, f"{name} must be a JSON string, got {shown(value)}")
        return value

    if kind == "rtm":
        user = parse_rtm_user(text("uid"))
        return tokens.rtm(user, parse_expire_json(body.get("expire", MISSING), default, maximum))
    channel = parse_channel(text("channel"))
    role = parse_role(text("role"))
    uid_text = text("uid")
    # Digits mean a numeric uid (as in the Go server), anything else a user account.
    if uid_text.isascii() and uid_text.isdigit():
        tokentype, uid = "uid", parse_numeric_uid(uid_text)
    else:
        tokentype, uid = "userAccount", parse_uid(uid_text, "userAccount")
    expiry = parse_expire_json(body.get("expire", MISSING), default, maximum)
    return tokens.rtc(channel, role, tokentype, uid, expiry)
