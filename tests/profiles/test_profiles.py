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
from conformance.profiles import DEFAULT_PROFILE, ProfileError, bundled_names, load_profile
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
