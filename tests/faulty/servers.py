"""The catalogue of faulty token servers: each differs from the reference server in exactly one way.

A :class:`Fault` names the behaviour, the requirement it violates (its primary
case), and every case of the suite that is expected to fail against it: usually
the primary one alone; where one behaviour legitimately breaks two requirements
(a 500 page with a stack trace is a 5xx for bad input *and* a stack trace) the
others are listed with the reason. ``skips`` lists the cases that may skip
because a prerequisite failed (no token to judge).

Most faults are the reference app with a ``TokenIssuer`` subclass
(``issuers``) or one ASGI wrapper or replaced route (``asgi``) around it.
The proofs (tests/suite/test_proofs.py) and tools/detection_score.py run the
suite against each of them.
"""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from starlette.requests import Request
from starlette.responses import Response

from conformance.contract import REQUIREMENTS, SECTIONS, by_id
from conformance.reference.app import COMMON_HEADERS, Settings, create_app
from conformance.reference.issuer import TokenIssuer
from conformance.reference.validation import InvalidParameter, parse_channel, parse_expiry
from conformance.tokens import decode
from conformance.tokens.encode import ServiceSpec, build_006, build_007, rtc_service, rtm_service
from conformance.tokens.model import MAX_UID

from .asgi import (
    ASGIApp,
    Message,
    Receive,
    Reply,
    RtcParsers,
    Scope,
    Send,
    intercept,
    json_response,
    lax_rtc_routes,
    replace_routes,
    rewrite,
    rewrite_json_request,
    rewrite_path,
)
from .issuers import CraftedIssuer, Issuer006, resign, salt, uid_value

Factory = Callable[[Settings], ASGIApp]

#: Cases that wait on the clock or on Hypothesis; the proofs run them only for faults that expect them.
SLOW_CASES = frozenset({"EXPIRY-5", "EXPIRY-6", "EXPIRY-7", "PROP-1"})
#: Cases that run only with credentials configured (they skip otherwise, so a proof without them leaves them out).
NEEDS_CREDENTIALS = frozenset({"SEC-5", "SEC-6"})
#: Cases that run only with a web origin declared (--web-origin): not applicable otherwise.
NEEDS_WEB_ORIGIN = frozenset({"HEADER-5"})
#: The credential the authenticated servers (SEC-5/6, HEADER-5) expect, and the proofs configure (never a real secret).
AUTH_HEADER = ("Authorization", "Bearer conformance-test-credential-5f2c9a")
TOKEN_ROUTES = ("/rtc/", "/rtm/", "/rte/", "/getToken")
#: Cases whose bad inputs are judged against the plain RTC request: without a token there, "not judged".
NEEDS_RTC_CONTROL = frozenset({f"INPUT-{n}" for n in range(1, 13)} | {"SEC-1", "SEC-2", "SEC-3", "HEADER-4"})
#: Every case that needs a decoded RTC token of the default routes (they skip, "judged by ROUTE-1, TOKEN-1").
NEEDS_RTC_TOKEN = frozenset({"TOKEN-2", "TOKEN-4", "TOKEN-6", "TOKEN-7", "TOKEN-8", "EXPIRY-1", "EXPIRY-2",
                             "EXPIRY-3", "EXPIRY-4", "EXPIRY-5", "EXPIRY-6", "EXPIRY-7", "SEC-4"})


@dataclass(frozen=True)
class Fault:
    """One faulty behaviour, the cases expected to fail against it, and how to build the server."""

    key: str
    fault: str
    requirement: str
    make: Factory
    #: Other cases that fail in a full strict run (certificate and app id known), besides ``requirement``.
    also: frozenset[str] = frozenset()
    #: Why the cases in ``also`` fail too.
    why: str = ""
    #: Cases allowed to skip because what they judge was not delivered (a prerequisite failed).
    skips: frozenset[str] = frozenset()
    #: Run with the app id known (--app-id); False proves the consistency check of TOKEN-3.
    know_app_id: bool = True
    #: Set when the suite is known to miss this fault: why (the proofs mark it as an expected failure).
    known_miss: str = ""
    #: Run with the test credential configured (AUTH_HEADER): the authentication cases run only then.
    credentials: bool = False
    #: The client's timeout for this run (None: the default), so a too-slow server costs seconds, not tens.
    timeout: float | None = None
    #: The profile it is judged with (None: the default, agora-token-service).
    profile: str | None = None
    #: Web origins declared for the run (--web-origin); HEADER-5 runs only with one, confirmed with --browser.
    web_origins: tuple[str, ...] = ()
    #: With --browser: whether Chromium reads a token anyway (it lets '*' cover Authorization; the standard does not).
    browser_reads: bool = False

    @property
    def expected(self) -> frozenset[str]:
        return self.also | {self.requirement}

    @property
    def level(self) -> str:
        return by_id(self.requirement).level.value

    @cached_property
    def proof_cases(self) -> tuple[str, ...]:
        """What a proof runs: every case of the expected cases' sections, minus the slow ones it does not expect.

        PROP-1 runs only when it is the fault's own requirement (its other appearances are confirmed by the
        full runs of tools/detection_score.py).
        """
        sections = {c.rsplit("-", 1)[0] for c in self.expected}

        def wanted(case: str) -> bool:
            if case in NEEDS_CREDENTIALS and not self.credentials:
                return False
            if case in NEEDS_WEB_ORIGIN and not self.web_origins:
                return False
            if case == "PROP-1":
                return self.requirement == "PROP-1"
            return case not in SLOW_CASES or case in self.expected

        return tuple(r.id for r in REQUIREMENTS if r.section in sections and wanted(r.id))


# --- shared helpers -----------------------------------------------------------


def _issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer(settings.app_id, settings.certificate)


def reference_factory(issuer: Callable[[Settings], TokenIssuer] | None = None) -> Factory:
    """The reference app with another issuer: the token is the only difference."""
    return lambda s: create_app(s, issuer(s) if issuer else None)


def _path(request: Request) -> str:
    """The decoded request path (not ``request.url.path``, which a '?' or '#' in a channel name would cut)."""
    return str(request.scope["path"])


def _segments(request: Request) -> list[str]:
    return _path(request).split("/")


def _is_rtc(request: Request) -> bool:
    return _path(request).startswith("/rtc/")


def _around(wrap: Callable[[ASGIApp, Settings], ASGIApp]) -> Factory:
    """The reference app inside one wrapper."""
    return lambda s: wrap(create_app(s), s)


def _lax(parsers: Callable[[Settings], RtcParsers], issuer: Callable[[Settings], TokenIssuer] = _issuer) -> Factory:
    """The reference app whose RTC route reads one parameter differently."""
    return lambda s: replace_routes(create_app(s), lax_rtc_routes(issuer(s), parsers(s)))


def _on_rtc_path(fn: Callable[[list[str]], None]) -> Callable[[list[str]], list[str]]:
    """Apply ``fn`` to the segments of RTC-route-shaped paths only (``/rtc/c/r/t/u/`` or without the slash)."""

    def change(seg: list[str]) -> list[str]:
        if len(seg) in (6, 7) and seg[1] == "rtc" and (len(seg) == 6 or seg[6] == ""):
            seg = list(seg)
            fn(seg)
        return seg

    return change


