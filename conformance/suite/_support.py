"""What several cases share: prerequisites, the bad-input catalogue, leak patterns.

Kept out of the test modules so each module reads as its section of the contract.
"""

from __future__ import annotations

import html
import re
import threading
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TypeVar

import pytest

from ..certificate import NO_CERTIFICATE
from ..client import Exchange
from ..concurrency import concurrency_of, fan_out
from ..profiles import NotInProfile, Request
from ..profiles.model import placeholders
from ..report.records import NOT_JUDGED, PARTLY_JUDGED
from ..target import Fetched, Target
from ..tokens import Token
from ..tokens.model import MAX_UID, uid_string

T = TypeVar("T")


def need_token(f: Fetched, see: str = "ROUTE-1, TOKEN-1") -> Token:
    """The decoded token, or skip: a case cannot judge what it did not get (the cases in ``see`` do)."""
    if f.token is None:
        pytest.skip(f"cannot judge without a decoded token: {f.problem} (judged by {see})")
    return f.token


def role_tokens(t: Target, role: str) -> list[tuple[str, Fetched]]:
    """RTC tokens for ``role`` from every route that issues them: GET /rtc first (required), then RTE and POST."""
    rtc = t.rtc_request(channel="conformance-roles", role=role, uid="100", lenient=True)
    out = [(f"{rtc.method} {rtc.path.split('?')[0]}", t.fetch_rtc(channel="conformance-roles", role=role, uid="100"))]
    if t.profile.has("rte"):
        out.append(("GET /rte rtcToken", t.fetch_rte("conformance-roles", role, "uid", "100")[0]))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-roles", "role": t.profile.roles[role], "uid": "100",
                "expire": 600}
        out.append(("POST /getToken", t.post_get_token(body)))
    need_token(out[0][1])
    return [(what, x) for what, x in out if x.token is not None]


def require_certificate(target: Target) -> str:
    cert = target.settings.certificate
    if not cert:
        pytest.skip(NO_CERTIFICATE)
    return cert


# --- bindings, described as a user would fix them ---------------------------------


def describe_token(token: Token) -> str:
    rtc = token.rtc
    if token.version == "006":
        return f"006 token with crc_channel={token.crc_channel}, crc_uid={token.crc_uid}"
    if rtc is None:
        return f"007 token without an RTC service (services: {[s.name for s in token.services]})"
    return f"007 token bound to channel={rtc.channel!r}, uid={rtc.uid!r}"


def uid_candidates(uid: str) -> list[str]:
    """How servers pack a requested uid, right or wrong: as tokens should, as text, wrapped to int32, empty."""
    out = [uid_string(int(uid)) if uid.isdigit() else uid, uid]
    if uid.isdigit() and int(uid) >= 2**31:
        out.append(str(int(uid) - 2**32))
    out.append("")
    return list(dict.fromkeys(out))


def channel_candidates(channel: str) -> list[str]:
    return list(dict.fromkeys([channel, channel.lower(), channel.upper(), channel.strip()]))


def crc_source(crc: int | None, candidates: list[str]) -> str | None:
    return next((c for c in candidates if zlib.crc32(c.encode("utf-8")) == crc), None)


