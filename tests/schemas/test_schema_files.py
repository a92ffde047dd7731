"""The response JSON Schemas: valid schemas, and they sort real server bodies the way a client would.

Success and error bodies are the ones observed from the Go (agora-token-service) and Node
(Agora-Node-TokenServer) servers, with tokens built by the project's own encoder so they are real 006/007
strings rather than made-up text.
"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from conformance import schemas
from conformance.tokens.encode import build_006, build_007, rtc_service, rtm_service

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"

TOKEN_007 = build_007(
    APP_ID, CERT, issue_ts=1_700_000_000, expire=3600, salt=7,
    services=[rtc_service("my-channel", 0, {1: 3600, 2: 3600, 3: 3600, 4: 3600})],
)
RTM_007 = build_007(APP_ID, CERT, issue_ts=1_700_000_000, expire=3600, salt=8, services=[rtm_service("alice", {1: 3600})])
TOKEN_006 = build_006(APP_ID, CERT, "my-channel", 0, salt=9, ts=1_700_086_400, privileges={1: 1_700_003_600})

EXPECTED_NAMES = ["error", "get-token", "ping", "rtc-token", "rte-token", "rtm-token"]


def test_bundled_names() -> None:
    assert schemas.names() == EXPECTED_NAMES


@pytest.mark.parametrize("name", [*EXPECTED_NAMES, "openapi"])
def test_files_are_json_beside_the_module(name: str) -> None:
    path = schemas.schema_path(name)
    assert path.is_file()
    assert json.loads(path.read_text(encoding="utf-8")) == schemas.load_schema(name)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_schema_is_valid_draft_2020_12_with_id_and_description(name: str) -> None:
    schema = schemas.load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:token-conformance:schema:{name}"
    assert len(schema["description"]) > 40


def test_ids_are_unique() -> None:
    ids = [schemas.load_schema(n)["$id"] for n in EXPECTED_NAMES]
    assert len(set(ids)) == len(ids)


# --- bodies that must match ---------------------------------------------------------------------------

VALID = [
    # Go server, current (007)
    ("rtc-token", {"rtcToken": TOKEN_007}),
    ("rtm-token", {"rtmToken": RTM_007}),
    ("rte-token", {"rtcToken": TOKEN_007, "rtmToken": RTM_007}),
    ("get-token", {"token": TOKEN_007}),
    ("ping", {"message": "pong"}),
    # Node server (006)
    ("rtc-token", {"rtcToken": TOKEN_006}),
    ("rte-token", {"rtcToken": TOKEN_006, "rtmToken": TOKEN_006}),
    # servers may add keys: clients read only theirs
    ("rtc-token", {"rtcToken": TOKEN_007, "appId": APP_ID, "expiresIn": 3600}),
    ("ping", {"message": "pong", "version": "1.2.3"}),
    # Go GET parameter error, Go token-generation error, Go CORS refusal, Node error
    ("error", {"message": "Error Generating RTC token: failed to parse expireTime: -1, causing error: "
                          'strconv.ParseUint: parsing "-1": invalid syntax', "status": 400}),
    ("error", {"error": "Error Generating RTC token - failed to generate RTC token for Unknown Tokentype: nonsense",
               "status": 400}),
    ("error", {"error": "Origin not allowed"}),
    ("error", {"error": "role is incorrect"}),
    ("error", {"message": 'Error Generating RTM token: invalid RTM User ID: "0"', "status": 400}),
    # a readable string under one key is enough, whatever the other key holds
    ("error", {"error": {"code": 17}, "message": "channel is required"}),
]


@pytest.mark.parametrize(("name", "body"), VALID)
def test_real_bodies_match(name: str, body: object) -> None:
    assert schemas.validate(name, body) == []


# --- bodies that must not match -----------------------------------------------------------------------

HTML_500 = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Error</title></head><body><pre>RangeError</pre></body>"

INVALID = [
    ("rtc-token", {"token": TOKEN_007}, "rtcToken' is a required property"),
    ("rtc-token", {"rtcToken": None}, "None is not of type 'string'"),
    ("rtc-token", {"rtcToken": 7}, "7 is not of type 'string'"),
    ("rtc-token", {"rtcToken": ""}, "should be non-empty"),
    ("rtc-token", {"rtcToken": "not-a-token"}, "does not match"),
    ("rtc-token", {"rtcToken": TOKEN_007 + "\n"}, "should not be valid"),
    ("rtc-token", {"rtcToken": "008" + TOKEN_007[3:]}, "does not match"),
    ("rtc-token", {"rtcToken": {"value": TOKEN_007}}, "is not of type 'string'"),
    ("rtc-token", HTML_500, "is not of type 'object'"),
    ("rtc-token", [{"rtcToken": TOKEN_007}], "is not of type 'object'"),
    ("rtc-token", TOKEN_007, "is not of type 'object'"),
    ("rtm-token", {"rtcToken": TOKEN_007}, "'rtmToken' is a required property"),
    ("rte-token", {"rtcToken": TOKEN_007}, "'rtmToken' is a required property"),
    ("rte-token", {"rtcToken": TOKEN_007, "rtmToken": ""}, "should be non-empty"),
    ("get-token", {"rtcToken": TOKEN_007}, "'token' is a required property"),
    ("get-token", "Unsupported tokenType\n", "is not of type 'object'"),
    ("ping", {"message": "ok"}, "'pong' was expected"),
    ("ping", "pong", "is not of type 'object'"),
    # Go POST errors are plain text, Node 404s and 500s are HTML: not JSON error objects
    ("error", "json: cannot unmarshal number into Go struct field TokenRequest.uid of type string\n", "not of type"),
    ("error", HTML_500, "is not of type 'object'"),
    ("error", {"status": 400}, "is not valid under any of the given schemas"),
    ("error", {"error": ""}, "should be non-empty"),
    ("error", {"error": "   "}, "does not match"),
    ("error", {"message": 42}, "is not of type 'string'"),
    ("error", {"error": "bad role", "status": "400"}, "'400' is not of type 'integer'"),
    ("error", [{"error": "bad role"}], "is not of type 'object'"),
]


@pytest.mark.parametrize(("name", "body", "expected"), INVALID)
def test_wrong_bodies_are_refused_with_a_readable_reason(name: str, body: object, expected: str) -> None:
    problems = schemas.validate(name, body)
    assert problems, f"{body!r} should not match {name}"
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("$") for p in problems)


def test_messages_are_bounded_for_huge_bodies() -> None:
    problems = schemas.validate("rtc-token", "<html>" * 10_000)
    assert len(problems) == 1
    assert len(problems[0]) < 300


def test_messages_name_the_failing_key() -> None:
    assert schemas.validate("rte-token", {"rtcToken": TOKEN_007, "rtmToken": 5}) == [
        "$.rtmToken: 5 is not of type 'string'"
    ]


# --- the small API ------------------------------------------------------------------------------------


def test_load_schema_accepts_the_file_name_and_returns_a_copy() -> None:
    first = schemas.load_schema("rtc-token.json")
    first["required"].append("mutated")
    assert schemas.load_schema("rtc-token")["required"] == ["rtcToken"]
    assert schemas.validate("rtc-token", {"rtcToken": TOKEN_007}) == []


@pytest.mark.parametrize("name", ["nope", "../pyproject", "rtc-token.yaml", ""])
def test_unknown_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown schema"):
        schemas.load_schema(name)
    with pytest.raises(ValueError, match="unknown schema"):
        schemas.validate(name, {})


def test_openapi_is_not_a_body_schema() -> None:
    with pytest.raises(ValueError, match="not a body schema"):
        schemas.validate("openapi", {})
