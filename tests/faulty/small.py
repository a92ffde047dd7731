"""Servers that take fewer inputs: the copy-pasted Express, Flask and Next.js handlers of the long tail.

Four shapes, each correct by default and each with the knobs that make the faults seen in the wild (one at a
time); their profiles are in ``tests/faulty/profiles/`` (written by hand in the FORMAT-18 keys):

- ``one_role_query``: ``GET /api/v1/rtcToken?channelName=c&uid=0`` -> ``{"key": "006..."}``: no role (always a
  publisher token), no lifetime (a fixed 3600 s), ``GET /health``;
- ``chosen_uid_post``: ``POST /rtctoken {"channel": "c", "isPublisher": true, "expire": 600}`` ->
  ``{"uid": 123456, "token": "006..."}``: the server draws the uid, the role is a JSON boolean, the lifetime
  optional within 10..86400 s; no health route;
- ``fixed_lifetime``: ``GET /fixed/{channel}/{role}/{uid}`` -> ``{"token": "007..."}``: every token lives the same
  fixed time; ``GET /ping``;
- ``raw_token``: ``GET /rtc_token?channel=c&uid=1&role=publisher&expiry=600`` -> the 007 token as a text/plain
  body (Flask's ``return token``, labelled as text).

Each refuses what it cannot use with a JSON 400 (the reference server's validation rules), answers unknown routes
404 and other methods 405, a CORS preflight 204, and never lets a token be cached.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.reference.app import COMMON_HEADERS, PREFLIGHT_HEADERS, Settings
from conformance.reference.validation import InvalidParameter, parse_channel, parse_numeric_uid
from conformance.tokens.encode import build_006, build_007, rtc_service
from conformance.tokens.model import MAX_UID

from .asgi import ASGIApp, json_response
from .issuers import DAY, ROLE_PRIVILEGES, salt

PROFILES = Path(__file__).parent / "profiles"


def profile(name: str) -> str:
    """The path of a small server's profile file."""
    return str(PROFILES / f"{name}.json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": message}, headers)


def _method_not_allowed(request: Request, allow: str) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={**PREFLIGHT_HEADERS, "Access-Control-Allow-Methods": allow})
    return _error(405, f"method {request.method} is not allowed here; allowed: {allow}",
                  {**COMMON_HEADERS, "Allow": allow})


async def _not_found(request: Request) -> Response:
    return _error(404, "not found")


def _app(routes: list[Route]) -> ASGIApp:
    app = Starlette(routes=routes)
    app.add_exception_handler(404, lambda request, exc: _error(404, "not found"))
    return app


def _query(request: Request, name: str) -> str:
    values = request.query_params.getlist(name)
    if not values:
        raise InvalidParameter(name, f"{name} is required")
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times")
    return values[0]


def token_006(s: Settings, channel: str, uid: int | str, publisher: bool, lifetime: int, *,
              salt_value: int | None = None) -> str:
    """agora-access-token's RtcTokenBuilder.buildTokenWithUid: privileges lapse ``lifetime`` s from now."""
    now = int(time.time())
    privileges = {p: now + lifetime for p in ROLE_PRIVILEGES["publisher" if publisher else "subscriber"]}
    return build_006(s.app_id, s.certificate, channel, uid, salt=salt_value or salt(), ts=now + DAY,
                     privileges=privileges)


def token_007(s: Settings, channel: str, uid: int, publisher: bool, lifetime: int) -> str:
    privileges = {p: lifetime for p in ROLE_PRIVILEGES["publisher" if publisher else "subscriber"]}
    return build_007(s.app_id, s.certificate, issue_ts=int(time.time()), expire=lifetime, salt=salt(),
                     services=[rtc_service(channel, uid, privileges)])


# --- 1. one role, fixed lifetime, {"key"} -------------------------------------------------------------------------


def one_role_query(*, uid0_as_text: bool = False, wrap_uid: bool = False, process_salt: bool = False,
                   cache_seconds: float = 0.0) -> Callable[[Settings], ASGIApp]:
    """``GET /api/v1/rtcToken?channelName=&uid=`` -> ``{"key": "006..."}``, always a publisher token of 3600 s.

    Faults: ``uid0_as_text`` binds uid 0 as the text "0" (one user named "0", not any uid); ``wrap_uid`` takes any
    decimal uid modulo 2^32 (4294967296 -> 0, any user); ``process_salt`` signs with one salt drawn at start-up
    (agora-access-token 2.0.4); ``cache_seconds`` answers the same token to the same request for that long.
    """

    def make(s: Settings) -> ASGIApp:
        one_salt = salt()
        cache: dict[tuple[str, str], tuple[float, str]] = {}

        async def rtc(request: Request) -> Response:
            if request.method != "GET":
                return _method_not_allowed(request, "GET")
            try:
                channel = parse_channel(_query(request, "channelName"))
                raw_uid = _query(request, "uid")
                if wrap_uid and raw_uid.isdigit():
                    uid = str(int(raw_uid) % 2**32)
                else:
                    uid = parse_numeric_uid(raw_uid)
            except InvalidParameter as exc:
                return _error(400, str(exc))
            cached = cache.get((channel, uid))
            if cached is not None and time.monotonic() - cached[0] < cache_seconds:
                return json_response(200, {"key": cached[1]})
            packed: int | str = uid if uid0_as_text and uid == "0" else int(uid)
            token = token_006(s, channel, packed, True, 3600, salt_value=one_salt if process_salt else None)
            if cache_seconds:
                cache[(channel, uid)] = (time.monotonic(), token)
            return json_response(200, {"key": token})

        async def health(request: Request) -> Response:
            if request.method != "GET":
                return _method_not_allowed(request, "GET")
            return json_response(200, {"status": "ok"})

        return _app([Route("/api/v1/rtcToken", rtc, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"]),
                     Route("/health", health, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])])

    return make