def binding_difference(tok: Token, channel: str, uid: str | None, account: str | None = None) -> str:
    """What the token is bound to, against what was asked, in the words a user needs to fix it."""
    want_uid = account if account is not None else uid_string(int(uid)) if uid and uid.isdigit() else uid or ""
    uid_note = " (uid 0 packs as '', which lets the client join with any uid)" if uid == "0" else ""
    parts: list[str] = []
    if tok.version == "006":
        if zlib.crc32(channel.encode("utf-8")) != tok.crc_channel:
            got = crc_source(tok.crc_channel, channel_candidates(channel))
            parts.append(f"crc_channel is the CRC-32 of {got!r}, not of {channel!r}" if got is not None
                         else f"crc_channel is not the CRC-32 of {channel!r}")
        if zlib.crc32(want_uid.encode("utf-8")) != tok.crc_uid:
            got = crc_source(tok.crc_uid, uid_candidates(uid) if account is None and uid else [])
            parts.append((f"crc_uid is the CRC-32 of {got!r}, not of {want_uid!r}" if got is not None
                          else f"crc_uid is not the CRC-32 of {want_uid!r}") + uid_note)
        return "; ".join(parts) or "bound as asked"
    rtc = tok.rtc
    if rtc is None:
        return describe_token(tok)
    if rtc.channel != channel:
        parts.append(f"bound to channel {rtc.channel!r} instead of {channel!r}")
    if rtc.uid != want_uid:
        what = "account" if account is not None else "uid"
        parts.append(f"bound to {what} {rtc.uid!r} instead of {want_uid!r}{uid_note if what == 'uid' else ''}")
    return "; ".join(parts) or "bound as asked"


@dataclass(frozen=True)
class UidToJudge:
    """The uid a token must be bound to, and how messages say where it comes from; ``uid`` None: not judged."""

    uid: str | None
    note: str = ""
    #: Set when the answer or the token names something that is no uid at all (TOKEN-4 fails on it).
    problem: str | None = None


def uid_to_judge(t: Target, x: Fetched, asked: str) -> UidToJudge:
    """The uid ``x``'s token must be bound to: the one asked for; the one the answer names when the server chose
    (uid 0 asked, or a server that takes no uid); else, for a server that takes no uid, the one the 007 token
    carries (a 006 token carries only its CRC-32: the uid is not judged)."""
    if t.profile.uid_input and not (asked == "0" and x.answered_uid is not None):
        return UidToJudge(asked)
    if x.answered_uid is not None:
        named = x.answered_uid
        note = " (the uid the answer names for uid 0)" if t.profile.uid_input else " (the uid the answer names)"
        if not named.isdigit() or int(named) > MAX_UID or (named != "0" and named.startswith("0")):
            return UidToJudge(None, note, f"the answer names uid {named!r}, which is not a uid (0..{MAX_UID})")
        return UidToJudge(named, note)
    tok = x.token
    if tok is not None and tok.version == "007" and tok.rtc is not None:
        carried = tok.rtc.uid or ""
        note = " (the uid the token carries: the answer names none)"
        if carried == "":
            return UidToJudge("0", note)
        if not carried.isdigit() or carried.startswith("0") or int(carried) > MAX_UID:
            return UidToJudge(None, note, f"the token carries uid {carried!r}, which no client can join with "
                                          f"(a uid is 1..{MAX_UID} in decimal, or '' for any)")
        return UidToJudge(carried, note)
    return UidToJudge(None, " (a 006 token carries only the CRC-32 of its uid, and the answer names none)")


# --- the bad-input catalogue ---------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """One malformed request, the requirement that judges its rejection, and what is acceptable.

    ``path`` builds the request from the target's profile (a path string, or a :class:`Request` with its body):
    the same bad value lands in a path segment, a query parameter or a typed JSON field, as the shape wants.
    A row the profile cannot express (no token-type field, no expiry parameter) raises ``NotInProfile`` and
    does not apply. ``method`` empty: the operation's own method.
    """

    key: str
    requirement: str
    what: str
    method: str
    path: Callable[[Target], str | Request]
    json_body: Mapping[str, object] | None = None
    acceptable: tuple[int, ...] = ()  # empty: any 4xx
    needs: str | None = None
    #: The same request with valid values (a key of CONTROLS): a refusal counts only if that one gets a token.
    control: str = "rtc"


def _rtc(channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
         expiry: str | None = None) -> Callable[[Target], Request]:
    return lambda t: t.rtc_request(channel, role, tokentype, uid, expiry=expiry, lenient=True)


def _rtc_uid(uid: str) -> Callable[[Target], Request]:
    """A bad uid: only for a server that takes one (a server that chooses the uid never reads the field)."""
    def build(t: Target) -> Request:
        if not t.profile.uid_input:
            raise NotInProfile(f"profile {t.profile.name!r} takes no uid: the server chooses it")
        return t.rtc_request(uid=uid, lenient=True)
    return build


def declared_role(t: Target, value: object) -> bool:
    """Whether ``value`` is one of the profile's role values (with its JSON type: 1 is not true)."""
    return any(type(v) is type(value) and v == value for v in t.profile.roles.values())


