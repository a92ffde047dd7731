"""Section HEADER: what caches and browsers do with the responses."""

from __future__ import annotations

from ..cases import case
from ..target import Target
from ..verdict import Findings

ORIGIN = "https://conformance.example"


@case("HEADER-1")
def test_tokens_not_cached(token_target: Target) -> None:
    t = token_target
    answers = [("RTC", t.fetch_rtc(channel="conformance-cache").exchange)]
    if t.profile.has("rtm"):
        answers.append(("RTM", t.fetch_rtm().exchange))
    if t.profile.has("rte"):
        answers.append(("RTE", t.fetch_rte("conformance-cache", "publisher", "uid", "5")[0].exchange))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-cache", "role": "publisher", "uid": "5", "expire": 600}
        answers.append(("POST /getToken", t.post_get_token(body).exchange))
    f = Findings()
    for what, ex in answers:
        if ex.status != 200:
            continue  # the route's own case judges a missing token
        cc = ex.headers.get("cache-control", "")
        directives = {d.strip().split("=")[0].lower() for d in cc.split(",")}
        f.check("no-store" in directives, f"Cache-Control of the {what} token response", "a Cache-Control with no-store",
                cc or "no Cache-Control header", ex)
    f.conclude()


@case("HEADER-2")
def test_cors_answered_deliberately(token_target: Target) -> None:
    t = token_target
    ex = t.client.get(t.rtc_path(channel="conformance-cors"), headers={"Origin": ORIGIN})
    f = Findings()
    expected = (f"2xx with Access-Control-Allow-Origin: {ORIGIN} or *", "403 (origin refused)")
    if ex.error or ex.status is None:
        f.add("token request with an Origin header", expected, ex.summary(), ex)
    elif ex.status != 403:
        acao = ex.headers.get("access-control-allow-origin")
        ok = 200 <= ex.status < 300 and acao in (ORIGIN, "*")
        f.check(ok, "token request with an Origin header", expected,
                f"{ex.status} with Access-Control-Allow-Origin: {acao}", ex)
    f.conclude()


@case("HEADER-3")
def test_cors_preflight(token_target: Target) -> None:
    t = token_target
    ex = t.client.request("OPTIONS", t.rtc_path(channel="conformance-cors"),
                          headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    f = Findings()
    expected = ("2xx with Access-Control-Allow-Methods including GET", "403 (origin refused)")
    if ex.status == 403:
        return
    methods = ex.headers.get("access-control-allow-methods", "") if ex.status else ""
    ok = ex.status is not None and 200 <= ex.status < 300 and ("GET" in methods.upper() or methods.strip() == "*")
    f.check(ok, "CORS preflight (OPTIONS with Origin)", expected,
            f"{ex.summary()} Access-Control-Allow-Methods: {methods or 'absent'}", ex)
    f.conclude()
