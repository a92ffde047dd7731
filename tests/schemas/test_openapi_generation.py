"""Requests generated from the OpenAPI document in positive mode are all ones a strict server must accept.

PROP-1 judges a server by what it answers to generated *valid* requests, so a parameter schema that lets
one invalid value through is a false positive waiting to happen (Schemathesis' most reported problem,
anchors.md §4). Each generated request is checked two ways:

- against the strict rules, written here in plain Python independently of the schema's regexes, applied
  to what the server receives (the percent-decoded path segments, the query string, the JSON body);
- for the default profile, against the reference server (strict validation, conformance/reference/),
  which must answer 200 and a schema-valid body to every one of them (its role words are the default
  profile's, so the Node profile's cases are checked against the rules only).

Generation runs through Schemathesis' public pytest API (``schema.parametrize()``): examples, coverage
and fuzzing phases, 100 fuzzed cases per operation, deterministic.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from conformance import schemas
from conformance.openapi import openapi_document
from conformance.profiles import load_profile
from conformance.reference.threaded import ThreadedServer

AGORA_CHANNEL_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&()+-:;<=.>?@[]^_{}|~,"
)
MAX_UID = 4_294_967_295
SUCCESS_SCHEMA = {
    "getRtcTokenForUid": "rtc-token",
    "getRtcTokenForAccount": "rtc-token",
    "getRtmToken": "rtm-token",
    "getRteToken": "rte-token",
    "ping": "ping",
    "postGetToken": "get-token",
}


def _config(max_examples: int) -> schemathesis.Config:
    """Explicit, so a schemathesis.toml in the working folder cannot change what these tests generate."""
    return schemathesis.Config.from_dict(
        {"generation": {"mode": "positive", "max-examples": max_examples, "deterministic": True}}
    )


DEFAULT_PROFILE = load_profile("agora-token-service")
NODE_PROFILE = load_profile("agora-node-tokenserver")
DEFAULT_SCHEMA = schemathesis.openapi.from_dict(openapi_document(DEFAULT_PROFILE), config=_config(100))
NODE_SCHEMA = schemathesis.openapi.from_dict(openapi_document(NODE_PROFILE), config=_config(30))


# --- the strict rules ---------------------------------------------------------------------------------


def channel_problem(value: str) -> str | None:
    if not 1 <= len(value.encode("utf-8", "surrogatepass")) <= 64:
        return f"channel {value!r}: not 1..64 bytes"
    if not set(value) <= AGORA_CHANNEL_CHARACTERS:
        return f"channel {value!r}: characters outside Agora's set"
    if value in (".", ".."):
        return f"channel {value!r}: a dot segment"
    return None


def text_problem(value: str, what: str, max_bytes: int) -> str | None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return f"{what} {value!r}: not valid Unicode"
    if not 1 <= size <= max_bytes:
        return f"{what} {value!r}: {size} bytes, not 1..{max_bytes}"
    if "/" in value or value in (".", ".."):
        return f"{what} {value!r}: '/' or a dot segment"
    if any(unicodedata.category(c) == "Cc" or c == "\ufffd" for c in value):
        return f"{what} {value!r}: a control character or U+FFFD"
    return None


def account_problem(value: str) -> str | None:
    return text_problem(value, "account", 255)


def rtm_user_problem(value: str) -> str | None:
    return f"rtm user {value!r}: '0'" if value == "0" else text_problem(value, "rtm user", 64)


def uid_problem(value: str, minimum: int = 0) -> str | None:
    ok = value.isascii() and value.isdigit() and (value == "0" or value[0] != "0")
    if not ok or not minimum <= int(value) <= MAX_UID:
        return f"uid {value!r}: not a decimal in {minimum}..{MAX_UID}"
    return None


def expiry_problem(value: object) -> str | None:
    wire = str(value)
    if not (wire.isascii() and wire.isdigit() and wire[0] != "0" and int(wire) <= 86400):
        return f"expiry {wire!r}: not a decimal in 1..86400"
    return None


def path_values(template: str, path: str) -> dict[str, str]:
    """What a router hands the handler: each templated segment, percent-decoded."""
    t_parts, p_parts = template.split("/"), path.split("/")
    assert len(t_parts) == len(p_parts), f"{path!r} does not have the segments of {template!r}"
    values = {}
    for t, p in zip(t_parts, p_parts, strict=True):
        if t.startswith("{"):
            values[t[1:-1]] = unquote(p, errors="strict")
        else:
            assert t == p, f"{path!r} changes the literal segment {t!r}"
    return values


def body_problems(body: Any, roles: set[str]) -> Iterator[str | None]:
    body = json.loads(json.dumps(body))  # what the server parses
    if not isinstance(body, dict):
        yield "body: not an object"
        return
    kind = body.get("tokenType")
    allowed = {"rtc": {"tokenType", "channel", "role", "uid", "expire"}, "rtm": {"tokenType", "uid", "expire"}}
    if kind not in allowed:
        yield f"body: tokenType {kind!r}"
        return
    if set(body) - allowed[kind]:
        yield f"body: unknown fields {sorted(set(body) - allowed[kind])}"
    if "expire" in body and (type(body["expire"]) is not int or not 1 <= body["expire"] <= 86400):
        yield f"body: expire {body['expire']!r}"
    uid = body.get("uid")
    if not isinstance(uid, str):
        yield f"body: uid {uid!r} is not a string"
        return
    if kind == "rtm":
        yield rtm_user_problem(uid)
        return
    channel = body.get("channel")
    yield channel_problem(channel) if isinstance(channel, str) else f"body: channel {channel!r}"
    yield None if body.get("role") in roles else f"body: role {body.get('role')!r}"
    yield uid_problem(uid) if uid.isascii() and uid.isdigit() else account_problem(uid)


def request_problems(case: schemathesis.Case, roles: set[str]) -> list[str]:
    """Every reason a strict server would refuse this generated request."""
    problems: list[str | None] = []
    values = path_values(case.path, case.formatted_path)
    operation_id = case.operation.definition.raw["operationId"]
    if "channel" in values:
        problems.append(channel_problem(values["channel"]))
    if "role" in values:
        problems.append(None if values["role"] in roles else f"role {values['role']!r}")
    if operation_id == "getRtcTokenForUid":
        problems.append(uid_problem(values["uid"]))
    elif operation_id == "getRteToken":
        problems.append(uid_problem(values["uid"], minimum=1))
    elif operation_id == "getRtcTokenForAccount":
        problems.append(account_problem(values["account"]))
    elif operation_id == "getRtmToken":
        problems.append(rtm_user_problem(values["uid"]))
    elif operation_id == "postGetToken":
        problems.extend(body_problems(case.body, roles))
    for name, value in (case.query or {}).items():
        problems.append(expiry_problem(value) if name == "expiry" else f"unexpected query parameter {name!r}")
    return [p for p in problems if p]


def _roles(profile: Any) -> set[str]:
    return set(profile.roles.values())


# --- the rules themselves refuse what a strict server refuses (else the checks below prove nothing) -------


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (channel_problem, ""), (channel_problem, "a" * 65), (channel_problem, "é"), (channel_problem, "a/b"),
        (channel_problem, "."), (channel_problem, ".."), (channel_problem, "tab\t"),
        (account_problem, ""), (account_problem, "a/b"), (account_problem, "."), (account_problem, "x\x00"),
        (account_problem, "x\x85"), (account_problem, "\ufffd"), (account_problem, "é" * 128),
        (account_problem, "\ud800"), (rtm_user_problem, "0"), (rtm_user_problem, "a" * 65),
        (rtm_user_problem, "🎧" * 17), (uid_problem, "-1"), (uid_problem, "4294967296"), (uid_problem, "1.5"),
        (uid_problem, "007"), (uid_problem, "١"), (expiry_problem, 0), (expiry_problem, 86401),
        (expiry_problem, 5.0), (expiry_problem, "1e3"), (expiry_problem, True),
    ],
)
def test_rules_refuse_invalid_values(check: Any, value: Any) -> None:
    assert check(value) is not None


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (channel_problem, "a" * 64), (channel_problem, "Room #1 (test) [x] {y} 100%"), (channel_problem, "..."),
        (account_problem, "é" * 127), (account_problem, "Zoë 🎧"), (rtm_user_problem, "🎧" * 16),
        (rtm_user_problem, "a" * 64), (uid_problem, "0"), (uid_problem, "4294967295"), (expiry_problem, 86400),
        (expiry_problem, "1"),
    ],
)
def test_rules_accept_valid_values(check: Any, value: Any) -> None:
    assert check(value) is None


def test_body_rules() -> None:
    roles = {"publisher", "subscriber"}
    assert [p for p in body_problems({"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": "7"}, roles)
            if p] == []
    assert any(body_problems({"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": 7}, roles))
    assert any(body_problems({"tokenType": "rtm", "uid": "a", "expire": 6894.0}, roles))
    assert any(body_problems({"tokenType": "rtm", "uid": "a", "channel": "c"}, roles))


def test_path_values_decode_like_a_router() -> None:
    assert path_values("/rtc/{channel}/x/", "/rtc/a%20b%25/x/") == {"channel": "a b%"}
    with pytest.raises(AssertionError):
        path_values("/rtc/{channel}/x/", "/rtc/a/b/x/")


# --- generated requests -------------------------------------------------------------------------------


@NODE_SCHEMA.parametrize()
def test_node_profile_generates_only_strictly_valid_requests(case: schemathesis.Case) -> None:
    assert request_problems(case, _roles(NODE_PROFILE)) == []
    assert case.operation.definition.raw["operationId"] != "postGetToken"


def test_generated_values_reach_the_hard_characters() -> None:
    """Tight must not mean trivial: generated values reach the characters servers get wrong."""
    seen: list[dict[str, str]] = []
    strategy = DEFAULT_SCHEMA["/rtc/{channel}/{role}/userAccount/{account}/"]["GET"].as_strategy()

    @settings(max_examples=50, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: schemathesis.Case) -> None:
        seen.append(path_values(case.path, case.formatted_path))

    collect()
    channels = [v["channel"] for v in seen]
    accounts = [v["account"] for v in seen]
    # A floor, not a count: generation varies a little between machines even when derandomized.
    assert len(set(channels)) > 8 and len(set(accounts)) > 8
    assert any(set(c) & set(" %#?[]") for c in channels), "no channel with a character that needs encoding"
    assert any(not a.isascii() for a in accounts), "no non-ASCII account"
    assert any(len(a.encode("utf-8")) > 32 for a in accounts), "no long account"
    assert any("%" in a for a in accounts), "no account with a percent sign"


# --- the default profile, against the reference server as well -------------------------------------------


@pytest.fixture(scope="module")
def reference_server() -> Iterator[tuple[str, requests.Session]]:
    from conformance.reference.app import Settings, create_app

    settings_ = Settings(app_id="0123456789abcdef0123456789abcdef", certificate="fedcba9876543210fedcba9876543210")
    with ThreadedServer(create_app(settings_)) as server, requests.Session() as session:
        yield server.url, session


@DEFAULT_SCHEMA.parametrize()
def test_default_profile_requests_are_strictly_valid_and_the_reference_server_accepts_them(
    case: schemathesis.Case, reference_server: tuple[str, requests.Session]
) -> None:
    assert request_problems(case, _roles(DEFAULT_PROFILE)) == []
    url, session = reference_server
    response = case.call(base_url=url, session=session, timeout=10)
    assert response.status_code == 200, f"{case.as_curl_command()} -> {response.status_code} {response.text[:300]}"
    operation_id = case.operation.definition.raw["operationId"]
    assert schemas.validate(SUCCESS_SCHEMA[operation_id], response.json()) == []
    case.validate_response(response)  # Schemathesis' own checks: content type, response schema, ...
