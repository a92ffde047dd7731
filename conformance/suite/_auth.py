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
    routes: list[tuple[str, str, str, Any, str]] = [
        ("GET RTC", "GET", t.rtc_path(channel="conformance-auth"), None, "rtcToken")]
    if t.profile.has("rtm"):
        routes.append(("GET RTM", "GET", t.profile.rtm_path("conformance-auth"), None, "rtmToken"))
    if t.profile.has("rte"):
        routes.append(("GET RTE", "GET", t.profile.rte_path("conformance-auth", "publisher", "uid", "0"), None,
                       "rtcToken"))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-auth", "role": t.profile.roles["publisher"], "uid": "0",
                "expire": 600}
        routes.append(("POST /getToken", "POST", t.profile.routes["post_get_token"], body, "token"))
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
