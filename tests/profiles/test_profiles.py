"""Profiles: the bundled ones load, a custom file works, a bad file is refused with a clear message,
and route paths carry any value as exactly one segment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from conformance.client import TokenServerClient
from conformance.profiles import DEFAULT_PROFILE, NotInProfile, ProfileError, bundled_names, load_profile
from conformance.reference.threaded import ThreadedServer

CUSTOM: dict[str, Any] = {
    "name": "my-server",
    "description": "a token server behind /api",
    "token_version": "006",
    "roles": {"publisher": "host", "subscriber": "audience"},
    "routes": {"rtc": "/api/rtc/{channel}/{role}/{tokentype}/{uid}", "ping": "/healthz"},
    "expiry_param": "ttl",
    "default_expiry": 600,
}


def write(tmp_path: Path, data: Any, name: str = "profile.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_bundled_profiles_load() -> None:
    assert bundled_names() == ["agora-node-tokenserver", "agora-token-service"]
    go = load_profile("agora-token-service")
    node = load_profile("agora-node-tokenserver")
    assert (go.token_version, node.token_version) == ("007", "006")
    assert go.roles["subscriber"] == "subscriber" and node.roles["subscriber"] == "audience"
    assert go.has("post_get_token") and not node.has("post_get_token")
    assert go.has("rtm") and node.has("rtm")
    assert load_profile(None).name == DEFAULT_PROFILE == load_profile().name
    assert go.as_dict()["name"] == "agora-token-service"


def test_custom_profile_file(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, CUSTOM))
    assert p.name == "my-server"
    assert p.token_version == "006"
    assert p.expiry_param == "ttl" and p.default_expiry == 600
    assert p.has("ping") and not p.has("rtm")
    assert p.token_types == ("uid", "userAccount")
    assert p.rtc_path("c", "subscriber", "uid", "7") == "/api/rtc/c/audience/uid/7"
    assert p.rtc_path("c", "publisher", "uid", "7", slash=False) == "/api/rtc/c/host/uid/7"
    assert p.rtc_path("c", "owner", "uid", "7") == "/api/rtc/c/owner/uid/7"  # unknown roles pass through


def test_defaults_when_optional_keys_missing(tmp_path: Path) -> None:
    minimal = {"roles": {"publisher": "publisher", "subscriber": "subscriber"},
               "routes": {"rtc": "/rtc/{channel}/{role}/{tokentype}/{uid}/"}}
    p = load_profile(write(tmp_path, minimal))
    assert (p.name, p.token_version, p.expiry_param, p.default_expiry) == ("custom", "007", "expiry", 3600)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roles": None}, "'roles' must map 'publisher' and 'subscriber'"),
        ({"roles": {"publisher": "publisher"}}, "'roles' must map 'publisher' and 'subscriber'"),
        ({"roles": {"publisher": "publisher", "subscriber": 3}}, "'roles' must map"),
        ({"routes": {"ping": "/ping"}}, "'routes' must be an object with at least an 'rtc' route"),
        ({"routes": "/rtc"}, "'routes' must be an object"),
        ({"routes": {**CUSTOM["routes"], "admin": "/admin"}}, "unknown routes ['admin']"),
        ({"routes": {"rtc": "rtc/{channel}/{role}/{tokentype}/{uid}"}}, "route 'rtc' must be a path starting with '/'"),
        ({"routes": {"rtc": "/rtc/{channel}/{role}/{uid}"}}, "missing ['tokentype']"),
        ({"routes": {"rtc": "/rtc/{channel}/{role}/{tokentype}/{uid}/{extra}"}}, "unknown placeholders ['extra']"),
        ({"routes": {"rtc": "/rtc/{channel/{role}/{tokentype}/{uid}"}}, "not a valid template"),
        ({"token_version": "008"}, "'token_version' must be '006' or '007', not '008'"),
        ({"token_version": 7}, "'token_version' must be '006' or '007'"),
        ({"default_expiry": 0}, "'default_expiry' must be an integer in 1..86400"),
        ({"default_expiry": 86401}, "'default_expiry'"),
        ({"default_expiry": True}, "'default_expiry'"),
        ({"token_types": "uid"}, "'token_types' must be a list of strings"),
        ({"token_type": ["uid"]}, "unknown keys ['token_type']"),
    ],
)
def test_invalid_profile_files(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = write(tmp_path, {**CUSTOM, **change})
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    text = str(info.value)
    assert message in text
    assert text.startswith(f"profile file {path!r} is not a valid profile: ")
    assert "\n" not in text  # one line, printed as is by the CLI


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, {**CUSTOM, "roles": {}, "token_version": "5"}))
    assert "'roles'" in str(info.value) and "'token_version'" in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not JSON"),
    ("", "is not JSON"),
    ("[1, 2]", "expected a JSON object"),
])
def test_not_a_profile(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(write(tmp_path, text))


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile("agora-go-server")
    assert "unknown profile 'agora-go-server'" in str(info.value)
    assert "agora-token-service" in str(info.value)  # says what exists
    with pytest.raises(ProfileError, match="nor a file"):
        load_profile(str(tmp_path))  # a folder is not a profile file


def test_profile_error_is_a_value_error() -> None:
    assert issubclass(ProfileError, ValueError)


# --- path segments -------------------------------------------------------------

SEGMENT_VALUES = ["chännel", "a b", "a/b", "what?x=1", "#frag", "%41", "..", ".", "日本語", "+&=;"]


@pytest.mark.parametrize("value", SEGMENT_VALUES)
def test_rtc_path_keeps_values_in_one_segment(value: str) -> None:
    p = load_profile()
    path = p.rtc_path(value, "publisher", "userAccount", value)
    segments = path.split("/")
    assert segments[0] == "" and segments[-1] == ""
    assert len(segments) == 7
    assert [unquote(s) for s in segments[2:6]] == [value, "publisher", "userAccount", value]
    assert not set("?# ") & set(path)
    assert path.isascii()


def test_rtm_and_rte_paths_encoded() -> None:
    p = load_profile()
    assert p.rtm_path("a/b c") == "/rtm/a%2Fb%20c/"
    assert p.rte_path("ch/1", "subscriber", "uid", "9") == "/rte/ch%2F1/subscriber/uid/9/"
    assert load_profile("agora-node-tokenserver").rte_path("c", "subscriber", "uid", "9") == "/rte/c/audience/uid/9/"


def test_slash_false_removes_only_the_trailing_slash() -> None:
    p = load_profile()
    assert p.rtc_path("c", "publisher", "uid", "", slash=False) == "/rtc/c/publisher/uid/"
    assert p.rtc_path("c", "publisher", "uid", "0", slash=False) == "/rtc/c/publisher/uid/0"


async def _raw_path_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers the segments of the raw request path, percent-decoded one by one, as a router would."""
    request = Request(scope, receive)
    raw = scope["raw_path"].decode("ascii")
    response = JSONResponse({"segments": [unquote(s) for s in raw.split("/")], "query": request.url.query})
    await response(scope, receive, send)


