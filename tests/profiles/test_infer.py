"""``conformance.profiles.infer``: the profile one or two example requests imply, for each server shape that takes
fewer inputs (tests/profiles/infer_servers.py) and the Go shape (the reference app): placeholders, pointers, roles, lifetime,
version, health route, what could not be inferred; and every inferred profile loads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.client import TokenServerClient
from conformance.profiles import parse_profile
from conformance.profiles.infer import Inference, InferError, infer, parse_example

from . import infer_servers as shapes


def _infer(make: Callable[..., Any], *examples: str, headers: dict[str, str] | None = None) -> Inference:
    with shapes.serving(make) as url:
        client = TokenServerClient(url, timeout=10, headers=headers)
        try:
            return infer(client, list(examples))
        finally:
            client.close()


def _loads(result: Inference) -> None:
    """The document is a valid profile, and the $comment lists every note."""
    profile = parse_profile(json.loads(json.dumps(result.profile)), "inferred")
    assert profile.operations["rtc"].token == result.profile["operations"]["rtc"]["token"]
    comment = "\n".join(result.profile["$comment"])
    for note in result.notes:
        assert note in comment


def test_one_role_query_server_with_its_key_answer() -> None:
    result = _infer(shapes.one_role_query, "GET /api/v1/rtcToken?channelName=infer-room&uid=0")
    doc = result.profile
    assert doc["operations"]["rtc"] == {"method": "GET", "path": "/api/v1/rtcToken",
                                        "query": {"channelName": "{channel}", "uid": "{uid}"}, "token": "/key"}
    assert doc["token_version"] == "006"
    assert doc["roles"] == {"publisher": "publisher"}  # no role input: the one role it issues
    assert doc["expiry"] == {"unit": "seconds", "default": 3600}  # measured: 006 carries no issue time
    assert doc["operations"]["health"] == {"method": "GET", "path": "/"}
    assert any(n.startswith("one example only: the role field could not be told from the others; give a second "
                            "--example with the other role") for n in result.notes)
    _loads(result)


def test_chosen_uid_post_server_with_a_boolean_role_from_two_examples() -> None:
    result = _infer(shapes.chosen_uid_post, 'POST /rtctoken {"channel": "infer-room", "isPublisher": true}',
                    'POST /rtctoken {"channel": "infer-room", "isPublisher": false}')
    rtc = result.profile["operations"]["rtc"]
    assert rtc == {"method": "POST", "path": "/rtctoken", "body": {"channel": "{channel}", "isPublisher": "{role:boolean}"},
                   "token": "/token", "uid": "/uid"}
    assert result.profile["roles"] == {"publisher": True, "subscriber": False}  # JSON types kept
    assert result.profile["expiry"] == {"unit": "seconds", "default": 3600}
    assert result.profile["operations"]["health"] == {"method": "GET", "path": "/health"}
    assert any("uid: chosen by the server (the request sends none); the answer names it at /uid" in f
               for f in result.found)
    _loads(result)


def test_one_example_finds_a_boolean_role_by_asking_with_its_counterpart() -> None:
    result = _infer(shapes.chosen_uid_post, 'POST /rtctoken {"channel": "infer-room", "isPublisher": true}')
    assert result.profile["roles"] == {"publisher": True, "subscriber": False}
    assert result.profile["operations"]["rtc"]["body"]["isPublisher"] == "{role:boolean}"
    assert not any("role" in n for n in result.notes), result.notes


def test_fixed_lifetime_server_with_role_words_and_a_nested_answer() -> None:
    result = _infer(shapes.fixed_lifetime, "GET /token?channel=infer-room&uid=42&role=host",
                    "GET /token?channel=infer-room&uid=42&role=audience")
    doc = result.profile
    assert doc["operations"]["rtc"] == {"method": "GET", "path": "/token", "token": "/data/token",
                                        "query": {"channel": "{channel}", "uid": "{uid}", "role": "{role}"}}
    assert doc["roles"] == {"publisher": "host", "subscriber": "audience"}
    assert doc["expiry"] == {"unit": "seconds", "default": shapes.FIXED_LIFETIME}  # 007: exact, from the token
    assert doc["token_version"] == "007"
    assert doc["operations"]["health"] == {"method": "GET", "path": "/healthz", "status": 204}
    assert any("lifetime: fixed, 600 s" in f for f in result.found)
    _loads(result)


def test_raw_token_server_with_a_lifetime_in_minutes_and_its_limits() -> None:
    result = _infer(shapes.raw_token, "GET /rtc?channel=infer-room&uid=42&role=publisher&ttl=10")
    doc = result.profile
    assert doc["operations"]["rtc"] == {
        "method": "GET", "path": "/rtc", "token": "",
        "query": {"channel": "{channel}", "uid": "{uid}", "role": "{role}", "ttl": "{expiry}"}}
    assert doc["roles"] == {"publisher": "publisher", "subscriber": "subscriber"}  # asked once more: subscriber
    # The default asked for without ttl; the limits by asking with 1 and 1440 minutes, then bisecting.
    assert doc["expiry"] == {"unit": "minutes", "default": 60, "min": 5, "max": 120}
    assert any("lifetime limits: 5..120 min" in f for f in result.found)
    assert "health" not in doc["operations"]
    assert any(n.startswith("no health route answered 2xx") for n in result.notes)
    assert any("the whole body is the token (text/plain)" in f for f in result.found)
    _loads(result)


def test_the_go_shape_of_the_reference_server() -> None:
    result = _infer(shapes.reference, "GET /rtc/infer-room/publisher/uid/42/?expiry=600")
    doc = result.profile
    assert doc["operations"]["rtc"] == {"method": "GET", "path": "/rtc/{channel}/{role}/uid/{uid}/",
                                        "query": {"expiry": "{expiry}"}, "token": "/rtcToken"}
    assert doc["roles"] == {"publisher": "publisher", "subscriber": "subscriber"}
    assert doc["expiry"] == {"unit": "seconds", "default": 3600}
    assert doc["token_version"] == "007" and doc["operations"]["health"]["path"] == "/ping"
    _loads(result)


def test_a_lifetime_field_left_out_of_the_example_is_found_by_asking() -> None:
    # The Go shape reads ?expiry= only when it is sent: an example without it must not make the lifetime "fixed"
    # (EXPIRY-1, INPUT-7/8 would then be not applicable, and a never-expiring ?expiry=abc would go unjudged).
    result = _infer(shapes.reference, "GET /rtc/infer-room/publisher/uid/42/")
    doc = result.profile
    assert doc["operations"]["rtc"]["query"] == {"expiry": "{expiry}"}
    assert doc["expiry"] == {"unit": "seconds", "default": 3600}
    assert any("query parameter 'expiry', in seconds, not in the example" in f for f in result.found)
    _loads(result)


def test_a_uid_zero_the_server_binds_as_asked_is_the_uid_field() -> None:
    # uid 0 packs as the empty string; the one-role server binds it so: the uid field is still found.
    result = _infer(shapes.fixed_lifetime, "GET /token?channel=infer-room&uid=0&role=host")
    assert result.profile["operations"]["rtc"]["query"]["uid"] == "{uid}"


def test_examples_that_differ_without_a_role_say_so() -> None:
    result = _infer(shapes.one_role_query, "GET /api/v1/rtcToken?channelName=infer-room&uid=7&x=1",
                    "GET /api/v1/rtcToken?channelName=infer-room&uid=7&x=2")
    assert result.profile["roles"] == {"publisher": "publisher"}
    assert any("query parameter 'x' differ between the examples, but the tokens grant the same privileges" in n
               for n in result.notes)
    assert any("kept as constants: query parameter 'x'" in n for n in result.notes)


@pytest.mark.parametrize(("text", "why"), [
    ("/token", "is not 'METHOD PATH[?QUERY] [JSON BODY]'"),
    ("FETCH /token", "the method must be one of GET, POST, PUT"),
    ("GET token", "the path must start with '/'"),
    ("POST /t {channel: 1}", "the body is not JSON"),
    ("POST /t [1]", "the body must be a JSON object"),
    ('GET /t {"a": 1}', "a GET request carries no body"),
])
def test_a_bad_example_says_what_the_format_is(text: str, why: str) -> None:
    with pytest.raises(InferError) as err:
        parse_example(text)
    assert why in str(err.value) and "e.g. 'GET /token?channel=c&uid=0'" in str(err.value)


def test_an_example_line_is_read_back_as_written() -> None:
    ex = parse_example('post /a%20b/c?x=1&y=%C3%AB {"k": {"n": 2}}')
    assert ex.method == "POST" and ex.segments == ("", "a b", "c") and ex.query == (("x", "1"), ("y", "ë"))
    assert ex.target == "/a%20b/c?x=1&y=%C3%AB" and ex.body == {"k": {"n": 2}}
    assert parse_example("GET http://host:1/t?a=b").target == "/t?a=b"


@pytest.fixture
def reference_url() -> Iterator[str]:
    with shapes.serving(shapes.reference) as url:
        yield url


def test_an_answer_without_a_token_shows_the_status_and_an_excerpt(reference_url: str) -> None:
    client = TokenServerClient(reference_url)
    with pytest.raises(InferError) as err:
        infer(client, ["GET /nowhere?channel=c"])
    assert str(err.value).startswith("GET /nowhere?channel=c answered no token (404 application/json '{")


def test_examples_of_different_requests_are_refused(reference_url: str) -> None:
    client = TokenServerClient(reference_url)
    with pytest.raises(InferError, match="the examples are different requests"):
        infer(client, ["GET /rtc/c/publisher/uid/1/", "GET /rtc/c/publisher/uid/1/?expiry=60"])


def test_two_values_equal_to_the_channel_are_named() -> None:
    result = _infer(shapes.one_role_query, "GET /api/v1/rtcToken?room=infer-room&channelName=infer-room&uid=7")
    assert result.profile["operations"]["rtc"]["query"] == {"room": "infer-room", "channelName": "{channel}",
                                                            "uid": "{uid}"}
    assert any(n.startswith("several values match the channel (query parameter 'room', query parameter "
                            "'channelName'); query parameter 'channelName' was taken") for n in result.notes)


def test_a_constant_equal_to_the_lifetime_is_not_taken_for_it() -> None:
    # ?v=1 equals the fixed 1 h lifetime in hours; asked with v=2 the token still lives 1 h.
    result = _infer(shapes.one_role_query, "GET /api/v1/rtcToken?channelName=infer-room&uid=7&v=1")
    assert result.profile["operations"]["rtc"]["query"]["v"] == "1"
    assert result.profile["expiry"] == {"unit": "seconds", "default": 3600}
    assert any("query parameter 'v' equals the token's lifetime (3600 s), but asked with 2 the token still lived "
               "3600 s: not the lifetime" in n for n in result.notes)


def test_a_uid_only_the_token_names_is_the_servers_choice_without_a_pointer() -> None:
    result = _infer(shapes.uid_in_token_only, 'POST /token {"channel": "infer-room"}')
    rtc = result.profile["operations"]["rtc"]
    assert rtc == {"method": "POST", "path": "/token", "body": {"channel": "{channel}"}, "token": "/token"}
    assert any("uid: chosen by the server (the request sends none); the answer does not name it: it is only in the "
               "token" in f for f in result.found)
    assert any(n.startswith("the uid is chosen by the server and not named in the answer") for n in result.notes)
    _loads(result)