def _typed_role(value: object) -> Callable[[Target], Request]:
    """A role value JavaScript handlers read wrongly ("false" is truthy), for a profile with typed role values.

    ``None`` is a JSON null (a body field only). A value the profile declares is no bad input, and a profile whose
    role values are all words gets the word rows only.
    """
    def build(t: Target) -> Request:
        if all(isinstance(v, str) for v in t.profile.roles.values()):
            raise NotInProfile("the profile's role values are words; the typed rows are for true/false/number roles")
        if not t.profile.role_input:
            raise NotInProfile(f"profile {t.profile.name!r} takes no role")
        if declared_role(t, value):
            raise NotInProfile(f"{value!r} is one of the profile's role values")
        if value == 1 and t.profile.operations["rtc"].body is not None:
            raise NotInProfile("the body row 'a number as role' sends it")
        if value is None:
            return _body_field("role", None)(t)
        return t.rtc_request(role=value, lenient=True)  # type: ignore[arg-type]
    return build


def _expiry_limit(side: str) -> Callable[[Target], Request]:
    """One second past the lifetime limit the profile states (expiry.min - 1 s, expiry.max + 1 s, max never above
    86400 s): a server that says it enforces a limit is judged on it."""
    def build(t: Target) -> Request:
        p = t.profile
        limit = p.expiry_min if side == "min" else p.expiry_max
        if limit is None or not p.expiry_input:
            raise NotInProfile(f"profile {p.name!r} states no expiry.{side}")
        value = limit - 1 if side == "min" else min(limit, 86400) + 1
        if value < 1:
            raise NotInProfile("expiry.min is 1 s: the row for 0 covers it")
        return t.rtc_request(expiry=str(value), lenient=True)
    return build


def _raw(path: str) -> Callable[[Target], str]:
    return lambda t: path


def _route_prefix(t: Target) -> str:
    """The RTC path up to its first placeholder (``/rtc/``): a route with its values missing."""
    template = t.profile.operations["rtc"].path
    cut = template.find("{")
    if cut <= 1:
        raise NotInProfile("the RTC path has no fixed part before its values")
    return template[:cut]


def _extra_segments(t: Target) -> str:
    path = t.rtc_request(lenient=True).path.split("?", 1)[0]
    return path.rstrip("/") + "/extra/segment/"


def _body_field(field: str, value: object) -> Callable[[Target], Request]:
    """The valid RTC request with the JSON body field that carries ``field`` set to ``value`` (a wrong type)."""
    def build(t: Target) -> Request:
        request = t.rtc_request(lenient=True)
        op = t.profile.operations["rtc"]
        if not isinstance(request.json_body, dict) or op.body is None:
            raise NotInProfile("the RTC request has no JSON body")
        keys = [k for k, v in op.body.items() if isinstance(v, str) and placeholders(v) == {field}]
        if not keys:
            raise NotInProfile(f"no JSON field of the RTC request carries {{{field}}}")
        if field == "role" and declared_role(t, value):
            raise NotInProfile(f"{value!r} is one of the profile's role values")
        body = dict(request.json_body)
        if value is _MISSING:
            body.pop(keys[0], None)
        else:
            body[keys[0]] = value
        return replace(request, json_body=body)
    return build


_MISSING = object()


def _empty_body(t: Target) -> Request:
    request = t.rtc_request(lenient=True)
    if not isinstance(request.json_body, dict):
        raise NotInProfile("the RTC request has no JSON body")
    return replace(request, json_body={})