def _set_body_key(rename: Callable[[dict[str, object]], object]) -> Callable[[Request, Reply], None]:
    def fn(request: Request, reply: Reply) -> None:
        body = reply.json()
        if reply.status == 200 and isinstance(body, dict):
            reply.set_json(rename(body))

    return fn


def _only(predicate: Callable[[Request], bool], fn: Callable[[Request, Reply], None]) -> Callable[[Request, Reply], None]:
    def gated(request: Request, reply: Reply) -> None:
        if predicate(request):
            fn(request, reply)

    return gated


# --- ROUTE ----------------------------------------------------------------------


def _no_slash_404(request: Request) -> Response | None:
    if _is_rtc(request) and not _path(request).endswith("/"):
        return json_response(404, {"error": "not found"})
    return None


def _prefix_404(*prefixes: str) -> Callable[[Request], Response | None]:
    def answer(request: Request) -> Response | None:
        path = _path(request)
        if any(path == p.rstrip("/") or path.startswith(p) for p in prefixes):
            return json_response(404, {"error": "not found"})
        return None

    return answer


def _text_plain(request: Request, reply: Reply) -> None:
    if reply.status == 200 and _path(request).rstrip("/") != "/ping":
        reply.set_header("content-type", "text/plain; charset=utf-8")


def _account_refused(request: Request) -> Response | None:
    seg = _segments(request)
    if _is_rtc(request) and len(seg) >= 6 and seg[4] == "userAccount":
        return json_response(400, {"error": 'tokentype must be "uid"', "status": 400})
    return None


ROUTE_FAULTS = [
    Fault("rtc-key-token", "The RTC route answers {\"token\": ...} instead of {\"rtcToken\": ...}.", "ROUTE-1",
          _around(lambda app, s: rewrite(app, _only(_is_rtc, _set_body_key(lambda b: {"token": b["rtcToken"]})))),
          also=frozenset({"ROUTE-4", "ROUTE-9", "ROUTE-3", "PROP-1"}),
          why="the form without the slash (ROUTE-4) and the userAccount form (ROUTE-9) are the same route; the body "
              "misses rtcToken, its schema's required key (ROUTE-3, and PROP-1's schema check)",
          skips=NEEDS_RTC_TOKEN | NEEDS_RTC_CONTROL | {"TOKEN-5"}),
    Fault("text-plain", "Token responses declare Content-Type: text/plain.", "ROUTE-2",
          _around(lambda app, s: rewrite(app, _text_plain))),
    Fault("nested-token", "The RTC token is nested: {\"rtcToken\": {\"token\": \"007...\"}}.", "ROUTE-3",
          _around(lambda app, s: rewrite(app, _only(_is_rtc, _set_body_key(lambda b: {"rtcToken": {"token": b["rtcToken"]}})))),
          also=frozenset({"ROUTE-1", "ROUTE-4", "ROUTE-9", "PROP-1"}),
          why="a nested token is no token for a client (ROUTE-1, and ROUTE-4, ROUTE-9 on the same route); PROP-1 "
              "validates the same schema",
          skips=NEEDS_RTC_TOKEN | NEEDS_RTC_CONTROL | {"TOKEN-5"}),
    Fault("token-newline", "The RTC token string ends with a line feed (\"007...\\n\").", "ROUTE-3",
          _around(lambda app, s: rewrite(app, _only(_is_rtc, _set_body_key(lambda b: {"rtcToken": str(b["rtcToken"]) + "\n"})))),
          also=frozenset({"PROP-1"}), why="PROP-1 validates the same response schema"),
    Fault("no-slash-404", "The RTC route without its trailing slash answers 404.", "ROUTE-4",
          _around(lambda app, s: intercept(app, _no_slash_404))),
    Fault("no-ping", "GET /ping answers 404 (the 2021-2023 Go builds).", "ROUTE-5",
          _around(lambda app, s: intercept(app, _prefix_404("/ping/"))),
          also=frozenset({"PROP-1"}), why="/ping is an operation PROP-1 explores, and it wants 200 for valid requests"),
    Fault("no-rtm-route", "GET /rtm/{uid}/ answers 404.", "ROUTE-6",
          _around(lambda app, s: intercept(app, _prefix_404("/rtm/"))), skips=frozenset({"TOKEN-8", "TOKEN-9"}),
          also=frozenset({"PROP-1"}), why="/rtm/{uid}/ is an operation PROP-1 explores, and it wants 200 for valid "
                                          "requests"),
    Fault("rte-without-rtm", "The RTE route answers only rtcToken, no rtmToken.", "ROUTE-7",
          _around(lambda app, s: rewrite(app, _only(lambda rq: _path(rq).startswith("/rte/"),
                                                    _set_body_key(lambda b: {"rtcToken": b["rtcToken"]})))),
          also=frozenset({"ROUTE-3", "PROP-1"}), why="rtmToken is required by the rte-token schema (ROUTE-3, PROP-1)"),
    Fault("post-key-rtctoken", "POST /getToken answers {\"rtcToken\": ...} instead of {\"token\": ...}.", "ROUTE-8",
          _around(lambda app, s: rewrite(app, _only(lambda rq: _path(rq) == "/getToken",
                                                    _set_body_key(lambda b: {"rtcToken": b["token"]})))),
          also=frozenset({"ROUTE-3", "PROP-1"}), why="token is required by the get-token schema (ROUTE-3, PROP-1)"),
    Fault("account-refused", "The userAccount form of the RTC route answers 400 'tokentype must be uid'.", "ROUTE-9",
          _around(lambda app, s: intercept(app, _account_refused)),
          also=frozenset({"PROP-1"}), why="a schema-valid userAccount request is rejected (PROP-1)",
          skips=frozenset({"TOKEN-5", "TOKEN-8"})),
]


# --- TOKEN ----------------------------------------------------------------------


class TruncatedIssuer(TokenIssuer):
    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        return super().rtc(channel, role, tokentype, uid, expiry)[:-7]


class AppIdByRoleIssuer(TokenIssuer):
    """Subscriber tokens come from a second backend configured with another project's app id."""

    def __init__(self, app_id: str, certificate: str) -> None:
        super().__init__(app_id, certificate)
        self.other = TokenIssuer(secrets.token_hex(16), certificate)

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        if role == "subscriber":
            return self.other.rtc(channel, role, tokentype, uid, expiry)
        return super().rtc(channel, role, tokentype, uid, expiry)


class LowercaseChannelIssuer(TokenIssuer):
    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        return super().rtc(channel.lower(), role, tokentype, uid, expiry)


class UidAsTextIssuer(CraftedIssuer):
    """uid 0 packed as "0" (a bound uid 0) instead of "" (any uid)."""

    def rtc_services(self, channel: str, role: str, tokentype: str, uid: str, value: int) -> list[ServiceSpec]:
        return [rtc_service(channel, uid, self.privileges(role, value))]


