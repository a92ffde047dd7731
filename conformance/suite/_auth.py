"""The authentication sweep SEC-5 and SEC-6 share: every token route with, without and with wrong credentials.

Computed once per target (``Target.memo``): both cases judge the same answers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ..cases import NOT_APPLICABLE
from ..client import Exchange
from ..headers import secret_parts
from ..target import Fetched, Target, extract_token
from ._support import once_per_target

_MEMO = "auth_sweep"


@dataclass
class RouteAnswers:
    what: str
    valid: Fetched
    without: Exchange
    wrong: Exchange


def wrong_value(value: str) -> str:
    """A credential of the same shape that cannot be the right one: same scheme, another secret."""
    scheme, sep, rest = value.partition(" ")
    filler = "conformance-wrong-" + secrets.token_hex(8)
    return f"{scheme} {filler}" if sep and rest.strip() else filler


def _routes(t: Target) -> list[tuple[str, str, str, Any, str]]:
    """(what, method, path, json body, token key) of every token route of the profile."""
    p = t.profile
    rtc = t.rtc_request(channel="conformance-auth")  # the profile's shape: query string, JSON body, ...
    routes: list[tuple[str, str, str, Any, str]] = [
        (f"{rtc.method} RTC", rtc.method, rtc.path, rtc.json_body, p.operations["rtc"].token)]
    if p.has("rtm"):
        rtm = p.request("rtm", uid="conformance-auth")
        routes.append((f"{rtm.method} RTM", rtm.method, rtm.path, rtm.json_body, p.operations["rtm"].token))
    if p.has("rte"):
        rte = p.request("rte", "conformance-auth", "publisher", "uid", "0")
        routes.append((f"{rte.method} RTE", rte.method, rte.path, rte.json_body, p.operations["rte"].token))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-auth", "role": t.profile.roles["publisher"], "uid": "0",
                "expire": 600}
        op = p.operations["post_get_token"]
        routes.append(("POST /getToken", "POST", op.path, body, op.token))
    return routes


def auth_sweep(t: Target) -> list[RouteAnswers]:
    if not t.settings.has_credentials:
        pytest.skip(f"{NOT_APPLICABLE}: no credentials configured (--header), nothing to enforce")
    def sweep() -> list[RouteAnswers]:
        wrong = {name: wrong_value(value) for name, value in t.client.headers.items()}
        out = []
        for what, method, path, body, key in _routes(t):
            valid = extract_token(t.client.request(method, path, json_body=body), key)
            without = t.client.request(method, path, json_body=body, credentials=False)
            bad = t.client.request(method, path, json_body=body, headers=wrong)
            out.append(RouteAnswers(what, valid, without, bad))
        return out

    return list(once_per_target(t, _MEMO, sweep))  # SEC-5 and SEC-6 may ask at the same time


def echoed(t: Target, ex: Exchange) -> str | None:
    """Where a configured credential appears in ``ex`` ('body' / 'headers'), or None. Never the value itself."""
    needles = [p.lower() for v in t.client.headers.values() for p in secret_parts(v) if len(p) >= 4]
    body = ex.text.lower()
    headers = "\n".join(f"{k}: {v}" for k, v in ex.headers.items()).lower()
    if any(n in body for n in needles):
        return "body"
    if any(n in headers for n in needles):
        return "headers"
    return None