@pytest.fixture(scope="module")
def raw_path_server() -> Iterator[str]:
    with ThreadedServer(_raw_path_app) as srv:
        yield srv.url


def test_values_reach_a_server_intact(raw_path_server: str) -> None:
    p = load_profile()
    c = TokenServerClient(raw_path_server, timeout=5.0)
    try:
        for value in SEGMENT_VALUES:
            ex = c.get(p.rtc_path(value, "subscriber", "userAccount", value))
            assert ex.status == 200, ex.summary()
            assert ex.json() == {"segments": ["", "rtc", value, "subscriber", "userAccount", value, ""], "query": ""}
    finally:
        c.close()


# --- the operations format ------------------------------------------------------------------------------

QUERY_SHAPE: dict[str, Any] = {
    "extends": "agora-token-service",
    "name": "query",
    "token_types": {"uid": "uid"},
    "operations": {
        "rtc": {"path": "/token", "query": {"channel": "{channel}", "uid": "{uid}", "role": "{role}",
                                            "expiry": "{expiry}"}, "token": "/token"},
        "health": {"path": "/health"},
        "rtm": None, "rte": None, "post_get_token": None,
    },
}
JSON_SHAPE: dict[str, Any] = {
    "name": "json",
    "roles": {"publisher": "host", "subscriber": "audience"},
    "token_types": {"uid": "uid"},
    "expiry": {"unit": "minutes", "default": 60},
    "operations": {
        "rtc": {"method": "POST", "path": "/api/token", "token": "/data/token", "uid": "/data/uid",
                "body": {"channelName": "{channel}", "uid": "{uid:number}", "role": "{role}",
                         "expireMinutes": "{expiry:number}", "kind": "rtc"}},
    },
}


