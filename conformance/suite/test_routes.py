"""Section ROUTE: the routes and the JSON a client parses."""

from __future__ import annotations

import json

from ..cases import case
from ..openapi import answer_schema
from ..schemas import validate
from ..target import WHOLE_BODY, Fetched, Target
from ..verdict import Findings

JSON_TYPES = ("application/json",)


def _expect_token(f: Findings, fetched: Fetched, what: str) -> None:
    expected = ("200 and the token as the whole body" if fetched.key == WHOLE_BODY
                else f"200 and a JSON object with a non-empty string under {fetched.key!r}")
    f.check(fetched.raw is not None, what, expected, no_token(fetched), fetched.exchange)


def no_token(fetched: Fetched) -> str:
    """Why the client gets no token from this answer, as the person fixing the route would say it."""
    ex = fetched.exchange
    if ex.error or ex.status is None:
        return f"no answer: {ex.error}"
    if ex.status != 200:
        return f"the route answered {ex.status} instead of 200 with a token: {ex.summary()}"
    if fetched.key == WHOLE_BODY:
        return fetched.problem or ""
    body = ex.json_or_none()
    if not isinstance(body, dict):
        return f"the body is not a JSON object, so the client finds no {fetched.key!r} in it: {ex.summary()}"
    if fetched.raw is None:
        keys = ", ".join(repr(k) for k in list(body)[:8]) or "none"
        return (f"no non-empty string under {fetched.key!r}, the key the client reads (the answer's keys: {keys}): "
                f"{ex.summary()}")
    return fetched.problem or ""


@case("ROUTE-1")
def test_rtc_route_answers_a_token(token_target: Target) -> None:
    f = Findings()
    for role in token_target.profile.issued_roles:
        fetched = token_target.fetch_rtc(channel="conformance-route", role=role, uid="4242")
        what = (f"RTC token for role {token_target.profile.role_word(role)!r}" if token_target.profile.role_input
                else f"RTC token (always a {role} token: the request takes no role)")
        _expect_token(f, fetched, what)
    f.conclude()


@case("ROUTE-2")
def test_json_content_type(token_target: Target) -> None:
    f = Findings()
    exchanges = [token_target.fetch_rtc().exchange]
    if token_target.profile.has("rtm"):
        exchanges.append(token_target.fetch_rtm().exchange)
    if token_target.profile.raw_token:
        # The answer is the token itself: it says so with text/plain (contract 1.5); text/html makes browsers and
        # proxies treat a credential as a page to render.
        ex = exchanges[0]
        if ex.status == 200:
            ctype = ex.content_type.split(";")[0].strip().lower()
            f.check(ctype == "text/plain", f"Content-Type of the token answer to {ex.method} {ex.url}",
                    "text/plain (charset optional): the profile reads the whole body as the token",
                    f"the token answer is labelled {ex.content_type!r}" if ex.content_type else
                    "the Content-Type header was absent", ex)
        exchanges = exchanges[1:]
    for ex in exchanges:
        if ex.status != 200:
            continue  # ROUTE-1 / ROUTE-6 judge the status
        ctype = ex.content_type.split(";")[0].strip().lower()
        f.check(ctype in JSON_TYPES, f"Content-Type of the token answer to {ex.method} {ex.url}",
                "application/json (charset optional)",
                f"the token answer is labelled {ex.content_type!r}, not JSON: proxies, browsers and logs treat it as "
                "that type" if ex.content_type else
                "the Content-Type header was absent: proxies, browsers and logs cannot tell the answer is JSON", ex)
    f.conclude()


