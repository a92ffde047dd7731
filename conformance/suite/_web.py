"""HEADER-5's steps: the web app's token request from a declared origin, as the Fetch standard and a browser see it.

Kept out of test_headers.py so the section reads as requirements: here the requests are sent (the preflight
without credentials, as browsers send it; the token request with them and the Origin), judged by
:mod:`conformance.cors`, and, with --browser, run again by a headless Chromium (:mod:`conformance.browser`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..client import REDIRECT_STATUSES, Exchange
from ..cors import BrowserRefusal, check_answer, check_preflight, needs_preflight, unsafe_header_names
from ..profiles import Operation, Request, resolve_pointer
from ..target import Target, extract_token

#: Same-host redirects followed, each judged as the browser would (it preflights the new URL again).
MAX_HOPS = 3


@dataclass(frozen=True)
class AppRequest:
    """The token request the web app sends: the profile's method and body, the configured credential headers."""

    request: Request
    operation: Operation
    #: Every header the page's fetch() sets (credentials and, with a body, its Content-Type), with their values.
    headers: dict[str, str]

    @property
    def unsafe(self) -> list[str]:
        return unsafe_header_names(self.headers)

    @property
    def preflighted(self) -> bool:
        return needs_preflight(self.request.method, self.headers)

    def described(self) -> str:
        names = ", ".join(self.headers) or "no extra header"
        return f"{self.request.method} with {names}"


def app_request(t: Target, channel: str) -> AppRequest:
    request = t.rtc_request(channel=channel)
    headers = dict(t.client.headers)
    if request.json_body is not None:
        headers["Content-Type"] = "application/json"
    elif request.content_type:
        headers["Content-Type"] = request.content_type
    return AppRequest(request, t.profile.operations["rtc"], headers)


@dataclass
class Judged:
    """The Fetch standard's verdict for one origin: the refusal (None: the page reads the token) and its evidence."""

    origin: str
    refusal: BrowserRefusal | None
    evidence: Exchange | None
    preflight_status: int | None = None


def judge_origin(t: Target, app: AppRequest, origin: str) -> Judged:
    """Preflight (when a browser sends one) and token request from ``origin``, step by step, as the Fetch standard."""
    path = app.request.path
    unsafe = app.unsafe
    judged = Judged(origin, None, None)
    for _hop in range(MAX_HOPS + 1):
        if app.preflighted:
            ask = {"Origin": origin, "Access-Control-Request-Method": app.request.method, "Accept": "*/*"}
            if unsafe:
                ask["Access-Control-Request-Headers"] = ",".join(unsafe)
            pre = t.client.request("OPTIONS", path, headers=ask, credentials=False, follow_redirects=False)
            judged.evidence, judged.preflight_status = pre, pre.status
            if pre.status is None:
                judged.refusal = BrowserRefusal("preflight", f"the preflight got no answer: {pre.error}")
                return judged
            judged.refusal = check_preflight(origin, app.request.method, unsafe, pre.status, pre.headers,
                                             credentials=t.settings.has_credentials)
            if judged.refusal is not None:
                return judged
        ans = t.client.request(app.request.method, path, headers={"Origin": origin}, json_body=app.request.json_body,
                               content=app.request.content, content_type=app.request.content_type,
                               follow_redirects=False)
        judged.evidence = ans
        if ans.status is None:
            judged.refusal = BrowserRefusal("answer", f"the token request got no answer: {ans.error}")
            return judged
        location = ans.headers.get("location")
        if ans.status in REDIRECT_STATUSES and location:
            judged.refusal = check_answer(origin, ans.headers, preflighted=app.preflighted)
            if judged.refusal is not None:
                judged.refusal = BrowserRefusal("answer", judged.refusal.problem.replace(
                    "the token answer", f"the redirect ({ans.status}) of the token request", 1))
                return judged
            target = urljoin(ans.url, location)
            here, there = urlsplit(ans.url), urlsplit(target)
            if (here.scheme, here.netloc) != (there.scheme, there.netloc):
                judged.refusal = BrowserRefusal(
                    "answer", f"the token request is redirected to another host ({location}): "
                    "after it the browser sends Origin: null; answer at the token URL itself")
                return judged
            path = there.path + (f"?{there.query}" if there.query else "")
            continue
        if ans.status != app.operation.status:
            judged.refusal = BrowserRefusal(
                "answer", f"the token request from {origin} was answered {ans.summary(120)}, while "
                f"the same request without Origin got a token: the server refuses this origin; "
                f"add {origin} to the allowed origins")
            return judged
        judged.refusal = check_answer(origin, ans.headers, preflighted=app.preflighted)
        if judged.refusal is None:
            got = extract_token(ans, app.operation.token, status=app.operation.status)
            if got.raw is None:
                judged.refusal = BrowserRefusal("answer",
                                                f"the token request from {origin} got no token ({got.problem})")
        return judged
    judged.refusal = BrowserRefusal("answer", f"more than {MAX_HOPS} redirects")
    return judged


def page_read_token(body: str | None, operation: Operation) -> bool:
    """Whether the body the page could read carries the token where the profile says."""
    try:
        value = resolve_pointer(json.loads(body or ""), operation.token if operation.token.startswith("/")
                                else "/" + operation.token)
    except (ValueError, KeyError, TypeError, IndexError):
        return False
    return isinstance(value, str) and bool(value)


def browser_init(app: AppRequest) -> dict[str, Any]:
    """The ``fetch()`` options of the app: method, headers, body; mode cors and credentials same-origin (defaults)."""
    init: dict[str, Any] = {"method": app.request.method, "headers": dict(app.headers), "mode": "cors",
                            "credentials": "same-origin"}
    if app.request.json_body is not None:
        init["body"] = json.dumps(app.request.json_body)
    elif app.request.content is not None:
        init["body"] = app.request.content.decode("ascii")
    return init