def test_bundled_profiles_are_in_the_operations_format_and_valid_against_the_schema() -> None:
    from jsonschema import Draft202012Validator

    from conformance import schemas

    validator = Draft202012Validator(schemas.load_schema("profile"))
    Draft202012Validator.check_schema(schemas.load_schema("profile"))
    for name in bundled_names():
        text = resources_text(name)
        assert "operations" in text and not list(validator.iter_errors(text))
        assert load_profile(name).document()["operations"] == text["operations"] | {
            k: {**v, **({"method": "GET"} if "method" not in v else {})} for k, v in text["operations"].items()}


def resources_text(name: str) -> dict[str, Any]:
    from importlib import resources

    return json.loads(resources.files("conformance.profiles").joinpath(f"{name}.json").read_text(encoding="utf-8"))


def test_query_shape_builds_query_strings(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, QUERY_SHAPE))
    assert p.rtc_request("a b&c", "subscriber", "uid", "7", expiry=600).line() == \
        "GET /token?channel=a%20b%26c&uid=7&role=subscriber&expiry=600"
    assert p.rtc_request("c").path == "/token?channel=c&uid=0&role=publisher"  # no expiry asked: left out
    assert not p.has("rtm") and not p.has("post_get_token") and p.has("ping") and not p.has("rtc_account")
    assert p.token_version == "007" and p.description.startswith("starts from")
    with pytest.raises(NotInProfile, match="string user accounts"):
        p.rtc_request("c", tokentype="userAccount", uid="alice")
    with pytest.raises(NotInProfile, match="no trailing slash"):
        p.rtc_request("c", slash=False)
    with pytest.raises(NotInProfile, match="token type"):
        p.rtc_request("c", tokentype="nonsense")


def test_json_shape_types_fields_words_and_units(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, JSON_SHAPE))
    r = p.rtc_request("c", "publisher", "uid", "4294967296", expiry=600)
    assert (r.method, r.path) == ("POST", "/api/token")
    assert r.json_body == {"channelName": "c", "uid": 4294967296, "role": "host", "expireMinutes": 10, "kind": "rtc"}
    # A value that is not a number reaches a number field as text: a wrong type, refused just the same.
    bad = p.rtc_request("c", "owner", "uid", "abc", expiry="86401", lenient=True).json_body
    assert bad == {"channelName": "c", "uid": "abc", "role": "owner", "expireMinutes": 1441, "kind": "rtc"}
    assert p.rtc_request("c", uid="1.5").json_body["uid"] == 1.5
    assert "expireMinutes" not in p.rtc_request("c").json_body
    with pytest.raises(NotInProfile, match="minutes"):
        p.rtc_request("c", expiry=6)  # 6 s is no whole number of minutes
    assert p.default_expiry == 3600 and p.expiry_unit == "minutes"