class NodeUidAsTextIssuer(Issuer006):
    """The Node server (agora-access-token 2.0.4): 006 tokens, uid 0 bound as the string "0" instead of ""."""

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        now = int(time.time())
        privileges = {p: now + expiry for p in ((1, 2, 3, 4) if role == "publisher" else (1,))}
        return build_006(self.app_id, self._certificate, channel, uid, salt=salt(), ts=now + 86400,
                         privileges=privileges)


def audience_role(seg: list[str]) -> list[str]:
    """The Node server's role name: 'audience' is the subscriber role (agora-node-tokenserver profile)."""
    if len(seg) > 3 and seg[1] in ("rtc", "rte") and seg[3] == "audience":
        seg = [*seg[:3], "subscriber", *seg[4:]]
    return seg


def node_like(issuer: Callable[[Settings], TokenIssuer]) -> Factory:
    """The reference app issuing with ``issuer`` and reading role 'audience' as the Node server does."""
    return lambda s: rewrite_path(create_app(s, issuer(s)), audience_role)


class Int32UidIssuer(CraftedIssuer):
    """uids above 2^31-1 read as signed 32-bit integers: 4294967295 becomes -1."""

    def rtc_services(self, channel: str, role: str, tokentype: str, uid: str, value: int) -> list[ServiceSpec]:
        packed = uid_value(tokentype, uid)
        if isinstance(packed, int) and packed >= 2**31:
            packed = str(packed - 2**32)
        return [rtc_service(channel, packed, self.privileges(role, value))]


class AsciiAccountIssuer(TokenIssuer):
    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        if tokentype == "userAccount":
            uid = uid.encode("ascii", "ignore").decode("ascii")
        return super().rtc(channel, role, tokentype, uid, expiry)


class RoleIssuer(TokenIssuer):
    """Issues ``role_map[role]``'s privileges for ``role``."""

    role_map: ClassVar[Mapping[str, str]] = {}

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        return super().rtc(channel, self.role_map.get(role, role), tokentype, uid, expiry)


class MutePublisherIssuer(RoleIssuer):
    role_map: ClassVar[Mapping[str, str]] = {"publisher": "subscriber"}


class SubscriberPublishesIssuer(RoleIssuer):
    role_map: ClassVar[Mapping[str, str]] = {"subscriber": "publisher"}


def _post_resigned(app: ASGIApp, s: Settings) -> ASGIApp:
    other = secrets.token_hex(16)

    def fn(request: Request, reply: Reply) -> None:
        body = reply.json()
        if _path(request) == "/getToken" and reply.status == 200 and isinstance(body, dict):
            reply.set_json({**body, "token": resign(str(body["token"]), other)})

    return rewrite(app, fn)


def _post_publisher_muted(request: Request, body: dict[str, object]) -> Response | None:
    if body.get("role") == "publisher":
        body["role"] = "subscriber"
    return None


def _rte_rtm_for_admin(app: ASGIApp, s: Settings) -> ASGIApp:
    issuer = _issuer(s)

    def fn(request: Request, reply: Reply) -> None:
        body = reply.json()
        if _path(request).startswith("/rte/") and reply.status == 200 and isinstance(body, dict):
            reply.set_json({**body, "rtmToken": issuer.rtm("admin", 3600)})

    return rewrite(app, fn)


class RtmAdminIssuer(TokenIssuer):
    def rtm(self, user_id: str, expiry: int) -> str:
        return super().rtm("admin", expiry)


TOKEN_FAULTS = [
    Fault("truncated-token", "RTC tokens lose their last 7 characters and no longer decode.", "TOKEN-1",
          reference_factory(lambda s: TruncatedIssuer(s.app_id, s.certificate)),
          skips=NEEDS_RTC_TOKEN | {"TOKEN-5"}),
    Fault("token-006", "RTC tokens are AccessToken 006 (correct otherwise) from a server profiled as 007.", "TOKEN-2",
          reference_factory(lambda s: Issuer006(s.app_id, s.certificate))),
    Fault("wrong-app-id", "Every token carries another project's app id (signed with the right certificate).",
          "TOKEN-3", reference_factory(lambda s: TokenIssuer(secrets.token_hex(16), s.certificate))),
    Fault("app-id-by-role", "Subscriber tokens carry another app id than publisher tokens (app id not given to "
          "the harness: the consistency check).", "TOKEN-3",
          reference_factory(lambda s: AppIdByRoleIssuer(s.app_id, s.certificate)), know_app_id=False),
    Fault("channel-lowercased", "Tokens are bound to the channel name in lower case.", "TOKEN-4",
          reference_factory(lambda s: LowercaseChannelIssuer(s.app_id, s.certificate))),
    Fault("uid0-as-text", "uid 0 is packed as \"0\" (one user) instead of \"\" (any uid).", "TOKEN-4",
          reference_factory(lambda s: UidAsTextIssuer(s.app_id, s.certificate))),
    Fault("node-uid0-as-text", "The Node server's 006 tokens bind uid 0 as the string \"0\" instead of \"\" "
          "(judged with the agora-node-tokenserver profile): TOKEN-4 alone fails, TOKEN-8 verifies the binding the "
          "token carries.", "TOKEN-4", node_like(lambda s: NodeUidAsTextIssuer(s.app_id, s.certificate)),
          profile="agora-node-tokenserver", skips=frozenset({"ROUTE-8"})),
    Fault("uid-int32", "uids above 2^31-1 are read as signed 32-bit: 4294967295 is packed as \"-1\".", "TOKEN-4",
          reference_factory(lambda s: Int32UidIssuer(s.app_id, s.certificate))),
    Fault("account-ascii", "Non-ASCII characters of user accounts are dropped (\"Zoë-帐户\" -> \"Zo-\").", "TOKEN-5",
          reference_factory(lambda s: AsciiAccountIssuer(s.app_id, s.certificate))),
    Fault("mute-publisher", "Publisher tokens grant only join channel (no publish privileges).", "TOKEN-6",
          reference_factory(lambda s: MutePublisherIssuer(s.app_id, s.certificate))),
    Fault("subscriber-publishes", "Subscriber tokens grant the publish privileges too.", "TOKEN-7",
          reference_factory(lambda s: SubscriberPublishesIssuer(s.app_id, s.certificate))),
    Fault("other-certificate", "Tokens are signed with another certificate.", "TOKEN-8",
          reference_factory(lambda s: TokenIssuer(s.app_id, secrets.token_hex(16)))),
    Fault("rtm-other-user", "RTM tokens are bound to user 'admin' whatever user id was asked.", "TOKEN-9",
          reference_factory(lambda s: RtmAdminIssuer(s.app_id, s.certificate))),
    Fault("post-other-certificate", "POST /getToken tokens are signed with another certificate (GET routes are "
          "right).", "TOKEN-8", _around(_post_resigned)),
    Fault("post-mute-publisher", "POST /getToken publisher tokens grant only join channel (GET routes are right).",
          "TOKEN-6", _around(lambda app, s: rewrite_json_request(app, _post_publisher_muted))),
    Fault("rte-rtm-other-user", "The RTE route's rtmToken is bound to user 'admin' (GET /rtm is right).", "TOKEN-9",
          _around(_rte_rtm_for_admin)),
]


