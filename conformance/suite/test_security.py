"""Section SEC: nothing secret leaks, and every token grants exactly what was asked."""

from __future__ import annotations

import pytest

from ..cases import case
from ..client import Exchange
from ..target import Target
from ..tokens import PUBLISHER_PRIVILEGES
from ..verdict import Findings
from ._auth import auth_sweep, echoed
from ._support import (
    TOKEN_PATTERN,
    describe_token_text,
    judged_bad_inputs,
    require_certificate,
    role_tokens,
    send_bad_inputs,
    trace_evidence,
)


def _error_sweep(target: Target, case: str) -> list[tuple[str, Exchange]]:
    bads = judged_bad_inputs(target, case=case)
    return [(bad.what, ex) for bad, ex in zip(bads, send_bad_inputs(target, bads), strict=True)]


@case("SEC-1")
def test_certificate_never_disclosed(token_target: Target) -> None:
    t = token_target
    cert = require_certificate(t)
    seen = [("RTC token response", t.fetch_rtc(channel="conformance-secret").exchange)]
    if t.profile.has("rtm"):
        seen.append(("RTM token response", t.fetch_rtm().exchange))
    if t.profile.has("health"):
        seen.append(("health check", t.health()))
    if t.profile.has("rte"):
        seen.append(("RTE token response", t.fetch_rte("conformance-secret", "publisher", "uid", "5")[0].exchange))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-secret", "role": "publisher", "uid": "5", "expire": 600}
        seen.append(("POST /getToken token response", t.post_get_token(body).exchange))
    unjudged: BaseException | None = None
    try:
        seen += _error_sweep(t, "SEC-1")
    except pytest.skip.Exception as exc:  # no control: the error answers prove nothing, the token answers still do
        unjudged = exc
    f = Findings()
    needle = cert.lower()
    for what, ex in seen:
        if ex.status is None:
            continue
        in_headers = [k for k, v in ex.headers.items() if needle in f"{k}: {v}".lower()]
        at = ex.text.lower().find(needle)
        places = ([f"body of the {ex.status} answer (at character {at})"] if at >= 0 else []) + \
                 [f"{k} header of the {ex.status} answer" for k in in_headers]
        # The message must not quote the certificate either: the redactor would hide it, so say where it was.
        f.check(not places, f"response to {what}", "no trace of the app certificate",
                f"the app certificate (32 characters, not shown) appears in the {' and the '.join(places)}: anyone "
                "who sees this answer can sign tokens for the project", ex)
    f.conclude()
    if unjudged is not None:
        raise unjudged


@case("SEC-2")
def test_no_stack_traces(token_target: Target) -> None:
    f = Findings()
    for what, ex in _error_sweep(token_target, "SEC-2"):
        if ex.status is None or ex.status < 400:
            continue
        leaks = trace_evidence(ex.text)
        f.check(not leaks, f"error body for {what}", "no stack trace, exception name or internal path",
                f"the body of the {ex.status} answer shows the server's internals: "
                + "; ".join(f"{label} ({snippet!r})" for label, snippet in leaks), ex)
    f.conclude()


@case("SEC-3")
def test_no_token_in_errors(token_target: Target) -> None:
    f = Findings()
    for what, ex in _error_sweep(token_target, "SEC-3"):
        if ex.status is None or ex.status < 400:
            continue
        m = TOKEN_PATTERN.search(ex.text)
        f.check(m is None, f"{ex.status} answer to {what}", "no token in an error response",
                f"the body of the {ex.status} refusal carries a {describe_token_text(m.group(0))}: a client that "
                "reads the body without the status joins with it" if m else "", ex)
    f.conclude()


@case("SEC-4")
def test_exactly_what_was_asked(token_target: Target) -> None:
    t = token_target
    f = Findings()
    for role in t.profile.issued_roles:
        for what, x in role_tokens(t, role):
            tok = x.token
            assert tok is not None
            if tok.version == "007":
                names = [s.name for s in tok.services]
                others = [n for n in names if n != "RTC"]
                f.check(names == ["RTC"], f"services of a {role} RTC token ({what})", "exactly one RTC service",
                        f"the token also grants {', '.join(others)} (services: {', '.join(names)}), which was not "
                        "asked for" if others else f"the token's services are {', '.join(names) or 'none'}",
                        x.exchange)
            extra = sorted((tok.rtc.privilege_names if tok.rtc else frozenset()) - PUBLISHER_PRIVILEGES)
            f.check(not extra, f"privileges of a {role} RTC token ({what})",
                    "none outside join channel and publish audio/video/data",
                    f"the {role} token also grants {', '.join(extra)}, which no client asked for", x.exchange)
    f.conclude()


#: How a server refuses a request without valid credentials: 401, 403, or 404 to hide the route (RFC 9110 15.5.5).
REFUSALS = (401, 403, 404)


@case("SEC-5")
def test_credentials_enforced(token_target: Target) -> None:
    t = token_target
    f = Findings()
    judged = 0
    for r in auth_sweep(t):
        if not r.valid.ok:
            continue  # no token even with the credentials: the ROUTE cases judge that, not this one
        judged += 1
        for label, ex in (("without the credentials", r.without), ("with wrong credentials", r.wrong)):
            if ex.status is None:
                f.add(f"{r.what} {label}", "401 or 403, no token", ex.summary(), ex)
                continue
            token = TOKEN_PATTERN.search(ex.text)
            if token:
                actual = (f"a {ex.status} answer with a token: the route issues tokens {label} (the configured "
                          "credential headers are not checked here)")
            else:
                actual = f"answered {ex.status} instead of refusing with 401, 403 or 404: {ex.summary()}"
            # RFC 9110 15.5.5: 404 hides the route from whoever lacks the credentials; it refuses just as well.
            f.check(ex.status in REFUSALS and not token, f"{r.what} {label}", "401, 403 or 404, no token", actual, ex)
    if not judged:
        pytest.skip("no token route answers a token even with the credentials (judged by ROUTE-1)")
    f.conclude()


@case("SEC-6")
def test_refusals_do_not_echo_credentials(token_target: Target) -> None:
    t = token_target
    f = Findings()
    refusals = [(f"{r.what} {label}", ex) for r in auth_sweep(t)
                for label, ex in (("without the credentials", r.without), ("with wrong credentials", r.wrong))
                if ex.status in REFUSALS]
    for what, ex in refusals:
        where = echoed(t, ex)
        # The message must not quote the credential (the redactor would hide it): say where it was.
        f.check(where is None, f"{ex.status} answer to {what}", "no configured credential value",
                f"a configured credential value appears in the {where}", ex)
    f.conclude()