def test_form_bodies(tmp_path: Path) -> None:
    data = {"operations": {"rtc": {"method": "POST", "path": "/t", "body_format": "form",
                                   "body": {"ch": "{channel}", "uid": "{uid}"}}}}
    r = load_profile(write(tmp_path, data)).rtc_request("a b", uid="5")
    assert r.form == {"ch": "a b", "uid": "5"} and r.content == b"ch=a+b&uid=5"
    assert r.content_type == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"operations": {}}, "$.operations: an 'rtc' operation is required"),
        ({"operations": {"rtc": {"path": "/t", "method": "FETCH"}}}, "$.operations.rtc.method: 'FETCH' is not one of"),
        ({"operations": {"rtc": {"path": "t/{channel}/{uid}"}}}, "$.operations.rtc.path: 't/{channel}/{uid}' is not a path"),
        ({"operations": {"rtc": {"path": "/t/{channel}/{uid}", "token": "data.token"}}},
         "$.operations.rtc.token: 'data.token' is not a JSON pointer"),
        ({"operations": {"rtc": {"path": "/t/{uid}"}}}, "$.operations.rtc: the templates must place {channel}"),
        ({"roles": {"publisher": "p", "subscriber": "s"}, "operations": {"rtc": {"path": "/t/{channel}"}}},
         "$.roles: the rtc operation places no {role}, so the server issues one role"),
        ({"expiry": {"default": 600, "min": 900}, "operations": {"rtc": {"path": "/t/{channel}/{expiry}"}}},
         "$.expiry.min: 900 seconds is above the default lifetime"),
        ({"expiry": {"default": 600, "max": 300}, "operations": {"rtc": {"path": "/t/{channel}/{expiry}"}}},
         "$.expiry.max: 300 seconds is below the default lifetime"),
        ({"expiry": {"default": 600, "max": 900}, "operations": {"rtc": {"path": "/t/{channel}"}}},
         "$.expiry: 'min' and 'max' are the limits of a lifetime the client asks for"),
        ({"roles": {"publisher": ["x"]}, "operations": {"rtc": {"path": "/t/{channel}"}}}, "$.roles.publisher"),
        ({"operations": {"rtc": {"path": "/t", "query": {"c": "{chanel}", "u": "{uid}"}}}},
         "$.operations.rtc.query.c: unknown placeholder {chanel}"),
        ({"operations": {"rtc": {"path": "/t/{channel}/{uid:number}"}}}, "$.operations.rtc.path: {uid:number}: a type"),
        ({"operations": {"rtc": {"method": "GET", "path": "/t", "body": {"c": "{channel}", "u": "{uid}"}}}},
         "$.operations.rtc.method: a GET request carries no body"),
        ({"operations": {"rtc": {"path": "/t/{channel}/{uid}", "statu": 201}}}, "('statu' was unexpected)"),
        ({"roles": {}, "operations": {"rtc": {"path": "/t/{channel}/{uid}"}}}, "$.roles: {} should be non-empty"),
        ({"expiry": {"unit": "days"}, "operations": {"rtc": {"path": "/t/{channel}/{uid}"}}}, "$.expiry.unit: 'days'"),
        ({"extends": "agora-go", "operations": {}}, "$.extends: 'agora-go' is not a bundled profile"),
    ],
)
def test_bad_operations_profiles_name_the_json_path(tmp_path: Path, data: dict[str, Any], message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    text = str(info.value)
    assert text.startswith(f"profile file {path!r} is not a valid profile: $")
    assert message in text and "\n" not in text


def test_extends_keeps_unlisted_operations_and_tweaks_listed_ones(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, {"extends": "agora-node-tokenserver", "operations": {"rtm": {"token": "/t"}}}))
    assert p.token_version == "006" and p.roles["subscriber"] == "audience"
    assert p.operations["rtm"].token == "/t" and p.operations["rtm"].path == "/rtm/{uid}/"
    assert p.has("rte") and p.has("rtc_account")


def test_resolved_document_loads_back_the_same(tmp_path: Path) -> None:
    for data in (QUERY_SHAPE, JSON_SHAPE):
        p = load_profile(write(tmp_path, data))
        again = load_profile(write(tmp_path, p.document(), "again.json"))
        assert again.document() == p.document()


def test_a_profile_that_extends_may_change_only_its_token_types(tmp_path: Path) -> None:
    """Newcomer finding 13: a server without user accounts says so in one key; ROUTE-9 is then not applicable."""
    p = load_profile(write(tmp_path, {"extends": "agora-token-service", "token_types": {"uid": "uid"}}))
    assert p.token_types == ("uid",) and p.account_operation() is None and p.has("post_get_token")
    with pytest.raises(NotInProfile):
        p.rtc_request(tokentype="userAccount", uid="alice")
    with pytest.raises(ProfileError, match=r"Additional properties are not allowed \('colour' was unexpected\)"):
        load_profile(write(tmp_path, {"extends": "agora-token-service", "colour": "red"}))