# --- INPUT ----------------------------------------------------------------------

ROLES = ("publisher", "subscriber")
NUMBER = re.compile(r"-?[0-9]+")
NODE_STACK = """RangeError [ERR_OUT_OF_RANGE]: The value of "value" is out of range. It must be >= 0 and <= 4294967295. Received {value}
    at checkInt (node:internal/buffer:72:11)
    at writeU_Int32LE (node:internal/buffer:792:3)
    at Buffer.writeUInt32LE (node:internal/buffer:805:10)
    at ByteBuf.putUint32 (/usr/src/app/node_modules/agora-access-token/src/AccessToken.js:151:21)
    at AccessToken.build (/usr/src/app/node_modules/agora-access-token/src/AccessToken.js:38:25)
    at generateRTCToken (/usr/src/app/index.js:61:22)"""


def _downgrade_role(seg: list[str]) -> None:
    if seg[3] not in ROLES:
        seg[3] = "subscriber"


def _tokentype_as_account(seg: list[str]) -> None:
    if seg[4] not in ("uid", "userAccount"):
        seg[4] = "userAccount"


def _text_uid_as_account(seg: list[str]) -> None:
    if seg[4] == "uid" and not NUMBER.fullmatch(seg[5]):
        seg[4] = "userAccount"


def _wrap_negative_uid(seg: list[str]) -> None:
    if seg[4] == "uid" and NUMBER.fullmatch(seg[5]) and seg[5].startswith("-"):
        seg[5] = str(int(seg[5]) % 2**32)


def _wrap_large_uid(seg: list[str]) -> None:
    if seg[4] == "uid" and seg[5].isdigit() and int(seg[5]) > MAX_UID:
        seg[5] = str(int(seg[5]) % 2**32)


def _any_channel(value: str) -> str:
    """No channel validation beyond a 1 KB sanity cap."""
    return value if len(value.encode("utf-8")) <= 1024 else parse_channel(value)


def _parseint_expiry(values: list[str]) -> int:
    """Plain decimals as the reference; anything else as JavaScript's parseInt (abc -> NaN -> 0, 12abc -> 12)."""
    if not values or re.fullmatch(r"[0-9]{1,12}", values[0]):
        return parse_expiry(values, 3600, 86400)
    m = re.match(r"\s*([+-]?[0-9]+)", values[0])
    return max(int(m.group(1)), 0) if m else 0


def _unbounded_expiry(values: list[str]) -> int:
    """Decimal expiries unchecked (Go): 0 means the default, larger values wrap as uint32."""
    if values and values[0].isdigit():
        wrapped = int(values[0]) % 2**32
        return wrapped or 3600
    return parse_expiry(values, 3600, 86400)


def _oversized_413(request: Request) -> Response | None:
    if len(_path(request)) > 1024:
        return json_response(413, {"error": "payload too large", "status": 413})
    return None


def _token_for_unknown_routes(app: ASGIApp, s: Settings) -> ASGIApp:
    issuer = _issuer(s)

    def fn(request: Request, reply: Reply) -> None:
        if request.method == "GET" and reply.status == 404:
            reply.status = 200
            reply.set_header("content-type", "application/json")
            reply.set_json({"rtcToken": issuer.rtc("default", "publisher", "uid", "0", 3600)})

    return rewrite(app, fn)


def _node_crash(request: Request) -> Response | None:
    for value in request.query_params.getlist("expiry"):
        if value.isdigit() and int(value) + int(time.time()) > 2**32 - 1:
            trace = html.escape(NODE_STACK.format(value=value)).replace("\n", "<br>").replace("  ", " &nbsp;")
            page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                    f"</head>\n<body>\n<pre>{trace}</pre>\n</body>\n</html>\n")
            return Response(page, status_code=500, media_type="text/html",
                            headers={"X-Powered-By": "Express", "Content-Security-Policy": "default-src 'none'"})
    return None


def _post_expire_defaulted(request: Request, body: dict[str, object]) -> Response | None:
    """An expire the reference would refuse is dropped, so the default applies (``parseInt(x) || 3600``)."""
    expire = body.get("expire")
    if "expire" in body and not (isinstance(expire, int) and not isinstance(expire, bool) and 1 <= expire <= 86400):
        del body["expire"]
    return None


def _post_crash(request: Request, body: dict[str, object]) -> Response | None:
    """A non-string channel or uid reaches string code: Express's 500 page with the TypeError's stack."""
    for name in ("channel", "uid"):
        if name in body and not isinstance(body[name], str):
            stack = (f"TypeError: {name}.trim is not a function\n    at validate (/srv/app/routes/token.js:18:24)\n"
                     "    at handleGetToken (/srv/app/routes/token.js:41:5)")
            trace = html.escape(stack).replace("\n", "<br>").replace("  ", " &nbsp;")
            return Response(f"<!DOCTYPE html><html><body><pre>{trace}</pre></body></html>", status_code=500,
                            media_type="text/html")
    return None


def _html_errors(request: Request, reply: Reply) -> None:
    if reply.status >= 400:
        body = reply.json()
        message = str(body.get("error", "")) if isinstance(body, dict) else ""
        reply.body = (f"<html><head><title>{reply.status}</title></head><body><h1>{reply.status}</h1>"
                      f"<p>{html.escape(message)}</p></body></html>").encode()
        reply.set_header("content-type", "text/html; charset=utf-8")