def _catalogue() -> tuple[BadInput, ...]:
    items: list[BadInput] = []
    for role in ("owner", "Publisher", "publisher-x"):
        items.append(BadInput(f"role={role}", "INPUT-1", f"unknown role {role!r}", "", _rtc(role=role)))
    for typed_role, what in (("no", "role 'no' (a truthy string)"), ("false", "role 'false' (a truthy string)"),
                             (1, "role 1 (a truthy number)"), (None, "role null")):
        items.append(BadInput(f"role-typed={typed_role!r}", "INPUT-1", what, "", _typed_role(typed_role)))
    for tt in ("nonsense", "UID", "account"):
        items.append(BadInput(f"tokentype={tt}", "INPUT-2", f"unknown token type {tt!r}", "", _rtc(tokentype=tt)))
    for uid in ("abc", "1.5", "0x10", "12abc", "1e3"):
        items.append(BadInput(f"uid={uid}", "INPUT-3", f"non-numeric uid {uid!r}", "", _rtc_uid(uid)))
    for uid in ("-1", "-4294967295"):
        items.append(BadInput(f"uid={uid}", "INPUT-4", f"negative uid {uid}", "", _rtc_uid(uid)))
    for uid in ("4294967296", "99999999999", "18446744073709551616"):
        items.append(BadInput(f"uid={uid}", "INPUT-5", f"uid {uid} above 4294967295", "", _rtc_uid(uid)))
    items.append(BadInput("channel=empty", "INPUT-6", "empty channel name", "", _rtc(channel="")))
    for ch, what in (("c" * 65, "65-byte channel name"), ("chan*nel", "'*' in the channel name"),
                     ("chännel", "non-ASCII channel name"), ("chan'nel", "quote in the channel name")):
        items.append(BadInput(f"channel={ch[:12]}", "INPUT-6", what, "", _rtc(channel=ch)))
    for exp in ("abc", "1.5", "1e3", "-5", "12abc"):
        items.append(BadInput(f"expiry={exp}", "INPUT-7", f"expiry {exp!r}", "", _rtc(expiry=exp),
                              control="rtc-expiry"))
    for exp in ("0", "86401", "4294967297"):
        items.append(BadInput(f"expiry={exp}", "INPUT-8", f"expiry {exp}", "", _rtc(expiry=exp),
                              control="rtc-expiry"))
    items.append(BadInput("expiry=min-1", "INPUT-8", "expiry one second below the profile's expiry.min", "",
                          _expiry_limit("min"), control="rtc-expiry"))
    items.append(BadInput("expiry=max+1", "INPUT-8", "expiry one second above the profile's expiry.max", "",
                          _expiry_limit("max"), control="rtc-expiry"))
    items.append(BadInput("channel=10KB", "INPUT-9", "10 KB channel segment", "", _rtc(channel="a" * 10240),
                          acceptable=(400, 404, 414, 422, 431)))
    items.append(BadInput("route=/nope", "INPUT-10", "unknown route /nope", "GET", _raw("/nope"), acceptable=(404,)))
    items.append(BadInput("route=/rtc/", "INPUT-10", "the RTC route without its values", "GET", _route_prefix,
                          acceptable=(404,)))
    items.append(BadInput("route=/rtc/conformance/publisher/uid/0/extra/segment/", "INPUT-10",
                          "the RTC route with extra segments", "GET", _extra_segments, acceptable=(404,)))
    for method in ("POST", "PUT", "DELETE", "GET"):
        # RFC 9110 15.6.2: 501 is the answer to a method the server supports for no resource (http.server does it).
        # The operation's own method is left out (bad_request): a GET shape gets POST, PUT, DELETE; a POST one GET.
        items.append(BadInput(f"method={method}", "INPUT-10", f"{method} on the RTC route", method, _rtc(),
                              acceptable=(404, 405, 501)))
    for field, value, what, req in (
        ("channel", ["conformance"], "a list as channel", "INPUT-6"),
        ("channel", {"name": "c"}, "an object as channel", "INPUT-6"),
        ("channel", _MISSING, "no channel field", "INPUT-6"),
        ("uid", ["1"], "a list as uid", "INPUT-3"),
        ("uid", True, "true as uid", "INPUT-3"),
        ("role", 1, "a number as role", "INPUT-1"),
        ("expiry", "abc", "expiry 'abc' in the body", "INPUT-7"),
    ):
        items.append(BadInput(f"body={what}", req, f"JSON body with {what}", "", _body_field(field, value),
                              control="rtc-expiry" if field == "expiry" else "rtc"))
    items.append(BadInput("body=empty", "INPUT-6", "an empty JSON object as body", "", _empty_body))
    post_rtc = {"tokenType": "rtc", "channel": "conformance", "role": "publisher", "uid": "1"}
    for body, what, req in (
        ({**post_rtc, "expire": "abc"}, "POST /getToken with expire 'abc'", "INPUT-7"),
        ({**post_rtc, "expire": -5}, "POST /getToken with expire -5", "INPUT-7"),
        ({**post_rtc, "expire": 1.5}, "POST /getToken with expire 1.5", "INPUT-7"),
        ({**post_rtc, "channel": ["conformance"]}, "POST /getToken with a list as channel", "INPUT-6"),
        ({**post_rtc, "channel": {"name": "c"}}, "POST /getToken with an object as channel", "INPUT-6"),
        ({**post_rtc, "uid": ["1"]}, "POST /getToken with a list as uid", "INPUT-3"),
        ({**post_rtc, "role": 1}, "POST /getToken with a number as role", "INPUT-1"),
        ({}, "POST /getToken with an empty object", "INPUT-2"),
        ({"tokenType": "bogus", "channel": "c", "uid": "1"}, "POST /getToken with tokenType 'bogus'", "INPUT-2"),
        ({"tokenType": "rtc", "role": "publisher", "uid": "1"}, "POST /getToken without a channel", "INPUT-6"),
    ):
        items.append(BadInput(f"post={what}", req, what, "POST", lambda t: t.profile.operation("post_get_token").path,
                              json_body=body, needs="post_get_token", control="post"))
    return tuple(items)


