"""The false-alarm catalogue: correct token servers that make legitimate choices the reference server does not.

The dual of tests/faulty/servers.py. Every variant is right by RFC 9110/9111, the Fetch standard's CORS
protocol and Agora's token semantics, and differs from the reference server in one visible way; the suite must
pass it under ``--strict``. A few legitimately miss a SHOULD (``misses``, with the reason): those are judged
without --strict, must fail exactly those cases, and still exit 0.

Most variants are the reference app behind one ASGI wrapper (the faulty servers' building blocks); choices
that live below ASGI use ``serve``'s uvicorn options, IPv6 socket or ``http.server`` front.
tests/variants/test_variants.py proves each one by the sections its choice touches;
tools/false_alarm_score.py runs each one in full and writes docs/false-alarms.md.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conformance.contract import REQUIREMENTS, SECTIONS, by_id
from conformance.reference.app import Settings, create_app
from conformance.reference.issuer import TokenIssuer
from conformance.tokens.encode import build_006
from tests.faulty import small
from tests.faulty.asgi import ASGIApp, Reply, intercept, json_response, rewrite
from tests.faulty.issuers import Issuer006, salt, uid_value
from tests.faulty.servers import (
    AUTH_HEADER,
    NEEDS_CREDENTIALS,
    NEEDS_WEB_ORIGIN,
    SLOW_CASES,
    WEB_ORIGIN,
    WebCors,
    node_like,
    web_app_server,
)

from .serve import Serve, asgi, stdlib_front

ALL_SECTIONS = tuple(SECTIONS)


@dataclass(frozen=True)
class Variant:
    """One correct server: the choice it makes, how to serve it, and the sections that choice touches."""

    key: str
    choice: str
    #: Why the choice is legitimate (the standard or the deployment it follows).
    why: str
    serve: Serve
    sections: tuple[str, ...]
    #: SHOULD/MAY cases it legitimately fails, with the reason; judged without --strict then.
    misses: Mapping[str, str] = field(default_factory=dict)
    #: Cases that skip by design (a route the profile does not have), with the reason.
    skips: Mapping[str, str] = field(default_factory=dict)
    profile: str | None = None
    #: Slow cases (EXPIRY-5/6/7, PROP-1) the proof runs because the choice touches them.
    slow: frozenset[str] = frozenset()
    #: Run with the test credential configured (AUTH_HEADER) and these web origins declared, confirmed with
    #: --browser (HEADER-5's variants: a web app fetching with the bearer credential).
    web_origins: tuple[str, ...] = ()

    @property
    def credentials(self) -> bool:
        return bool(self.web_origins)

    @property
    def strict(self) -> bool:
        return not self.misses

    @cached_property
    def proof_cases(self) -> tuple[str, ...]:
        return tuple(r.id for r in REQUIREMENTS if r.section in self.sections and r.id not in NEEDS_CREDENTIALS
                     and (r.id not in NEEDS_WEB_ORIGIN or self.web_origins)
                     and (r.id not in SLOW_CASES or r.id in self.slow or r.id in self.misses))


# --- helpers ------------------------------------------------------------------------------------------------


def _path(request: Request) -> str:
    return str(request.scope["path"])


def _reference(issuer: Callable[[Settings], TokenIssuer] | None = None) -> Callable[[Settings], ASGIApp]:
    return lambda s: create_app(s, issuer(s) if issuer else None)


def _around(wrap: Callable[[ASGIApp, Settings], ASGIApp]) -> Callable[[Settings], ASGIApp]:
    return lambda s: wrap(create_app(s), s)


def _rewritten(fn: Callable[[Request, Reply], None]) -> Serve:
    return asgi(_around(lambda app, s: rewrite(app, fn)))


def _strip_cors(request: Request, reply: Reply) -> None:
    reply.headers = [(k, v) for k, v in reply.headers if not k.lower().startswith("access-control-")]


def _json_body(fn: Callable[[Request, Reply, object], object | None]) -> Callable[[Request, Reply], None]:
    def change(request: Request, reply: Reply) -> None:
        body = reply.json()
        if body is not None:
            new = fn(request, reply, body)
            if new is not None:
                reply.set_json(new)

    return change


# --- transport ------------------------------------------------------------------------------------------------


def _gzip(request: Request, reply: Reply) -> None:
    """Content-Encoding: gzip (RFC 9110 8.4.1.3) for every non-empty body, when the client accepts it."""
    accepted = {p.split(";")[0].strip().lower() for p in request.headers.get("accept-encoding", "").split(",")}
    if "gzip" in accepted and reply.body:
        reply.body = gzip.compress(reply.body)
        reply.set_header("content-encoding", "gzip")
        reply.set_header("vary", "Accept-Encoding")


def _deflate(request: Request, reply: Reply) -> None:
    """Content-Encoding: deflate (the zlib format, RFC 9110 8.4.1.2) whenever the client accepts it."""
    accepted = {p.split(";")[0].strip().lower() for p in request.headers.get("accept-encoding", "").split(",")}
    if "deflate" in accepted and reply.body:
        reply.body = zlib.compress(reply.body)
        reply.set_header("content-encoding", "deflate")
        reply.set_header("vary", "Accept-Encoding")


def _chunked(app: ASGIApp, s: Settings) -> ASGIApp:
    """Every body sent in three chunks without Content-Length: uvicorn frames it with chunked transfer coding."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: dict = {}  # type: ignore[type-arg]
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await app(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": headers})
        third = max(1, len(body) // 3)
        pieces = [body[:third], body[third:2 * third], body[2 * third:]]
        for n, piece in enumerate(pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": n < 2})

    return wrapped


def _connection_close(request: Request, reply: Reply) -> None:
    reply.set_header("connection", "close")


def _slow(app: ASGIApp, s: Settings) -> ASGIApp:
    """Every answer 300 ms late: slow, but far inside the client's 10 s timeout."""

    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http":
            await asyncio.sleep(0.3)
        await app(scope, receive, send)

    return wrapped


# --- CORS ---------------------------------------------------------------------------------------------------------


def _no_cors(app: ASGIApp, s: Settings) -> ASGIApp:
    """No CORS at all (native-app clients only): no Access-Control-* header, OPTIONS is an unknown method."""

    def refuse_options(request: Request) -> Response | None:
        if request.method == "OPTIONS":
            return Response(json.dumps({"error": "method not allowed"}), status_code=405, media_type="application/json",
                            headers={"Allow": "GET", "Cache-Control": "no-store"})
        return None

    return intercept(rewrite(app, _strip_cors), refuse_options)


APP_ORIGIN = "https://app.example"


def _cors_allow_list(app: ASGIApp, s: Settings) -> ASGIApp:
    """Starlette's CORSMiddleware with one allowed origin and credentials (the origin is listed, not reflected)."""
    return CORSMiddleware(rewrite(app, _strip_cors), allow_origins=[APP_ORIGIN], allow_credentials=True,
                          allow_methods=["GET", "POST"], allow_headers=["Content-Type", "Authorization"])


def _cors_allow_list_403(request: Request) -> Response | None:
    """The Go server's choice: an unlisted Origin is refused with 403."""
    origin = request.headers.get("origin")
    if origin is not None and origin != APP_ORIGIN:
        return json_response(403, {"error": "origin not allowed"},
                             headers={"Cache-Control": "no-store", "Vary": "Origin"})
    return None


def _cors_middleware_before_auth(app: ASGIApp, s: Settings) -> ASGIApp:
    """Starlette's CORSMiddleware in front of a bearer-token check: it answers preflights before authentication."""
    name, expected = AUTH_HEADER

    def auth(request: Request) -> Response | None:
        if _path(request).startswith(("/rtc/", "/rtm/", "/rte/", "/getToken")) and request.headers.get(name) != expected:
            return json_response(401, {"error": "unauthorized"})
        return None

    return CORSMiddleware(rewrite(intercept(app, auth), _strip_cors), allow_origins=[WEB_ORIGIN],
                          allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])


def _reflect_without_credentials(request: Request, reply: Reply) -> None:
    origin = request.headers.get("origin")
    if origin is not None:
        reply.set_header("access-control-allow-origin", origin)
        reply.set_header("vary", "Origin")


# --- bodies and statuses ----------------------------------------------------------------------------------------------


def _extra_fields(request: Request, reply: Reply, body: object) -> object | None:
    if reply.status == 200 and isinstance(body, dict) and any(k.endswith(("token", "Token")) for k in body):
        return {**body, "expiresIn": 3600, "issuedAt": "2026-01-01T00:00:00Z", "server": "variant"}
    return None


def _pretty(request: Request, reply: Reply) -> None:
    body = reply.json()
    if body is not None:
        reply.body = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        reply.set_header("content-type", "application/json; charset=utf-8")


def _ascii_json(request: Request, reply: Reply) -> None:
    body = reply.json()
    if body is not None:
        reply.body = json.dumps(body).encode("ascii")  # ensure_ascii: "Zoë" travels as "Zo\u00eb"


def _message_key(request: Request, reply: Reply, body: object) -> object | None:
    if reply.status >= 400 and isinstance(body, dict) and "error" in body:
        return {"message": body["error"], "code": reply.status}
    return None


def _problem_details(request: Request, reply: Reply, body: object) -> object | None:
    """RFC 9457: errors as application/problem+json with type, title, status and detail."""
    if reply.status >= 400 and isinstance(body, dict) and "error" in body:
        reply.set_header("content-type", "application/problem+json")
        return {"type": "about:blank", "title": "Bad Request" if reply.status == 400 else "Error",
                "status": reply.status, "detail": body["error"]}
    return None


def _echo_request(request: Request, reply: Reply, body: object) -> object | None:
    """Error bodies name the method, the path and a request id, as API gateways' errors do."""
    if reply.status >= 400 and isinstance(body, dict):
        return {**body, "method": request.method, "path": str(request.scope["path"]),
                "requestId": "req-7f3a9c", "timestamp": "2026-01-01T00:00:00.000Z"}
    return None


def _as_422(request: Request, reply: Reply) -> None:
    """FastAPI's choice: a request that parses but whose values are invalid is 422 Unprocessable Content."""
    if reply.status == 400:
        reply.status = 422


def _uid_route_regex(request: Request) -> Response | None:
    """A router that declares uid as [0-9]+: other uids match no route (404), as a mux pattern would."""
    seg = _path(request).split("/")
    if len(seg) >= 6 and seg[1] == "rtc" and seg[4] == "uid" and not seg[5].isdigit():
        return json_response(404, {"error": "not found"})
    return None


def _redirect_slash(status: int) -> Callable[[Request], Response | None]:
    """The token routes without their trailing slash redirect to the slash form (the Go server's gin: 301)."""

    def answer(request: Request) -> Response | None:
        path = _path(request)
        if request.method == "GET" and path.startswith(("/rtc/", "/rtm/", "/rte/")) and not path.endswith("/"):
            query = request.url.query
            return RedirectResponse(request.url.path + "/" + (f"?{query}" if query else ""), status_code=status)
        return None

    return answer


def _method_404(request: Request, reply: Reply) -> None:
    """A router that matches on method and path together: a wrong method is just no route (404)."""
    if reply.status == 405:
        reply.status = 404
        reply.set_header("allow", None)
        reply.set_json({"error": "not found"})


def _minimal_cache_control(request: Request, reply: Reply) -> None:
    reply.set_header("cache-control", "no-store")
    reply.set_header("pragma", None)
    reply.set_header("expires", None)


def _cache_control(value: str) -> Callable[[Request, Reply], None]:
    def rewrite_cache(request: Request, reply: Reply) -> None:
        reply.set_header("cache-control", value)
        reply.set_header("pragma", None)
        reply.set_header("expires", None)

    return rewrite_cache


def _security_headers(request: Request, reply: Reply) -> None:
    for name, value in (("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
                        ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
                        ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"),
                        ("X-Request-Id", "3f2c9a1e-variant"), ("RateLimit-Policy", "100;w=60"),
                        ("RateLimit", "limit=100, remaining=99, reset=60"), ("Server", "nginx")):
        reply.set_header(name, value)


# --- tokens -----------------------------------------------------------------------------------------------------------


class ProcessSalt006Issuer(Issuer006):
    """agora-access-token 2.0.4: 006 tokens, one salt drawn per process."""

    def __init__(self, app_id: str, certificate: str) -> None:
        super().__init__(app_id, certificate)
        self.process_salt = salt()

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        import time

        now = int(time.time())
        privileges = {p: now + expiry for p in ((1, 2, 3, 4) if role == "publisher" else (1,))}
        return build_006(self.app_id, self._certificate, channel, uid_value(tokentype, uid), salt=self.process_salt,
                         ts=now + 86400, privileges=privileges)


def _node(issuer: type[TokenIssuer]) -> Serve:
    return asgi(node_like(lambda s: issuer(s.app_id, s.certificate)))


def _settings_default(default: int) -> Callable[[Settings], ASGIApp]:
    def make(s: Settings) -> ASGIApp:
        return create_app(Settings(s.app_id, s.certificate, default_expiry=default, max_expiry=86400),
                          TokenIssuer(s.app_id, s.certificate))

    return make


# --- the catalogue ------------------------------------------------------------------------------------------------------

T = ("ROUTE", "TOKEN", "PROP")  # what a transport choice can break: reading the answer at all
ERR = ("INPUT", "SEC")

VARIANTS: tuple[Variant, ...] = (
    Variant("gzip", "Every answer gzip-compressed (Content-Encoding: gzip), as behind nginx or a CDN.",
            "RFC 9110 8.4: a client that sends Accept-Encoding: gzip must accept it.",
            _rewritten(_gzip), (*T, *ERR), slow=frozenset({"PROP-1"})),
    Variant("deflate", "Every answer deflate-compressed (Content-Encoding: deflate).",
            "RFC 9110 8.4.1.2: deflate is a registered coding the client offers.", _rewritten(_deflate), (*T, *ERR),
            slow=frozenset({"PROP-1"})),
    Variant("chunked", "Bodies sent in three chunks with Transfer-Encoding: chunked, no Content-Length.",
            "RFC 9112 7.1: chunked framing is every HTTP/1.1 client's to read.", asgi(_around(_chunked)), (*T, *ERR)),
    Variant("connection-close", "Connection: close on every answer (no keep-alive).",
            "RFC 9112 9.6: a server may close after any response.", _rewritten(_connection_close), (*T, "INPUT")),
    Variant("http10-501", "Python's http.server speaking HTTP/1.0 (one request per connection); PUT and DELETE "
            "get its own 501 Unsupported method.",
            "RFC 9110 15.6.2: 501 is the answer to a method the server supports for no resource; HTTP/1.0 is still "
            "valid HTTP.", stdlib_front(create_app), (*T, *ERR)),
    Variant("keepalive-limit", "HTTP/1.1 keep-alive closed after 3 requests per connection (nginx's "
            "keepalive_requests), PUT and DELETE answered 501.",
            "RFC 9112 9.6: Connection: close on the last response of a connection is normal.",
            stdlib_front(create_app, protocol="HTTP/1.1", requests_per_connection=3), (*T, "INPUT")),
    Variant("no-date", "No Date header.", "RFC 9110 6.6.1: a server without a reliable clock must not send one; "
            "EXPIRY-4 then judges the issue time against the harness clock alone.",
            asgi(create_app, date_header=False), ("EXPIRY",)),
    Variant("slow-300ms", "Every answer 300 ms late.", "Well inside the client's timeout (10 s).",
            asgi(_around(_slow)), ("ROUTE", "TOKEN", "EXPIRY"), slow=frozenset({"EXPIRY-5", "EXPIRY-6"})),
    Variant("ipv6-loopback", "Served on the IPv6 loopback, http://[::1]:port.", "::1 is loopback too.",
            asgi(create_app, host="::1"), ("ROUTE", "TOKEN")),
    Variant("no-cors", "No CORS at all: no Access-Control-* header, OPTIONS answered 405 (native-app clients only).",
            "Fetch standard: without Access-Control-Allow-Origin pages cannot read the answer, which is the intent.",
            asgi(_around(_no_cors)), ("HEADER", "INPUT")),
    Variant("cors-allow-list", "Starlette's CORSMiddleware: one listed origin, with credentials; other origins get "
            "no CORS headers, their preflight 400.",
            "Fetch standard: an exact listed origin may carry credentials; unlisted ones are simply unreadable.",
            asgi(_around(_cors_allow_list)), ("HEADER",)),
    Variant("cors-allow-list-403", "Unlisted origins refused with 403 (the Go server's choice).",
            "A deliberate refusal; HEADER-2 names it.", asgi(_around(lambda app, s: intercept(app, _cors_allow_list_403))),
            ("HEADER",)),
    Variant("cors-reflect", "Any Origin reflected in Access-Control-Allow-Origin, without credentials, with "
            "Vary: Origin.", "Without credentials a reflected origin grants no more than '*'.",
            _rewritten(_reflect_without_credentials), ("HEADER",)),
    Variant("web-allow-list", "Behind a bearer-token gateway, an allow-list answering the app's origin (Vary: Origin), "
            "Authorization allowed by name, OPTIONS exempt from authentication.",
            "Fetch standard: the exact origin and the header by name pass the CORS check; a preflight carries no "
            "credentials, so answering it unauthenticated is what a browser needs.",
            asgi(web_app_server(WebCors())), ("HEADER",), web_origins=(WEB_ORIGIN,)),
    Variant("web-wildcard-origin", "Behind a bearer-token gateway, Access-Control-Allow-Origin: * with Authorization "
            "allowed by name.",
            "Fetch standard: '*' is an acceptable origin for a request without cookies (credentials mode same-origin); "
            "only the headers' '*' cannot cover Authorization.",
            asgi(web_app_server(WebCors(allow_origin="*"))), ("HEADER",), web_origins=(WEB_ORIGIN,)),
    Variant("web-cors-middleware", "Starlette's CORSMiddleware in front of the bearer-token check: it answers "
            "preflights (OPTIONS exempt from authentication) and lists the app's origin and Authorization.",
            "The usual framework set-up; the middleware answers the preflight before any authentication.",
            asgi(_around(_cors_middleware_before_auth)), ("HEADER",), web_origins=(WEB_ORIGIN,)),
    Variant("extra-fields", "Token answers carry extra fields (expiresIn, issuedAt, server) next to the token.",
            "Clients read the key they need; the schemas allow additional properties.",
            _rewritten(_json_body(_extra_fields)), ("ROUTE", "TOKEN", "PROP"), slow=frozenset({"PROP-1"})),
    Variant("pretty-json", "Pretty-printed JSON with a trailing newline and Content-Type: application/json; "
            "charset=utf-8.", "RFC 8259: whitespace is insignificant; the charset parameter is allowed.",
            _rewritten(_pretty), ("ROUTE", "TOKEN", "INPUT", "PROP"), slow=frozenset({"PROP-1"})),
    Variant("ascii-json", "JSON with non-ASCII escaped (\\u00eb), as Python's json.dumps does by default.",
            "RFC 8259 7: an escaped character is the same string.", _rewritten(_ascii_json),
            ("ROUTE", "TOKEN", "INPUT")),
    Variant("redirect-301", "The token routes without their trailing slash redirect 301 to the slash form (gin).",
            "ROUTE-4 allows a same-host redirect; the Go server does it.",
            asgi(_around(lambda app, s: intercept(app, _redirect_slash(301)))), ("ROUTE", "INPUT")),
    Variant("redirect-308", "The token routes without their trailing slash redirect 308 to the slash form.",
            "RFC 9110 15.4.9: the permanent redirect that keeps the method.",
            asgi(_around(lambda app, s: intercept(app, _redirect_slash(308)))), ("ROUTE", "INPUT")),
    Variant("method-404", "A wrong method on a token route answers 404 (the router matches method and path together).",
            "RFC 9110 15.5.5 asks for 405 only of a server that knows the resource; INPUT-10 allows 404.",
            _rewritten(_method_404), ("INPUT", "SEC")),
    Variant("error-message-key", "Error bodies say {\"message\": ..., \"code\": 400} instead of {\"error\": ...}.",
            "INPUT-12 accepts either key: both public conventions.", _rewritten(_json_body(_message_key)),
            ("INPUT", "SEC")),
    Variant("problem-json", "Errors as RFC 9457 problem details (application/problem+json: type, title, status, "
            "detail).", "RFC 9457 is HTTP's standard JSON error format; INPUT-12 reads its detail.",
            _rewritten(_json_body(_problem_details)), ("INPUT", "SEC")),
    Variant("errors-echo-request", "Error bodies echo the method, the request path, a request id and a timestamp.",
            "The request path is the client's own input, not an internal file path or a stack trace.",
            _rewritten(_json_body(_echo_request)), ("INPUT", "SEC")),
    Variant("errors-422", "Invalid values answered 422 Unprocessable Content instead of 400 (FastAPI).",
            "RFC 9110 15.5.21: 422 is the status for a well-formed request with invalid values.",
            _rewritten(_as_422), ("INPUT", "SEC")),
    Variant("uid-route-404", "A non-numeric uid matches no route (the router declares uid as [0-9]+): 404.",
            "Any 4xx refuses it; which one is the router's business.",
            asgi(_around(lambda app, s: intercept(app, _uid_route_regex))), ("INPUT", "SEC")),
    Variant("cache-no-store-only", "Cache-Control: no-store alone (no Pragma, no Expires).",
            "RFC 9111 5.2.2.5: no-store is what keeps a token out of every cache.",
            _rewritten(_minimal_cache_control), ("HEADER",)),
    Variant("cache-no-cache", "Cache-Control: no-cache, private (a cache must ask the origin before any reuse).",
            "RFC 9111 5.2.2.4: a no-cache answer is never reused without validation at the origin, which answers a "
            "new token; HEADER-1 accepts it next to no-store (contract 1.4).",
            _rewritten(_cache_control("no-cache, private")), ("HEADER",)),
    Variant("security-headers", "HSTS, CSP, X-Frame-Options, Referrer-Policy, request id, RateLimit headers and "
            "Server: nginx on every answer.", "Extra headers a client ignores.", _rewritten(_security_headers),
            ("ROUTE", "HEADER", "SEC")),
    Variant("default-24h", "Without ?expiry, tokens live the longest allowed default, 86400 s.",
            "Agora's cap is 24 h; EXPIRY-2 allows (0, 86400].", asgi(_settings_default(86400)), ("EXPIRY",)),
    Variant("default-10min", "Without ?expiry, tokens live 600 s.", "Short defaults are a security choice.",
            asgi(_settings_default(600)), ("EXPIRY",)),
    Variant("node-006", "AccessToken 006 tokens and role 'audience', judged with the agora-node-tokenserver profile.",
            "The profile declares 006 (TOKEN-2); the Node server's role name.", _node(Issuer006),
            ("ROUTE", "TOKEN", "EXPIRY"), profile="agora-node-tokenserver", slow=frozenset({"EXPIRY-5", "EXPIRY-6"}),
            skips={"ROUTE-8": "the profile has no POST /getToken"}),
    Variant("node-006-process-salt", "006 tokens with one salt per process (agora-access-token 2.0.4), profile "
            "agora-node-tokenserver.",
            "Renewed tokens still differ by their times and get a recomputed expiry (EXPIRY-5 passes).",
            _node(ProcessSalt006Issuer), ("TOKEN", "EXPIRY"), profile="agora-node-tokenserver",
            slow=frozenset({"EXPIRY-5"}), skips={"ROUTE-8": "the profile has no POST /getToken"},
            misses={"EXPIRY-7": "one salt per process: a SHOULD, the renewal itself works (EXPIRY-5)"}),
)

# --- servers that take fewer inputs: judged with their hand-written FORMAT-18 profiles -----------------

_NO_ROUTES = {"ROUTE-6": "the profile has no RTM operation", "ROUTE-7": "the profile has no RTE operation",
              "ROUTE-8": "the profile has no POST /getToken", "ROUTE-9": "the server issues no account tokens",
              "TOKEN-5": "the server issues no account tokens", "TOKEN-9": "the profile has no RTM operation",
              "INPUT-2": "the request takes no token type",
              "ROUTE-4": "the token path has no trailing slash to leave out"}
_FIXED = {"EXPIRY-1": "a fixed lifetime: the request asks for none", "INPUT-7": "a fixed lifetime: no expiry field",
          "INPUT-8": "a fixed lifetime: no expiry field",
          "EXPIRY-6": "a fixed 3600 s lifetime is not waited out (EXPIRY-5 judges the renewal's freshness)"}

LONG_TAIL: tuple[Variant, ...] = (
    Variant("one-role-query", "GET /api/v1/rtcToken?channelName=c&uid=0 answering {\"key\": \"006...\"}: no role "
            "input (always a publisher token), no lifetime input (a fixed 3600 s).",
            "A server for an app whose every user publishes needs no role, and one lifetime is a policy; the profile "
            "says so (no {role}, no {expiry}), so INPUT-1, TOKEN-7, EXPIRY-1, INPUT-7/8 do not apply.",
            asgi(small.one_role_query()), ("TOKEN", "INPUT", "EXPIRY"), profile=small.profile("one-role-query"),
            slow=frozenset({"EXPIRY-5", "EXPIRY-7"}),
            skips={**_NO_ROUTES, **_FIXED, "TOKEN-7": "the server issues publisher tokens only",
                   "INPUT-1": "the request takes no role"}),
    Variant("chosen-uid-post", "POST /rtctoken {\"channel\", \"isPublisher\": true} answering {\"uid\": n, "
            "\"token\": \"006...\"}: the server draws the uid, the role is a JSON boolean, lifetimes 10..86400 s.",
            "Handing out uids is the server's to choose when it names them; a boolean role is two roles. The profile "
            "says so (no {uid}, roles true/false, expiry.min 10), so the uid bad inputs do not apply.",
            asgi(small.chosen_uid_post()), ("TOKEN", "INPUT", "EXPIRY", "PROP"),
            profile=small.profile("chosen-uid-post"), slow=frozenset({"EXPIRY-5", "EXPIRY-6", "PROP-1"}),
            skips={**_NO_ROUTES, "ROUTE-5": "the profile has no health operation",
                   **{c: "the server chooses the uid" for c in ("INPUT-3", "INPUT-4", "INPUT-5")}}),
    Variant("fixed-lifetime", "GET /fixed/{channel}/{role}/{uid} answering {\"token\": \"007...\"}: every token "
            "lives a fixed 3600 s.", "One lifetime for every token is a policy within Agora's 24 h cap.",
            asgi(small.fixed_lifetime()), ("INPUT", "EXPIRY"), profile=small.profile("fixed-lifetime"),
            slow=frozenset({"EXPIRY-5", "EXPIRY-7"}), skips={**_NO_ROUTES, **_FIXED}),
    Variant("raw-token", "GET /rtc_token?channel=&uid=&role=&expiry= answering the 007 token itself as a "
            "text/plain body (Flask's return token).",
            "A body that is the token is as readable as a JSON key when the client reads the body; text/plain says "
            "what it is (ROUTE-2 for a raw-token profile, contract 1.5).",
            asgi(small.raw_token()), ("ROUTE", "TOKEN", "PROP"), profile=small.profile("raw-token"),
            slow=frozenset({"PROP-1"}),
            skips={**_NO_ROUTES, "ROUTE-5": "the profile has no health operation"}),
)
VARIANTS = (*VARIANTS, *LONG_TAIL)

BY_KEY: dict[str, Variant] = {v.key: v for v in VARIANTS}
assert len(BY_KEY) == len(VARIANTS), "duplicate variant key"
assert all(set(v.sections) <= set(SECTIONS) for v in VARIANTS)
assert all(by_id(c).level.value != "MUST" for v in VARIANTS for c in v.misses), "a variant may miss no MUST"