INPUT_FAULTS = [
    Fault("role-downgraded", "An unknown role is silently issued a subscriber token (the Go server).", "INPUT-1",
          _around(lambda app, s: rewrite_path(app, _on_rtc_path(_downgrade_role)))),
    Fault("tokentype-unchecked", "An unknown token type is issued a userAccount token.", "INPUT-2",
          _around(lambda app, s: rewrite_path(app, _on_rtc_path(_tokentype_as_account)))),
    Fault("uid-text-accepted", "A non-numeric uid is passed through as a user account (the Node server).", "INPUT-3",
          _around(lambda app, s: rewrite_path(app, _on_rtc_path(_text_uid_as_account)))),
    Fault("uid-negative-wrapped", "A negative uid wraps to uint32 (-1 -> 4294967295) and gets a token.", "INPUT-4",
          _around(lambda app, s: rewrite_path(app, _on_rtc_path(_wrap_negative_uid)))),
    Fault("uid-large-wrapped", "A uid above 4294967295 wraps modulo 2^32 (4294967296 -> 0, the Go server).",
          "INPUT-5", _around(lambda app, s: rewrite_path(app, _on_rtc_path(_wrap_large_uid)))),
    Fault("channel-unchecked", "Channel names are not validated (empty, 65 bytes, '*', non-ASCII all get tokens).",
          "INPUT-6", _lax(lambda s: RtcParsers(channel=_any_channel))),
    Fault("expiry-parseint", "expiry is read like JavaScript parseInt: 'abc' -> lifetime 0, '12abc' -> 12, "
          "'1e3' -> 1, '-5' -> 0 (the Node server).", "INPUT-7", _lax(lambda s: RtcParsers(expiry=_parseint_expiry))),
    Fault("expiry-unbounded", "expiry 0 means the default, 86401 is honoured, 4294967297 wraps to 1 (the Go server).",
          "INPUT-8", _lax(lambda s: RtcParsers(expiry=_unbounded_expiry))),
    Fault("oversized-413", "A path over 1 KB is answered 413 Payload Too Large (414 URI Too Long is meant).",
          "INPUT-9", _around(lambda app, s: intercept(app, _oversized_413))),
    Fault("unknown-route-token", "Any unknown GET route is answered 200 with a token (a catch-all route).",
          "INPUT-10", _around(_token_for_unknown_routes)),
    Fault("node-500-page", "An expiry that overflows uint32 crashes the handler: 500 with Express's HTML page "
          "and a stack trace (the Node server).", "INPUT-11", _around(lambda app, s: intercept(app, _node_crash)),
          also=frozenset({"INPUT-8", "SEC-2"}),
          why="the crash answers a bad-input request of INPUT-8 (expiry 4294967297) with a 5xx instead of a 4xx, "
              "and the page carries a stack trace (SEC-2)"),
    Fault("post-expire-defaulted", "POST /getToken replaces an invalid expire (\"abc\", -5, 1.5) by the default "
          "instead of refusing it.", "INPUT-7", _around(lambda app, s: rewrite_json_request(app, _post_expire_defaulted))),
    Fault("post-crash-500", "POST /getToken with a non-string channel or uid crashes: 500 with a stack trace.",
          "INPUT-11", _around(lambda app, s: rewrite_json_request(app, _post_crash)),
          also=frozenset({"INPUT-3", "INPUT-6", "SEC-2"}),
          why="the crash answers the bad-input rows with a non-string uid (INPUT-3) and channel (INPUT-6) with a 5xx "
              "instead of a 4xx, and the page carries the TypeError's stack (SEC-2)"),
    Fault("html-errors", "Error responses are HTML pages, not JSON.", "INPUT-12",
          _around(lambda app, s: rewrite(app, _html_errors))),
]


# --- EXPIRY ---------------------------------------------------------------------


class FixedLifetimeIssuer(CraftedIssuer):
    def lifetimes(self, expiry: int) -> tuple[int, int]:
        return 3600, 3600


class AbsoluteExpiryIssuer(CraftedIssuer):
    """The 2023 Go bug: now + expiry passed to a builder that expects seconds after issue."""

    def lifetimes(self, expiry: int) -> tuple[int, int]:
        absolute = int(time.time()) + expiry
        return absolute, absolute


class ForeverIssuer(CraftedIssuer):
    """The largest lifetime a 007 token can carry (136 years), privileges without a limit of their own."""

    def lifetimes(self, expiry: int) -> tuple[int, int]:
        return 2**32 - 1, 0


class WholeMinutesIssuer(CraftedIssuer):
    """Lifetimes rounded down to whole minutes: fine for 600 or 3600, 0 for anything under a minute."""

    def lifetimes(self, expiry: int) -> tuple[int, int]:
        rounded = expiry // 60 * 60
        return rounded, rounded


class SkewedClockIssuer(CraftedIssuer):
    skew = 0

    def now(self) -> int:
        return int(time.time()) + self.skew


class ClockAheadIssuer(SkewedClockIssuer):
    skew = 600


class ClockBehindIssuer(SkewedClockIssuer):
    skew = -600


class FrozenClockIssuer(CraftedIssuer):
    """The issue time is read once, when the process started (here: ten minutes before the run)."""

    def __init__(self, app_id: str, certificate: str) -> None:
        super().__init__(app_id, certificate)
        self.started = int(time.time()) - 600

    def now(self) -> int:
        return self.started


class ProcessSaltIssuer(CraftedIssuer):
    """One salt per process, as agora-access-token 2.0.4 draws it: tokens still differ by their times."""

    def __init__(self, app_id: str, certificate: str) -> None:
        super().__init__(app_id, certificate)
        self.salt = salt()

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        expire, value = self.lifetimes(expiry)
        return build_007(self.app_id, self._certificate, issue_ts=self.now(), expire=expire, salt=self.salt,
                         services=self.rtc_services(channel, role, tokentype, uid, value))


class CachingIssuer(TokenIssuer):
    """Answers the same request with the same token for 30 s (a response cache keyed on the request)."""

    ttl = 30.0

    def __init__(self, app_id: str, certificate: str) -> None:
        super().__init__(app_id, certificate)
        self.cache: dict[tuple[str, ...], tuple[float, str]] = {}

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        key = (channel, role, tokentype, uid, str(expiry))
        hit = self.cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        token = super().rtc(channel, role, tokentype, uid, expiry)
        self.cache[key] = (time.monotonic(), token)
        return token


class RtmForeverIssuer(TokenIssuer):
    """RTM tokens (only) carry the largest 007 lifetime; RTC tokens are the reference's."""

    def rtm(self, user_id: str, expiry: int) -> str:
        return ForeverIssuer(self.app_id, self._certificate).rtm(user_id, expiry)


def _post_expire_ignored(request: Request, body: dict[str, object]) -> Response | None:
    """A valid expire is dropped (the default applies); an invalid one still reaches the reference's check."""
    expire = body.get("expire")
    if isinstance(expire, int) and not isinstance(expire, bool) and 1 <= expire <= 86400:
        del body["expire"]
    return None


def _default_expiry(default: int, scale: int = 1) -> Callable[[Settings], RtcParsers]:
    """Parsers whose ?expiry default is ``default`` and whose given values are multiplied by ``scale``."""

    def expiry(values: list[str]) -> int:
        return parse_expiry(values, 3600, 86400) * scale if values else default

    return lambda s: RtcParsers(expiry=expiry)


def _crafted(cls: type[CraftedIssuer] | type[TokenIssuer]) -> Factory:
    return reference_factory(lambda s: cls(s.app_id, s.certificate))