BAD_INPUTS: tuple[BadInput, ...] = _catalogue()
_memo_lock = threading.Lock()


def once_per_target(target: Target, key: str, fetch: Callable[[], T]) -> T:
    """``fetch()`` once per target and process, shared by every case that asks for ``key``.

    Cases run concurrently: the first to ask sends, the others wait for its answer
    (one request, as in a serial run).
    """
    with _memo_lock:
        known = target.memo.get(key)
        pending: Future[T] = known if isinstance(known, Future) else Future()
        mine = known is None
        if mine:
            target.memo[key] = pending
    if not mine:
        return pending.result()
    try:
        value = fetch()
    except BaseException as exc:
        pending.set_exception(exc)
        raise
    pending.set_result(value)
    return value


def bad_request(target: Target, bad: BadInput) -> Request | None:
    """The request of ``bad`` for this target's profile, or None when the profile cannot express it."""
    if bad.needs is not None and not target.profile.has(bad.needs):
        return None
    try:
        built = bad.path(target)
    except NotInProfile:
        return None
    if not isinstance(built, Request):
        return Request(bad.method or "GET", built, json_body=bad.json_body)
    if not bad.method:
        return built
    if bad.method == built.method:
        return None  # a wrong-method row naming the operation's own method
    # A wrong method on the route: sent without a body, as a client that took the wrong verb would.
    return Request(bad.method, built.path)


def why_not_applicable(target: Target, requirement: str) -> str:
    """Why none of ``requirement``'s bad inputs can be sent to this profile, in the words of the first row's reason."""
    reasons: list[str] = []
    for bad in BAD_INPUTS:
        if bad.requirement != requirement:
            continue
        if bad.needs is not None and not target.profile.has(bad.needs):
            continue
        try:
            bad.path(target)
        except NotInProfile as exc:
            reasons.append(str(exc))
    for reason in reasons:  # the shape's own reason (no role, no uid, a fixed lifetime) before a row's detail
        if "takes no" in reason or "chooses" in reason or "issues no" in reason:
            return reason
    return (f"profile {target.profile.name!r} has no field this requirement's bad inputs go into"
            + (f" ({reasons[0]})" if reasons else ""))