@case("ROUTE-3")
def test_success_bodies_match_schemas(token_target: Target) -> None:
    t = token_target
    f = Findings()
    p = t.profile
    # Answers in the bundled families' keys are judged by the bundled schemas; any other shape by the
    # profile's own token pointer (a non-empty string there).
    checks = [(answer_schema(p, "rtc", "rtc-token"), t.send_rtc(channel="conformance-schema"))]
    if p.has("rtc_account"):
        checks.append((answer_schema(p, "rtc_account", "rtc-token"),
                       t.send_rtc(channel="conformance-schema", tokentype="userAccount", uid="alice")))
    if p.has("rtm"):
        checks.append((answer_schema(p, "rtm", "rtm-token"), t.send(p.request("rtm", uid="conformance-user"))))
    if p.has("rte"):
        checks.append((answer_schema(p, "rte", "rte-token"),
                       t.send(p.request("rte", "conformance-schema", "publisher", "uid", "77"))))
    if p.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-schema", "role": "publisher", "uid": "77", "expire": 600}
        checks.append(("get-token", t.client.request("POST", p.operation("post_get_token").path, json_body=body)))
    for schema, ex in checks:
        if ex.status != 200:
            continue  # the route's own case judges a missing answer
        if isinstance(schema, dict) and schema.get("x-pointer") == "":
            # A raw-token answer: the body is one token, nothing but whitespace around it (TOKEN-1 decodes it).
            text = ex.text.strip()
            f.check(bool(text) and len(text.split()) == 1, f"body of {ex.method} {ex.url}",
                    "the token alone (one word, whitespace around it allowed)",
                    f"{len(text.split())} words: {ex.summary()}" if text else "an empty body", ex)
            continue
        body = ex.json_or_none()
        errors = validate(schema, body) if body is not None else ["body is not JSON"]
        shown = f"schemas/{schema}.json" if isinstance(schema, str) else f"a non-empty string at {schema['x-pointer']}"
        f.check(not errors, f"body of {ex.method} {ex.url}", f"valid against {shown}",
                "; ".join(errors)[:300] + f" in {ex.summary()}", ex)
    f.conclude()


@case("ROUTE-4")
def test_trailing_slash_optional(token_target: Target) -> None:
    t = token_target
    f = Findings()
    fetched = t.fetch_rtc(channel="conformance-slash", slash=False)
    _expect_token(f, fetched, "RTC route without the trailing slash (redirects on the same host followed)")
    f.conclude()


@case("ROUTE-5")
def test_ping(token_target: Target) -> None:
    ex = token_target.health()
    op = token_target.profile.operation("health")
    f = Findings()
    body = ex.json_or_none()
    if ex.error or ex.status is None:
        actual = f"no answer: {ex.error}"
    elif ex.status != op.status:
        actual = f"the health check answered {ex.status} instead of {op.status}: {ex.summary()}"
    else:
        actual = (f"the health check answered {ex.status} with another body than {json.dumps(op.answer)}: "
                  f"{ex.summary()}")
    if op.answer is None:
        f.check(ex.status == op.status, f"{op.method} {op.path}", f"{op.status}", actual, ex)
    else:
        f.check(ex.status == op.status and body == op.answer, f"{op.method} {op.path}",
                f"{op.status} {json.dumps(op.answer)}", actual, ex)
    f.conclude()


@case("ROUTE-6")
def test_rtm_route(token_target: Target) -> None:
    f = Findings()
    _expect_token(f, token_target.fetch_rtm("conformance-user"), "RTM token")
    f.conclude()


@case("ROUTE-7")
def test_rte_route(token_target: Target) -> None:
    f = Findings()
    rtc, rtm = token_target.fetch_rte("conformance-rte", "publisher", "uid", "77")
    _expect_token(f, rtc, "rtcToken of the RTE route")
    _expect_token(f, rtm, "rtmToken of the RTE route")
    f.conclude()


@case("ROUTE-8")
def test_post_get_token(token_target: Target) -> None:
    f = Findings()
    body = {"tokenType": "rtc", "channel": "conformance-post", "role": "publisher", "uid": "77", "expire": 600}
    fetched = token_target.post_get_token(body)
    _expect_token(f, fetched, "POST /getToken for an RTC token")
    f.conclude()


@case("ROUTE-9")
def test_user_account_route(token_target: Target) -> None:
    f = Findings()
    fetched = token_target.fetch_rtc(channel="conformance-account", tokentype="userAccount", uid="alice")
    _expect_token(f, fetched, "RTC token for user account 'alice'")
    f.conclude()