EXPIRY_FAULTS = [
    Fault("expiry-ignored", "?expiry is ignored: every token lives 3600 s.", "EXPIRY-1", _crafted(FixedLifetimeIssuer)),
    Fault("expiry-minutes", "?expiry is read as minutes (600 -> 36000 s).", "EXPIRY-1",
          _lax(_default_expiry(3600, scale=60)), also=frozenset({"EXPIRY-3"}),
          why="?expiry=86400 becomes 60 days, beyond the 24 h cap (EXPIRY-3)"),
    Fault("absolute-expiry", "007 lifetimes are absolute times (now + expiry) instead of seconds after issue "
          "(Go, 2023-06/07).", "EXPIRY-1", _crafted(AbsoluteExpiryIssuer), also=frozenset({"EXPIRY-2", "EXPIRY-3"}),
          why="every lifetime is ~56 years, so the default one (EXPIRY-2) and the 24 h cap (EXPIRY-3) fail too"),
    Fault("forever", "Tokens carry the largest 007 lifetime (2^32-1 s, 136 years) and privileges without a limit.",
          "EXPIRY-3", _crafted(ForeverIssuer), also=frozenset({"EXPIRY-1", "EXPIRY-2"}),
          why="no requested or default lifetime is honoured either"),
    Fault("rtm-forever", "RTM tokens carry the largest 007 lifetime (136 years); RTC tokens are right.", "EXPIRY-3",
          _crafted(RtmForeverIssuer)),
    Fault("post-expire-ignored", "POST /getToken ignores expire: every token lives the default 3600 s.", "EXPIRY-1",
          _around(lambda app, s: rewrite_json_request(app, _post_expire_ignored))),
    Fault("default-zero", "Without ?expiry the token lifetime is 0 (expired at issue).", "EXPIRY-2",
          _lax(_default_expiry(0))),
    Fault("default-two-days", "Without ?expiry tokens live 48 h.", "EXPIRY-2", _lax(_default_expiry(172800)),
          also=frozenset({"EXPIRY-3"}), why="EXPIRY-3 checks the default lifetime against the 24 h cap as well"),
    Fault("clock-ahead", "The server clock is 10 minutes ahead (issue time now + 600 s).", "EXPIRY-4",
          _crafted(ClockAheadIssuer)),
    Fault("clock-behind", "The server clock is 10 minutes behind (issue time now - 600 s).", "EXPIRY-4",
          _crafted(ClockBehindIssuer), also=frozenset({"EXPIRY-6"}),
          why="an 8 s token issued 600 s in the past is expired on arrival, so renewal cannot work (EXPIRY-6)"),
    Fault("cached-30s", "The same request gets the same token for 30 s (response cache).", "EXPIRY-5",
          _crafted(CachingIssuer), also=frozenset({"EXPIRY-6"}), skips=frozenset({"EXPIRY-7"}),
          why="the renewal at the will-expire point gets the cached token, whose expiry is not later (EXPIRY-6)"),
    Fault("frozen-issue-time", "The issue time was read once at process start, 10 minutes before the run.",
          "EXPIRY-5", _crafted(FrozenClockIssuer), also=frozenset({"EXPIRY-4", "EXPIRY-6"}),
          why="the issue time is 600 s old (EXPIRY-4), so short tokens are expired on arrival (EXPIRY-6)"),
    Fault("salt-per-process", "One salt drawn at start-up signs every token (agora-access-token 2.0.4).",
          "EXPIRY-7", _crafted(ProcessSaltIssuer)),
    Fault("whole-minutes", "Lifetimes are rounded down to whole minutes: an 8 s token lives 0 s.", "EXPIRY-6",
          _crafted(WholeMinutesIssuer)),
]


# --- HEADER ---------------------------------------------------------------------


def _cacheable(request: Request, reply: Reply) -> None:
    if reply.status == 200:
        reply.set_header("cache-control", "public, max-age=300")
        reply.set_header("pragma", None)
        reply.set_header("expires", None)


def _rtm_cacheable(request: Request, reply: Reply) -> None:
    if _path(request).startswith("/rtm/"):
        _cacheable(request, reply)


def _cors_crash(request: Request) -> Response | None:
    if request.method == "GET" and "origin" in request.headers:
        return json_response(500, {"error": "internal error"})
    return None


def _no_preflight(request: Request) -> Response | None:
    if request.method == "OPTIONS":
        return json_response(405, {"error": "method OPTIONS is not allowed"})
    return None


def _reflect_with_credentials(request: Request, reply: Reply) -> None:
    """Any Origin echoed back, with credentials allowed (a common 'make CORS work' snippet)."""
    origin = request.headers.get("origin")
    if origin is not None:
        reply.set_header("access-control-allow-origin", origin)
        reply.set_header("access-control-allow-credentials", "true")
        reply.set_header("vary", "Origin")


# --- HEADER-5: a web app at WEB_ORIGIN fetches its token with the bearer credential ------------------------