def send_bad_input(target: Target, bad: BadInput) -> Exchange:
    """Send one bad input (once per target and process: several cases judge the same answer)."""
    def fetch() -> Exchange:
        request = bad_request(target, bad)
        if request is None:
            raise NotInProfile(f"{bad.what} cannot be sent to this profile")
        return target.send(request)

    return once_per_target(target, f"bad-input:{bad.key}", fetch)


def send_bad_inputs(target: Target, bads: list[BadInput]) -> list[Exchange]:
    """Every bad input's answer, in order; the requests are independent, so they go out concurrently."""
    return fan_out(lambda bad: send_bad_input(target, bad), bads, concurrency_of(target.client))


def bad_inputs_for(target: Target, requirement: str | None = None) -> list[BadInput]:
    """The rows for ``requirement`` (all rows: None) that the target's profile can express."""
    return [b for b in BAD_INPUTS if (requirement is None or b.requirement == requirement)
            and bad_request(target, b) is not None]


# --- controls: a refusal is evidence only next to a success -----------------------


@dataclass(frozen=True)
class Control:
    """The valid request a bad input is a variation of, and the case that owns its failure.

    ``request`` builds the request from the target's profile, so messages name what was really sent
    (``GET /token?channel=...``, ``POST /api/token {...}``), not the Go family's path; ``fallback`` names it when
    the profile cannot build it.
    """

    fallback: str
    owner: str
    fetch: Callable[[Target], Fetched]
    request: Callable[[Target], Request]

    def what(self, target: Target) -> str:
        """The control request as this target's profile sends it: method, path and query, body."""
        try:
            return self.request(target).line()
        except (NotInProfile, KeyError):
            return self.fallback


def _post_body(t: Target) -> dict[str, object]:
    return {"tokenType": "rtc", "channel": "conformance", "role": t.profile.roles["publisher"], "uid": "1",
            "expire": 600}


CONTROLS: dict[str, Control] = {
    "rtc": Control("the RTC token request with valid values", "ROUTE-1", lambda t: t.fetch_rtc(),
                   lambda t: t.rtc_request()),
    "rtc-expiry": Control("the RTC token request with valid values and an expiry of 600 s", "EXPIRY-1",
                          lambda t: t.fetch_rtc(expiry=t.profile.lifetime(600)),
                          lambda t: t.rtc_request(expiry=t.profile.lifetime(600))),
    "post": Control("POST /getToken with valid values", "ROUTE-8", lambda t: t.post_get_token(_post_body(t)),
                    lambda t: Request("POST", t.profile.operation("post_get_token").path, json_body=_post_body(t))),
}


def control_what(target: Target, key: str) -> str:
    """How messages name control ``key`` for this target (the request its profile builds)."""
    return CONTROLS[key].what(target)


def control_answer(target: Target, key: str) -> Fetched:
    """The control request's answer, fetched once per target and process (many cases share it)."""
    return once_per_target(target, f"control:{key}", lambda: CONTROLS[key].fetch(target))