# --- 2. a uid the server chooses, a boolean role, a lifetime within limits --------------------------------------


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness, as ``isPublisher ? PUBLISHER : SUBSCRIBER`` reads a JSON value."""
    return value not in (False, None, 0, "") and not (isinstance(value, float) and value != value)


def chosen_uid_post(*, answered: Callable[[int], int] = lambda uid: uid, truthy_role: bool = False,
                    subscriber_publishes: bool = False, version: str = "006",
                    names_uid: bool = True) -> Callable[[Settings], ASGIApp]:
    """``POST /rtctoken {"channel", "isPublisher": bool, "expire"?}`` -> ``{"uid": n, "token": "006..."}``.

    The server draws a uid in 1..2^32-1 for every token and names it. Faults: ``answered`` maps the bound uid to
    the one the answer names; ``truthy_role`` reads isPublisher as JavaScript does ("no", "false", 1 are
    publishers); ``subscriber_publishes`` grants the publish privileges to isPublisher false too. ``version`` and
    ``names_uid`` (False: ``{"token"}`` alone, the uid only inside the token) are choices, not faults.
    """

    def make(s: Settings) -> ASGIApp:
        async def rtc(request: Request) -> Response:
            if request.method != "POST":
                return _method_not_allowed(request, "POST")
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _error(400, "the body must be a JSON object")
            if not isinstance(body, dict):
                return _error(400, "the body must be a JSON object")
            channel, role, expire = body.get("channel"), body.get("isPublisher"), body.get("expire", 3600)
            if not isinstance(channel, str):
                return _error(400, "channel must be a string")
            try:
                parse_channel(channel)
            except InvalidParameter as exc:
                return _error(400, str(exc))
            if truthy_role:
                publisher = _truthy(role)
            elif not isinstance(role, bool):
                return _error(400, f"isPublisher must be true or false, got {json.dumps(role)[:40]}")
            else:
                publisher = role
            if isinstance(expire, bool) or not isinstance(expire, int) or not 10 <= expire <= DAY:
                return _error(400, "expire must be a whole number of seconds from 10 to 86400")
            uid = secrets.randbelow(MAX_UID) + 1
            build = token_006 if version == "006" else token_007
            token = build(s, channel, uid, publisher or subscriber_publishes, expire)
            return json_response(200, {"uid": answered(uid), "token": token} if names_uid else {"token": token})

        return _app([Route("/rtctoken", rtc, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])])

    return make


# --- 3. a fixed lifetime ----------------------------------------------------------------------------------------------


def fixed_lifetime(lifetime: int = 3600) -> Callable[[Settings], ASGIApp]:
    """``GET /fixed/{channel}/{role}/{uid}`` -> ``{"token": "007..."}``: every token lives ``lifetime`` s."""

    def make(s: Settings) -> ASGIApp:
        async def rtc(request: Request) -> Response:
            if request.method != "GET":
                return _method_not_allowed(request, "GET")
            params = request.path_params
            role = params["role"]
            try:
                channel = parse_channel(params["channel"])
                uid = parse_numeric_uid(params["uid"])
            except InvalidParameter as exc:
                return _error(400, str(exc))
            if role not in ("publisher", "subscriber"):
                return _error(400, f"role must be publisher or subscriber, got {role[:40]!r}")
            return json_response(200, {"token": token_007(s, channel, int(uid), role == "publisher", lifetime)})

        async def ping(request: Request) -> Response:
            if request.method != "GET":
                return _method_not_allowed(request, "GET")
            return json_response(200, {"message": "pong"})

        methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
        return _app([Route("/fixed/{channel}/{role}/{uid}", rtc, methods=methods),
                     Route("/ping", ping, methods=methods)])

    return make


# --- 4. the token as the whole body -----------------------------------------------------------------------------------


def raw_token() -> Callable[[Settings], ASGIApp]:
    """``GET /rtc_token?channel=&uid=&role=&expiry=`` -> the 007 token as ``text/plain`` (a line feed after it)."""

    def make(s: Settings) -> ASGIApp:
        async def rtc(request: Request) -> Response:
            if request.method != "GET":
                return _method_not_allowed(request, "GET")
            try:
                channel = parse_channel(_query(request, "channel"))
                uid = parse_numeric_uid(_query(request, "uid"))
                role = _query(request, "role")
                expiry_values = request.query_params.getlist("expiry")
            except InvalidParameter as exc:
                return _error(400, str(exc))
            if role not in ("publisher", "subscriber"):
                return _error(400, f"role must be publisher or subscriber, got {role[:40]!r}")
            expiry = 3600
            if expiry_values:
                text = expiry_values[-1]
                if len(expiry_values) > 1 or not text.isdigit() or not 1 <= int(text) <= DAY:
                    return _error(400, "expiry must be a whole number of seconds from 1 to 86400")
                expiry = int(text)
            token = token_007(s, channel, int(uid), role == "publisher", expiry)
            return Response(token + "\n", media_type="text/plain", headers=COMMON_HEADERS)

        return _app([Route("/rtc_token", rtc, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"])])

    return make


# --- the faults of the long tail, one at a time -------------------------------------------------------------------


def other_uid(uid: int) -> int:
    """A uid that is not ``uid``: what a server that draws its random uid twice names in its answer."""
    return uid % MAX_UID + 1


@dataclass(frozen=True)
class SmallFault:
    """A small server with one fault, the profile it is judged with, and the narrow selection that proves it."""

    key: str
    fault: str
    requirement: str
    make: Callable[[Settings], ASGIApp]
    profile: str
    #: The cases a proof runs (the requirement's neighbours that the fault must leave passing).
    cases: tuple[str, ...]
    #: Other cases that fail, and why.
    also: frozenset[str] = frozenset()
    why: str = ""
    #: Cases that skip because a case that failed owns what they would judge ("judged by" it).
    skips: frozenset[str] = frozenset()

    @property
    def expected(self) -> frozenset[str]:
        return self.also | {self.requirement}


TOKEN_CASES = ("TOKEN-1", "TOKEN-2", "TOKEN-3", "TOKEN-4", "TOKEN-6", "TOKEN-7", "TOKEN-8", "SEC-4")
FRESH_CASES = ("EXPIRY-2", "EXPIRY-3", "EXPIRY-4", "EXPIRY-5", "EXPIRY-7")
UID_CASES = ("INPUT-3", "INPUT-4", "INPUT-5", "INPUT-6", "INPUT-11", "INPUT-12")

SMALL_FAULTS: tuple[SmallFault, ...] = (
    SmallFault("key-uid0-as-text", "The one-role {\"key\"} server binds uid 0 as the text \"0\" (one user) instead of "
               "\"\" (any uid).", "TOKEN-4", one_role_query(uid0_as_text=True), profile("one-role-query"),
               TOKEN_CASES),
    SmallFault("fixed-48h", "Every token of the fixed-lifetime server lives 48 h.", "EXPIRY-2",
               fixed_lifetime(172800), profile("fixed-lifetime-48h"), ("EXPIRY-1", "EXPIRY-2", "EXPIRY-3", "EXPIRY-4"),
               also=frozenset({"EXPIRY-3"}), why="a fixed 48 h is both the default lifetime and more than 24 h"),
    SmallFault("key-cached", "The one-role server answers the same token to the same request for 30 s.", "EXPIRY-5",
               one_role_query(cache_seconds=30), profile("one-role-query"), FRESH_CASES,
               skips=frozenset({"EXPIRY-7"})),
    SmallFault("key-process-salt", "The one-role server signs every token with one salt drawn at start-up "
               "(agora-access-token 2.0.4).", "EXPIRY-7", one_role_query(process_salt=True),
               profile("one-role-query"), FRESH_CASES),
    SmallFault("key-uid-wrapped", "The one-role server takes any decimal uid modulo 2^32 (4294967296 -> uid 0, any "
               "user).", "INPUT-5", one_role_query(wrap_uid=True), profile("one-role-query"), UID_CASES),
    SmallFault("post-answers-other-uid", "The chosen-uid server names another uid in its answer than the one its "
               "token is bound to.", "TOKEN-4", chosen_uid_post(answered=other_uid), profile("chosen-uid-post"),
               (*TOKEN_CASES, "EXPIRY-6")),
    SmallFault("post-truthy-role", "The chosen-uid server reads isPublisher as JavaScript does: \"no\", \"false\", "
               "1 and 'owner' give publisher tokens.", "INPUT-1", chosen_uid_post(truthy_role=True),
               profile("chosen-uid-post"), ("INPUT-1", "INPUT-6", "INPUT-11", "INPUT-12", "TOKEN-6", "TOKEN-7")),
    SmallFault("post-subscriber-publishes", "The chosen-uid server's isPublisher false tokens grant the publish "
               "privileges too.", "TOKEN-7", chosen_uid_post(subscriber_publishes=True), profile("chosen-uid-post"),
               TOKEN_CASES),
)
SMALL_BY_KEY = {f.key: f for f in SMALL_FAULTS}
assert len(SMALL_BY_KEY) == len(SMALL_FAULTS), "duplicate small fault key"