#: The web app's origin the HEADER-5 proofs declare (--web-origin).
WEB_ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class WebCors:
    """How a token server behind a bearer-token gateway answers CORS for a web app (HEADER-5's servers).

    ``allow_origin``: "listed" answers the request's Origin when it is in ``listed`` (else no CORS header), "*"
    allows every origin, any other value is sent as it is (a static header naming one origin).
    """

    allow_origin: str = "listed"
    listed: tuple[str, ...] = (WEB_ORIGIN,)
    allow_headers: str = "Authorization, Content-Type"
    #: The gateway demands the credential on OPTIONS too (browsers never send it on a preflight).
    preflight_auth: bool = False
    #: The token answer carries Access-Control-Allow-Origin (else only the preflight does).
    answer_acao: bool = True

    def acao(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if self.allow_origin == "listed":
            return origin if origin in self.listed else None
        return self.allow_origin

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        acao = self.acao(origin)
        out = {} if acao is None else {"Access-Control-Allow-Origin": acao}
        if self.allow_origin != "*":
            out["Vary"] = "Origin"
        return out


def web_app_server(cors: WebCors) -> Factory:
    """The reference app behind a bearer-token gateway (AUTH_HEADER) and a CORS layer configured by ``cors``."""
    name, expected = AUTH_HEADER

    def answer(request: Request) -> Response | None:
        if not _path(request).startswith(TOKEN_ROUTES):
            return None
        origin = request.headers.get("origin")
        authorised = request.headers.get(name) == expected
        if request.method == "OPTIONS" and not (cors.preflight_auth and not authorised):
            return Response(status_code=204, headers={
                **cors.cors_headers(origin), "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": cors.allow_headers, "Access-Control-Max-Age": "600"})
        if not authorised:
            return json_response(401, {"error": "unauthorized"},
                                 {**COMMON_HEADERS, "WWW-Authenticate": 'Bearer realm="tokens"'})
        return None

    def answer_headers(request: Request, reply: Reply) -> None:
        if request.method == "OPTIONS" and reply.status == 204:
            return  # the CORS layer's own preflight answer
        reply.headers = [(k, v) for k, v in reply.headers if not k.lower().startswith("access-control-")]
        if cors.answer_acao:
            for key, value in cors.cors_headers(request.headers.get("origin")).items():
                reply.set_header(key, value)

    return _around(lambda app, s: rewrite(intercept(app, answer), answer_headers))


def _web(key: str, fault: str, cors: WebCors, *, browser_reads: bool = False, **more: object) -> Fault:
    return Fault(key, fault, "HEADER-5", web_app_server(cors), credentials=True, web_origins=(WEB_ORIGIN,),
                 browser_reads=browser_reads, **more)  # type: ignore[arg-type]


WEB_FAULTS = [
    _web("web-preflight-401", "The gateway demands the bearer token on the OPTIONS preflight too: 401.",
         WebCors(preflight_auth=True)),
    _web("web-authorization-not-allowed", "Access-Control-Allow-Headers lists Content-Type but not Authorization.",
         WebCors(allow_headers="Content-Type")),
    _web("web-wildcard-headers", "Access-Control-Allow-Headers: *, which the Fetch standard never lets cover "
         "Authorization (Chromium lets it through; Firefox and Safari block it).", WebCors(allow_headers="*"),
         browser_reads=True),
    _web("web-no-acao-on-answer", "The preflight allows the app's origin, but the token answer carries no "
         "Access-Control-Allow-Origin.", WebCors(answer_acao=False)),
    _web("web-other-origin", "Access-Control-Allow-Origin always names another origin "
         "(https://www.app.example.com, the www host instead of the app's).",
         WebCors(allow_origin="https://www.app.example.com"), also=frozenset({"HEADER-2"}),
         why="HEADER-2 sees the same static header answer its own Origin with another origin"),
]


HEADER_FAULTS = [
    Fault("cacheable", "Token responses say Cache-Control: public, max-age=300.", "HEADER-1",
          _around(lambda app, s: rewrite(app, _cacheable))),
    Fault("rtm-cacheable", "RTM token responses (only) say Cache-Control: public, max-age=300.", "HEADER-1",
          _around(lambda app, s: rewrite(app, _rtm_cacheable))),
    Fault("cors-500", "A token request with an Origin header answers 500.", "HEADER-2",
          _around(lambda app, s: intercept(app, _cors_crash))),
    Fault("no-preflight", "An OPTIONS preflight answers 405 with the CORS headers of a server that allows all "
          "origins.", "HEADER-3", _around(lambda app, s: intercept(app, _no_preflight))),
    Fault("reflect-origin-credentials", "Any Origin is reflected in Access-Control-Allow-Origin together with "
          "Access-Control-Allow-Credentials: true.", "HEADER-4",
          _around(lambda app, s: rewrite(app, _reflect_with_credentials))),
]


# --- SEC ------------------------------------------------------------------------


def _certificate_header(app: ASGIApp, s: Settings) -> ASGIApp:
    def fn(request: Request, reply: Reply) -> None:
        if reply.status == 200:
            reply.set_header("x-app-certificate", s.certificate)

    return rewrite(app, fn)


def _certificate_header_on_post(app: ASGIApp, s: Settings) -> ASGIApp:
    def fn(request: Request, reply: Reply) -> None:
        if _path(request) == "/getToken" and reply.status == 200:
            reply.set_header("x-app-certificate", s.certificate)

    return rewrite(app, fn)


def _certificate_in_errors(app: ASGIApp, s: Settings) -> ASGIApp:
    def fn(request: Request, reply: Reply) -> None:
        body = reply.json()
        if reply.status == 400 and isinstance(body, dict):
            reply.set_json({**body, "config": {"appId": s.app_id, "appCertificate": s.certificate}})

    return rewrite(app, fn)


PY_TRACE = ('Traceback (most recent call last):\n  File "/app/src/token_server/handlers.py", line 88, in rtc\n'
            "    uid = int(request.path_params['uid'])\nValueError: invalid literal for int() with base 10")


def _trace_in_400(request: Request, reply: Reply) -> None:
    body = reply.json()
    if reply.status == 400 and isinstance(body, dict):
        reply.set_json({**body, "detail": PY_TRACE})


BUNDLED_STACK = """BadRequestError: {message}
    at parseRequest (/srv/app/dist/server.js:1:48211)
    at handleRtc (/srv/app/dist/server.js:1:49377)
    at Layer.handle [as handle_request] (/srv/app/dist/server.js:1:20563)"""


def _express_error_page(request: Request, reply: Reply) -> None:
    """Express's default error handler (NODE_ENV unset) for an error with status 400: the stack as HTML."""
    body = reply.json()
    if reply.status == 400 and isinstance(body, dict):
        stack = BUNDLED_STACK.format(message=body.get("error", "bad request"))
        trace = html.escape(stack).replace("\n", "<br>").replace("  ", " &nbsp;")
        reply.body = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
                      f"</head>\n<body>\n<pre>{trace}</pre>\n</body>\n</html>\n").encode()
        reply.set_header("content-type", "text/html; charset=utf-8")


def _token_in_expiry_errors(app: ASGIApp, s: Settings) -> ASGIApp:
    """The token is built before the expiry range check, and the 400 carries it."""
    issuer = _issuer(s)

    def fn(request: Request, reply: Reply) -> None:
        seg = _segments(request)
        values = request.query_params.getlist("expiry")
        body = reply.json()
        if (reply.status == 400 and isinstance(body, dict) and _is_rtc(request) and len(seg) >= 6
                and values and values[0].isdigit()):
            token = issuer.rtc(seg[2], "publisher", "uid", "0", 3600)
            reply.set_json({**body, "rtcToken": token})

    return rewrite(app, fn)


class ExtraRtmServiceIssuer(CraftedIssuer):
    def rtc_services(self, channel: str, role: str, tokentype: str, uid: str, value: int) -> list[ServiceSpec]:
        return [*super().rtc_services(channel, role, tokentype, uid, value), rtm_service(uid, {1: value})]


class AdminPrivilegeIssuer(CraftedIssuer):
    """Publisher tokens also carry privilege 101 (administrate channel, removed upstream)."""

    def privileges(self, role: str, value: int) -> Mapping[int, int]:
        granted = dict(super().privileges(role, value))
        if role == "publisher":
            granted[101] = value
        return granted


def _post_extra_rtm_service(app: ASGIApp, s: Settings) -> ASGIApp:
    def fn(request: Request, reply: Reply) -> None:
        body = reply.json()
        if _path(request) == "/getToken" and reply.status == 200 and isinstance(body, dict):
            token = str(body["token"])
            rtc = decode(token).rtc
            if rtc is not None:
                extra = rtm_service(rtc.uid or "0", {1: rtc.privileges[0].value})
                reply.set_json({**body, "token": resign(token, s.certificate, extra=(extra,))})

    return rewrite(app, fn)


def _resigned_in_place(reply: Reply, s: Settings) -> None:
    """Every token of a 200 answer re-signed with the right certificate (a control: nothing may change)."""
    body = reply.json()
    if reply.status == 200 and isinstance(body, dict):
        reply.set_json({k: resign(v, s.certificate) if k.endswith(("token", "Token")) else v for k, v in body.items()})


SEC_FAULTS = [
    Fault("certificate-header", "Token responses carry the app certificate in an X-App-Certificate header.",
          "SEC-1", _around(_certificate_header)),
    Fault("certificate-header-post", "POST /getToken responses (only) carry the certificate in a header.", "SEC-1",
          _around(_certificate_header_on_post)),
    Fault("certificate-in-errors", "400 bodies echo the server config, certificate included.", "SEC-1",
          _around(_certificate_in_errors)),
    Fault("trace-in-400", "400 bodies carry a Python traceback under 'detail'.", "SEC-2",
          _around(lambda app, s: rewrite(app, _trace_in_400))),
    Fault("express-400-stack", "400s are Express's default error page with the stack trace of a bundled server "
          "(frames in /srv/app/dist/server.js).", "SEC-2", _around(lambda app, s: rewrite(app, _express_error_page)),
          also=frozenset({"INPUT-12"}), why="the error body is HTML, not JSON (INPUT-12)"),
    Fault("token-in-400", "The 400 for an out-of-range expiry carries the token built before the check.", "SEC-3",
          _around(_token_in_expiry_errors), also=frozenset({"INPUT-8"}),
          why="INPUT-8's rejections must come without a token"),
    Fault("post-plus-rtm", "POST /getToken RTC tokens also carry an RTM service (GET routes are right).", "SEC-4",
          _around(_post_extra_rtm_service)),
    Fault("rtc-plus-rtm", "RTC tokens also carry an RTM service (login) for the uid.", "SEC-4",
          _crafted(ExtraRtmServiceIssuer)),
    Fault("admin-privilege", "Publisher tokens also carry privilege 101 (administrate channel).", "SEC-4",
          _crafted(AdminPrivilegeIssuer)),
]


