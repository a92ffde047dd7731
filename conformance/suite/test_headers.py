"""Section HEADER: what caches and browsers do with the responses."""

from __future__ import annotations

import pytest

from ..cases import case
from ..target import Target
from ..verdict import Findings
from ._support import NOT_JUDGED

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
        # RFC 9111 5.2.2.4: no-cache forbids reusing a stored answer without asking the origin, which mints a new
        # token: no cache can replay one (no-store also keeps it off disk).
        replayable = "no-store" not in directives and "no-cache" not in directives
        f.check(not replayable, f"Cache-Control of the {what} token response", "a Cache-Control with no-store or no-cache",
                f"Cache-Control: {cc}, which lets a cache replay the token to another request" if cc else
                "the Cache-Control header was absent: a cache may store the token and replay it", ex)
    f.conclude()


def _require_control(t: Target) -> None:
    """Skip as not judged when the token route itself gives no token: a server refusing everything refuses CORS too."""
    control = t.fetch_rtc(channel="conformance-cors")
    if control.raw is None:
        pytest.skip(f"{NOT_JUDGED} the same request without Origin got no token ({control.problem}), so a refusal "
                    "proves nothing (judged by ROUTE-1)")


@case("HEADER-2")
def test_cors_answered_deliberately(token_target: Target) -> None:
    t = token_target
    ex = t.send_rtc(channel="conformance-cors", headers={"Origin": ORIGIN})
    f = Findings()
    expected = (f"2xx with Access-Control-Allow-Origin: {ORIGIN} or *", "403 (origin refused)",
                "2xx without any CORS header (no browser clients)")
    if ex.error or ex.status is None:
        f.add("token request with an Origin header", expected, ex.summary(), ex)
    elif not 200 <= ex.status < 300:
        _require_control(t)  # a refusal is evidence (for or against) only if the request without Origin gets a token
    if ex.status is not None and ex.status != 403:
        acao = ex.headers.get("access-control-allow-origin")
        ok = 200 <= ex.status < 300 and acao in (ORIGIN, "*", None)
        if acao is None:
            shown = f"{ex.status} without Access-Control-Allow-Origin"
        else:
            shown = f"{ex.status} with Access-Control-Allow-Origin: {acao}"
            if 200 <= ex.status < 300:
                shown += f" (another origin than the request's {ORIGIN})"
        f.check(ok, "token request with an Origin header", expected, shown, ex)
    f.conclude()


@case("HEADER-3")
def test_cors_preflight(token_target: Target) -> None:
    t = token_target
    request = t.rtc_request(channel="conformance-cors")
    want = request.method
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": want}
    if request.json_body is not None:
        ask["Access-Control-Request-Headers"] = "content-type"
    ex = t.client.request("OPTIONS", request.path, headers=ask)
    f = Findings()
    expected = (f"2xx with Access-Control-Allow-Methods including {want}", "403 (origin refused)",
                "a 4xx or 501 without Access-Control-Allow-Origin (a server without CORS)")
    if ex.status is not None and not 200 <= ex.status < 300:
        _require_control(t)
    if ex.status == 403:
        return
    if ex.status is not None and (400 <= ex.status < 500 or ex.status == 501) \
            and "access-control-allow-origin" not in ex.headers:
        return  # no CORS at all: the browser refuses the preflight, as intended
    methods = ex.headers.get("access-control-allow-methods") if ex.status else None
    ok = (ex.status is not None and 200 <= ex.status < 300 and methods is not None
          and (want in methods.upper() or methods.strip() == "*"))
    f.check(ok, "CORS preflight (OPTIONS with Origin)", expected,
            f"{ex.summary()}; Access-Control-Allow-Methods " + ("was absent" if methods is None else f"is {methods!r}"),
            ex)
    f.conclude()


#: Origins no server has reason to allow: one reflected with credentials means any origin is.
HOSTILE_ORIGINS = ("https://attacker.example", "null")


@case("HEADER-4")
def test_no_credentials_for_any_origin(token_target: Target) -> None:
    t = token_target
    f = Findings()
    request = t.rtc_request(channel="conformance-cors")
    for origin in HOSTILE_ORIGINS:
        for method, headers in ((request.method, {"Origin": origin}),
                                ("OPTIONS", {"Origin": origin, "Access-Control-Request-Method": request.method})):
            if method == "OPTIONS":
                ex = t.client.request("OPTIONS", request.path, headers=headers)
            else:
                ex = t.send(request, headers=headers)
            if ex.status is None:
                continue
            acao = ex.headers.get("access-control-allow-origin")
            credentials = str(ex.headers.get("access-control-allow-credentials", "")).strip().lower() == "true"
            f.check(not (acao == origin and credentials),
                    f"{'preflight' if method == 'OPTIONS' else 'token request'} from origin {origin!r}",
                    "no Access-Control-Allow-Credentials: true next to an origin the server cannot know",
                    f"Access-Control-Allow-Origin: {acao} with Access-Control-Allow-Credentials: true: any web page "
                    "can read tokens with the user's cookies", ex)
    f.conclude()
    # No finding is evidence only if the route gives tokens at all: a server without one (404 to everything)
    # has nothing to say about CORS credentials.
    _require_control(t)