def test_a_file_with_neither_operations_nor_extends_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"it needs 'operations' .*or 'extends'"):
        load_profile(write(tmp_path, {"token_types": ["uid"]}))


def test_route_9_is_not_applicable_to_a_profile_without_user_accounts(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    path = write(tmp_path, {"extends": "agora-token-service", "token_types": {"uid": "uid"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    proc = subprocess.run([sys.executable, "-m", "conformance", "check", "--profile", path, "--case", "ROUTE-1,ROUTE-9",
                           "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "r" / "conformance.json").read_text(encoding="utf-8"))
    case = next(c for c in doc["cases"] if c["id"] == "ROUTE-9")
    assert case["outcome"] == "skipped" and "not applicable" in case["message"], case


# --- FORMAT-18: what the rtc operation does not place, the server does not take -------------------------------


def test_typed_roles_keep_their_json_type_in_a_body_and_read_as_text_in_a_query(tmp_path: Path) -> None:
    body = load_profile(write(tmp_path, {
        "roles": {"publisher": True, "subscriber": False},
        "operations": {"rtc": {"path": "/t", "body": {"c": "{channel}", "p": "{role:boolean}"}, "uid": "/uid"}}}))
    assert body.rtc_request("a", "subscriber").json_body == {"c": "a", "p": False}
    assert body.rtc_request("a", "no", lenient=True).json_body == {"c": "a", "p": "no"}  # a bad value stays text
    query = load_profile(write(tmp_path, {
        "roles": {"publisher": 1, "subscriber": 0},
        "operations": {"rtc": {"path": "/t", "query": {"c": "{channel}", "r": "{role}", "u": "{uid}"}}}}, "q.json"))
    assert query.rtc_request("a", "publisher", uid="5").path == "/t?c=a&r=1&u=5"
    assert query.role_word("subscriber") == "0"


def test_no_role_placeholder_means_one_role(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, {"extends": "agora-token-service",
                                      "operations": {"rtc": {"path": "/t", "query": {"c": "{channel}", "u": "{uid}"}}}}))
    assert not p.role_input and p.issued_roles == ("publisher",)  # roles the file did not write: publisher
    assert p.rtc_request("a", "publisher", uid="3").path == "/t?c=a&u=3"
    with pytest.raises(NotInProfile, match="issues no subscriber tokens"):
        p.rtc_request("a", "subscriber")
    with pytest.raises(NotInProfile, match="takes no role"):
        p.rtc_request("a", "owner", lenient=True)


def test_no_uid_and_no_expiry_placeholders(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, {"expiry": {"default": 600},
                                      "operations": {"rtc": {"path": "/t/{channel}/{role}", "uid": "/uid"}}}))
    assert not p.uid_input and not p.expiry_input and p.default_expiry == 600
    assert p.rtc_request("a", uid="99").path == "/t/a/publisher"  # the uid is the server's to choose
    with pytest.raises(NotInProfile, match="fixed lifetime of 600 s"):
        p.rtc_request("a", expiry=300)


def test_expiry_limits_and_a_raw_token_round_trip(tmp_path: Path) -> None:
    data = {"expiry": {"unit": "minutes", "default": 60, "min": 1, "max": 120},
            "operations": {"rtc": {"path": "/t/{channel}/{uid}", "query": {"ttl": "{expiry}"}, "token": ""}}}
    p = load_profile(write(tmp_path, data))
    assert (p.expiry_min, p.expiry_max, p.raw_token) == (60, 7200, True)
    assert p.lifetime(6) == 60 and p.lifetime(86400) == 7200 and p.lifetime(600) == 600
    again = load_profile(write(tmp_path, p.document(), "again.json"))
    assert again.document() == p.document() and again.document()["expiry"] == data["expiry"]
