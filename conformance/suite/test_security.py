"""Section SEC: nothing secret leaks, and every token grants exactly what was asked."""

from __future__ import annotations

import pytest

from ..cases import case
from ..client import Exchange
from ..target import Target
from ..tokens import PUBLISHER_PRIVILEGES
from ..verdict import Findings
from ._auth import auth_sweep, echoed
from ._support import TOKEN_PATTERN, judged_bad_inputs, require_certificate, role_tokens, send_bad_inputs, trace_leaks


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
    if t.profile.has("ping"):
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
        headers = "\n".join(f"{k}: {v}" for k, v in ex.headers.items())
        leaked = needle in ex.text.lower() or needle in headers.lower()
        # The message must not quote the certificate either: the redactor would hide it, so say where it was.
        f.check(not leaked, f"response to {what}", "no trace of the app certificate",
                "the app certificate appears in the " + ("body" if needle in ex.text.lower() else "headers"), ex)
    f.conclude()
    if unjudged is not None:
        raise unjudged


@case("SEC-2")
def test_no_stack_traces(token_target: Target) -> None:
    f = Findings()
    for what, ex in _error_sweep(token_target, "SEC-2"):
        if ex.status is None or ex.status < 400:
            continue
        leaks = trace_leaks(ex.text)
        f.check(not leaks, f"error body for {what}", "no stack trace, exception name or internal path",
                f"{', '.join(leaks)} in {ex.summary(300)}", ex)
    f.conclude()


@case("SEC-3")
def test_no_token_in_errors(token_target: Target) -> None:
    f = Findings()
    for what, ex in _error_sweep(token_target, "SEC-3"):
        if ex.status is None or ex.status < 400:
            continue
        f.check(not TOKEN_PATTERN.search(ex.text), f"{ex.status} answer to {what}", "no token in an error response",
                f"a token in {ex.summary()}", ex)
    f.conclude()


@case("SEC-4")
def test_exactly_what_was_asked(token_target: Target) -> None:
    t = token_target
    f = Findings()
    for role in ("publisher", "subscriber"):
        for what, x in role_tokens(t, role):
            tok = x.token
            assert tok is not None
            if tok.version == "007":
                names = [s.name for s in tok.services]
                f.check(names == ["RTC"], f"services of a {role} RTC token ({what})", "exactly one RTC service",
                        str(names), x.exchange)
            extra = sorted((tok.rtc.privilege_names if tok.rtc else frozenset()) - PUBLISHER_PRIVILEGES)
            f.check(not extra, f"privileges of a {role} RTC token ({what})",
                    "none outside join channel and publish audio/video/data", f"also {extra}", x.exchange)
    f.conclude()


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
            f.check(ex.status in (401, 403) and not TOKEN_PATTERN.search(ex.text), f"{r.what} {label}",
                    "401 or 403, no token", ex.summary(), ex)
    if not judged:
        pytest.skip("no token route answers a token even with the credentials (judged by ROUTE-1)")
    f.conclude()


@case("SEC-6")
def test_refusals_do_not_echo_credentials(token_target: Target) -> None:
    t = token_target
    f = Findings()
    refusals = [(f"{r.what} {label}", ex) for r in auth_sweep(t)
                for label, ex in (("without the credentials", r.without), ("with wrong credentials", r.wrong))
                if ex.status in (401, 403)]
    for what, ex in refusals:
        where = echoed(t, ex)
        # The message must not quote the credential (the redactor would hide it): say where it was.
        f.check(where is None, f"{ex.status} answer to {what}", "no configured credential value",
                f"a configured credential value appears in the {where}", ex)
    f.conclude()
