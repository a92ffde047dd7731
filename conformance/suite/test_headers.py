"""Section HEADER: what caches and browsers do with the responses."""

from __future__ import annotations

from typing import Any

import pytest

from ..browser import Browser, session_browser
from ..cases import NOT_APPLICABLE, case
from ..cors import title_case
from ..target import Target
from ..verdict import Findings
from ._support import NOT_JUDGED_NOTE
from ._web import AppRequest, Judged, app_request, browser_init, judge_origin, page_read_token

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
        pytest.skip(f"{NOT_JUDGED_NOTE} the same request without Origin got no token ({control.problem}), so a refusal "
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


@case("HEADER-5")
def test_web_app_can_read_a_token(token_target: Target) -> None:
    t = token_target
    origins = t.settings.origins
    if not origins:
        pytest.skip(f"{NOT_APPLICABLE}: no web origin declared (--web-origin, or the profile's web_origins)")
    control = t.fetch_rtc(channel="conformance-web")
    if control.raw is None:
        pytest.skip(f"{NOT_JUDGED_NOTE} the same request without Origin got no token ({control.problem}), so no CORS "
                    "answer proves anything (judged by ROUTE-1)")
    app = app_request(t, "conformance-web")
    browser = session_browser(t.settings.browser, t.settings.url) if t.settings.browser else None
    f = Findings()
    notes, verdicts = [], []
    for origin in origins:
        judged = judge_origin(t, app, origin)
        verdict: dict[str, Any] = {"origin": origin, "request": app.described(), "preflight": app.preflighted,
                                   "standard": "passed" if judged.refusal is None else "failed",
                                   "step": None if judged.refusal is None else judged.refusal.step,
                                   "problem": None if judged.refusal is None else judged.refusal.problem}
        said = _browser_says(browser, t, app, origin, judged, verdict)
        if judged.refusal is not None:
            expected = (f"the preflight (OPTIONS without credentials) answers 2xx and allows {origin}, "
                        f"{app.request.method} and {', '.join(title_case(h) for h in app.unsafe) or 'no extra header'}; "
                        f"the token answer allows {origin}") if app.preflighted else \
                f"the token answer allows {origin} (a simple request: no preflight)"
            f.add(f"{app.described()} from a page at {origin} ({judged.refusal.step})", expected,
                  judged.refusal.problem + (f"; {said}" if said else ""), judged.evidence)
        else:
            steps = "preflight and token answer allow it" if app.preflighted else \
                "a simple request (no non-safelisted header): browsers send no preflight, none was judged; the " \
                "token answer allows it"
            notes.append(f"{origin}: the Fetch standard's check passes ({steps})" + (f"; {said}" if said else ""))
        verdicts.append(verdict)
    if browser is None:
        notes.append("judged by the Fetch standard alone (--browser confirms it in a headless Chromium)")
    t.memo.setdefault("case_notes", {})["HEADER-5"] = "; ".join(notes)
    t.memo["web_origins"] = verdicts
    f.conclude()


def _browser_says(browser: Browser | None, t: Target, app: AppRequest, origin: str, judged: Judged,
                  verdict: dict[str, Any]) -> str:
    """With --browser: the page's fetch() from ``origin``, recorded next to the standard's verdict, in words."""
    if browser is None:
        verdict["browser"] = None
        return ""
    page = browser.fetch(origin, t.client.url(app.request.path), browser_init(app))
    read = page.read and page.status == app.operation.status and page_read_token(page.body, app.operation)
    verdict["browser"] = {"name": browser.name, "read_token": read,
                          "detail": None if read else (page.why_not() if not page.read else f"status {page.status}")}
    if read and judged.refusal is not None:
        return (f"{browser.name} lets it through (it does not apply this rule yet); the verdict follows the Fetch "
                "standard" if judged.refusal.wildcard else
                f"{browser.name} read a token anyway; the verdict follows the Fetch standard")
    if read:
        return f"{browser.name} read a token from a page at {origin}"
    if judged.refusal is not None:
        return f"{browser.name} could not read a token either ({verdict['browser']['detail']})"
    return (f"{browser.name} could not read a token although the Fetch standard's check passes "
            f"({verdict['browser']['detail']}); the verdict follows the standard")