# --- authentication (SEC-5, SEC-6) -------------------------------------------------



def _requires_auth(*, open_prefixes: tuple[str, ...] = (), echo: bool = False, any_bearer: bool = False,
                   status: int = 401) -> Factory:
    """The reference app behind a bearer-token check on its token routes (/ping stays public, as gateways do).

    ``status`` 404: the routes are hidden from whoever lacks the credentials (RFC 9110 15.5.5).
    """
    name, expected = AUTH_HEADER

    def answer(request: Request) -> Response | None:
        path = _path(request)
        if not path.startswith(TOKEN_ROUTES) or path.startswith(open_prefixes):
            return None
        given = request.headers.get(name, "")
        if given == expected or (any_bearer and given.startswith("Bearer ")):
            return None
        if status == 404:
            return json_response(404, {"error": "not found"}, COMMON_HEADERS)
        body = {"error": "unauthorized"}
        if echo:
            body["error"] = f"unauthorized: expected {name}: {expected}"
        return json_response(401, body, {**COMMON_HEADERS, "WWW-Authenticate": 'Bearer realm="tokens"'})

    return _around(lambda app, s: intercept(app, answer))


AUTH_FAULTS = [
    Fault("auth-bypass-rtm", "Token routes require the bearer token, except GET /rtm/, which answers anyone.",
          "SEC-5", _requires_auth(open_prefixes=("/rtm/",)), credentials=True),
    Fault("auth-any-bearer", "Any 'Authorization: Bearer ...' is accepted: only the header's presence is checked.",
          "SEC-5", _requires_auth(any_bearer=True), credentials=True),
    Fault("auth-echo", "The 401 body names the expected credential ('expected Authorization: Bearer ...').",
          "SEC-6", _requires_auth(echo=True), credentials=True),
]


# --- LATENCY ----------------------------------------------------------------------


def slow_tokens(seconds: float) -> Factory:
    """The reference app whose token answers (200) leave ``seconds`` late: signing behind a slow key service."""

    def wrap(app: ASGIApp, s: Settings) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def delayed(message: Message) -> None:
                if message["type"] == "http.response.start" and message.get("status") == 200 \
                        and str(scope.get("path", "")).startswith(TOKEN_ROUTES):
                    await asyncio.sleep(seconds)
                await send(message)

            await app(scope, receive, delayed if scope["type"] == "http" else send)

        return wrapped

    return _around(wrap)


#: The client's timeout in the LATENCY-1 proof: the fault is "slower than the client", at a scale of seconds.
PROOF_TIMEOUT = 1.0

LATENCY_FAULTS = [
    Fault("slower-than-client", "Every token answer takes longer than the client's timeout (here 1.5 s against 1 s; "
          "the 11 s against 10 s of a real client is tests/suite/test_deployed.py's); /ping answers at once.",
          "LATENCY-1", slow_tokens(PROOF_TIMEOUT + 0.5), timeout=PROOF_TIMEOUT,
          # One root cause, one failure: every other case skips naming LATENCY-1 (one timeout, not one per case).
          skips=frozenset(r.id for r in REQUIREMENTS if r.id != "LATENCY-1")),
    Fault("slow-tokens", "Every token answer takes 1.1 s (within the client's timeout, slow for every user).",
          "LATENCY-2", slow_tokens(1.1)),
]


# --- PROP -----------------------------------------------------------------------


def _no_braces(value: str) -> str:
    """Channel names from Agora's alphabet, except the symbols a naive 'safe characters' list forgets."""
    if any(ch in value for ch in "{}[]|^"):
        raise InvalidParameter("channel", f"channel contains an unsupported character: {value!r}")
    return parse_channel(value)


def _route_regex_404(request: Request) -> Response | None:
    """A router whose channel parameter is declared as [A-Za-z0-9_-]+: other valid names match no route."""
    seg = _segments(request)
    if _is_rtc(request) and len(seg) >= 6 and not re.fullmatch(r"[A-Za-z0-9_-]+", seg[2]):
        return json_response(404, {"error": "not found"})
    return None


PROP_FAULTS = [
    Fault("symbols-refused", "Valid channel names containing { } [ ] | or ^ are refused with 400.", "PROP-1",
          _lax(lambda s: RtcParsers(channel=_no_braces)), also=frozenset({"TOKEN-4"}),
          why="TOKEN-4 asks for a channel with every allowed symbol, and a valid request refused is its failure"),
    Fault("channel-route-404", "Valid channel names outside [A-Za-z0-9_-] (a space, '!', '{') match no route: 404.",
          "PROP-1", _around(lambda app, s: intercept(app, _route_regex_404)), also=frozenset({"TOKEN-4"}),
          why="TOKEN-4 asks for a channel with every allowed symbol, and a valid request refused is its failure"),
]


FAULTS: tuple[Fault, ...] = (
    *ROUTE_FAULTS, *TOKEN_FAULTS, *INPUT_FAULTS, *EXPIRY_FAULTS, *HEADER_FAULTS, *WEB_FAULTS, *SEC_FAULTS, *AUTH_FAULTS,
    *PROP_FAULTS, *LATENCY_FAULTS,
)
BY_KEY: dict[str, Fault] = {f.key: f for f in FAULTS}
assert len(BY_KEY) == len(FAULTS), "duplicate fault key"
assert all(f.requirement.rsplit("-", 1)[0] in SECTIONS for f in FAULTS)

#: Faithful rebuilds of the reference server through each mechanism above: they must pass everything.
CONTROLS: dict[str, Factory] = {
    "crafted-issuer": _crafted(CraftedIssuer),
    "lax-rtc-route": _lax(lambda s: RtcParsers()),
    "rewrite-identity": _around(lambda app, s: rewrite(app, lambda rq, rp: None)),
    "path-identity": _around(lambda app, s: rewrite_path(app, _on_rtc_path(lambda seg: None))),
    "json-request-identity": _around(lambda app, s: rewrite_json_request(app, lambda rq, body: None)),
    "resign-identity": _around(lambda app, s: rewrite(app, lambda rq, rp: _resigned_in_place(rp, s))),
}
#: Controls that need the test credential configured (AUTH_HEADER).
CREDENTIAL_CONTROLS: dict[str, Factory] = {"auth-required": _requires_auth(),
                                           "auth-hidden-404": _requires_auth(status=404)}