def judged_bad_inputs(target: Target, requirement: str | None = None, *, case: str) -> list[BadInput]:
    """The bad inputs of ``requirement`` (all with None) whose control got a token in this run.

    A server that refuses everything (401, 404) refuses bad input too, and proves nothing by it: without a
    working control the case is not judged, and says which case owns the missing control. When only some
    controls work (GET gives tokens, POST /getToken does not), the other rows are judged and ``case`` says,
    next to its pass or failure, which rows were left out and which case owns their control.
    """
    bads = bad_inputs_for(target, requirement)
    judged = [b for b in bads if control_answer(target, b.control).raw is not None]
    missing = dict.fromkeys(b.control for b in bads if b not in judged)
    if not missing:
        return judged
    reasons = "; ".join(f"{control_what(target, k)} got no token ({control_answer(target, k).problem})"
                        for k in missing)
    owners = ", ".join(dict.fromkeys(_owner(target, k) for k in missing))
    if not judged:
        pytest.skip(f"{NOT_JUDGED_NOTE} the same request with valid values is not answered with a token, so a refusal "
                    f"proves nothing: {reasons} (judged by {owners})")
    left = [b for b in bads if b not in judged]
    shown = ", ".join(b.what for b in left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
    with _memo_lock:
        notes = target.memo.setdefault("case_notes", {})
        notes[case] = (f"{PARTLY_JUDGED_NOTE} {len(judged)} of {len(bads)} bad inputs; {len(left)} not judged ({shown}): "
                       f"{reasons} (judged by {owners})")
    return judged


def _owner(target: Target, key: str) -> str:
    """The case that fails for this missing control: ROUTE-1 when even the plain request gets no token."""
    if key != "rtc" and control_answer(target, "rtc").raw is None and key.startswith("rtc"):
        return CONTROLS["rtc"].owner
    return CONTROLS[key].owner


#: How a skip for want of a control starts: the summary counts these as "not judged".
NOT_JUDGED_NOTE = f"{NOT_JUDGED}: no control -"
#: How the note of a case that judged only the rows whose control worked starts (the summary lists these).
PARTLY_JUDGED_NOTE = f"{PARTLY_JUDGED}:"


# --- what must never appear in a response -------------------------------------

TOKEN_PATTERN = re.compile(r"007eJ[A-Za-z0-9+/=]{16,}|006[0-9a-fA-F]{32}[A-Za-z0-9+/=]{16,}")
TRACE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(rx))
    for label, rx in (
        ("Python traceback", r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+"),
        ("JavaScript stack frame",
         r"\n\s*at [\w.<>$\[\] ]+ \(|\bat [^\n()]{1,120} \([^\n()]+:\d+:\d+\)|at Object\.<anonymous>|node_modules/|node:internal"),
        ("Go panic or goroutine dump", r"goroutine \d+ \[|panic: "),
        ("Java stack frame", r"\bat [a-z]+\.[\w.$]+\([\w]+\.java:\d+\)|java\.lang\.\w+Exception"),
        ("JavaScript error name", r"\b(TypeError|RangeError|ReferenceError|SyntaxError): "),
        ("internal file path", r"(?:/home/|/usr/src/|/usr/lib/|/var/www/|/opt/app|/app/src/|/srv/|[A-Z]:\\\\)[\w./\\-]+"
                               r"|(?:/[\w.-]+){2,}\.(?:js|mjs|cjs|ts|py|go|java|rb|php)\b"),
    )
)


def trace_leaks(text: str) -> list[str]:
    """Labels of the stack-trace / internal-path patterns found in ``text``.

    HTML error pages (Express's default handler) render the stack with <br> and
    &nbsp;: the text is read as a person would see it.
    """
    return [label for label, _ in trace_evidence(text)]


def trace_evidence(text: str) -> list[tuple[str, str]]:
    """Each stack-trace / internal-path pattern found in ``text`` with the text that matched (one line, bounded)."""
    seen = html.unescape(re.sub(r"(?i)<br\s*/?>", "\n", text)).replace("\xa0", " ")
    out = []
    for label, rx in TRACE_PATTERNS:
        m = rx.search(seen)
        if m:
            out.append((label, " ".join(m.group(0).split())[:120]))
    return out


def describe_token_text(raw: str) -> str:
    """A token seen where it should not be, named without printing it: its kind, length and first characters."""
    kind = "007" if raw.startswith("007") else "006" if raw.startswith("006") else "a"
    return f"{kind} token of {len(raw)} characters starting {raw[:7]!r}"
