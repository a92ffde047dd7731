"""The target: settings that never show the certificate, and fetch helpers that turn an exchange into a decoded
token or the reason there is none, as a client would read it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from conformance.client import Exchange, TokenServerClient
from conformance.profiles import load_profile
from conformance.reference.server import ReferenceServer
from conformance.reference.threaded import ThreadedServer
from conformance.target import RunSettings, Target, extract_token
from conformance.tokens.encode import build_007, rtc_service

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"


def token(channel: str = "c", uid: str = "7") -> str:
    return build_007(APP_ID, CERT, issue_ts=int(time.time()), expire=600, salt=1,
                     services=[rtc_service(channel, uid, {1: 0})])


def exchange(status: int | None, body: bytes, error: str | None = None) -> Exchange:
    return Exchange(method="GET", url="http://127.0.0.1:1/rtc/c/publisher/uid/7/", status=status, body=body,
                    error=error)


def test_settings_repr_hides_the_certificate() -> None:
    s = RunSettings(url="http://127.0.0.1:1", profile=load_profile(), certificate=CERT)
    assert CERT not in repr(s)
    assert CERT not in str(s)
    assert s.certificate == CERT


def test_extract_token_ok() -> None:
    raw = token()
    f = extract_token(exchange(200, b'{"rtcToken": "%s"}' % raw.encode()), "rtcToken")
    assert f.ok and f.problem is None
    assert f.raw == raw
    assert f.token is not None and f.token.app_id == APP_ID and f.token.binds("c", "7")


@pytest.mark.parametrize(
    ("ex", "problem"),
    [
        (exchange(None, b"", error="cannot connect to x: refused"), "cannot connect to x: refused"),
        (exchange(500, b'{"rtcToken": "007abc"}'), "status 500: "),
        (exchange(200, b"<html>ok</html>"), "body is not a JSON object"),
        (exchange(200, b'["007abc"]'), "body is not a JSON object"),
        (exchange(200, b'{"token": "007abc"}'), "no non-empty string under 'rtcToken'"),
        (exchange(200, b'{"rtcToken": ""}'), "no non-empty string under 'rtcToken'"),
        (exchange(200, b'{"rtcToken": 7}'), "no non-empty string under 'rtcToken'"),
        (exchange(200, b'{"rtcToken": "007notatoken"}'), "rtcToken does not decode: "),
    ],
)
def test_extract_token_problems(ex: Exchange, problem: str) -> None:
    f = extract_token(ex, "rtcToken")
    assert not f.ok and f.token is None
    assert f.problem is not None and f.problem.startswith(problem), f.problem
    assert f.exchange is ex and f.key == "rtcToken"


def test_a_token_under_an_error_status_is_not_taken() -> None:
    """Status first, as a careful client does: a token in a 4xx body is no token."""
    f = extract_token(exchange(403, b'{"rtcToken": "%s"}' % token().encode()), "rtcToken")
    assert not f.ok and f.raw is None


def test_paths_follow_the_profile() -> None:
    node = Target(RunSettings(url="http://127.0.0.1:1", profile=load_profile("agora-node-tokenserver")),
                  TokenServerClient("http://127.0.0.1:1"))
    assert node.rtc_path() == "/rtc/conformance/publisher/uid/0/"
    assert node.rtc_path("a b", "subscriber", uid="9", expiry=60) == "/rtc/a%20b/audience/uid/9/?expiry=60"
    assert node.rtc_path(slash=False, expiry="abc") == "/rtc/conformance/publisher/uid/0?expiry=abc"
    assert node.with_expiry("/x", None) == "/x"
    node.client.close()


async def _rtc(request: Request) -> Response:
    p = request.path_params
    if p["uid"] == "500":
        return PlainTextResponse("boom", status_code=500)
    return JSONResponse({"rtcToken": token(p["channel"], p["uid"]), "seen_expiry": request.query_params.get("ttl")})


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/api/rtc/{channel}/{role}/{tokentype}/{uid}", _rtc)])
    with ThreadedServer(app) as srv:
        yield srv.url


def test_fetch_rtc_through_a_custom_profile(fake_url: str, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"roles": {"publisher": "host", "subscriber": "audience"}, "expiry_param": "ttl",
                                "routes": {"rtc": "/api/rtc/{channel}/{role}/{tokentype}/{uid}"}}))
    t = Target(RunSettings(url=fake_url, profile=load_profile(str(path))), TokenServerClient(fake_url, timeout=5))
    try:
        f = t.fetch_rtc("room 1", "subscriber", uid="42", expiry=90)
        assert f.ok, f.problem
        assert f.token is not None and f.token.binds("room 1", "42")
        assert f.exchange.json()["seen_expiry"] == "90"
        assert f.exchange.url == fake_url + "/api/rtc/room%201/audience/uid/42?ttl=90"
        bad = t.fetch_rtc(uid="500")
        assert not bad.ok and bad.problem == "status 500: 500 text/plain; charset=utf-8 'boom'"
    finally:
        t.client.close()


def test_fetch_helpers_against_the_reference_server() -> None:
    with ReferenceServer() as server:
        t = Target(RunSettings(url=server.url, profile=load_profile()), TokenServerClient(server.url, timeout=5))
        try:
            rtc = t.fetch_rtc("conformance", "publisher", uid="4242", expiry=120)
            assert rtc.ok, rtc.problem
            assert rtc.token is not None and rtc.token.binds("conformance", 4242)
            assert rtc.token.app_id == server.settings.app_id
            assert rtc.token.lifetime == 120
            rtm = t.fetch_rtm("alice")
            assert rtm.ok and rtm.key == "rtmToken", rtm.problem
            rte_rtc, rte_rtm = t.fetch_rte("room", "subscriber", "uid", "9")
            assert rte_rtc.ok and rte_rtm.ok
            assert rte_rtc.exchange is rte_rtm.exchange  # one request, two tokens
            post = t.post_get_token({"tokenType": "rtc", "channel": "room", "role": "publisher", "uid": "9",
                                     "expire": 600})
            assert post.ok and post.key == "token", post.problem
            assert post.exchange.method == "POST"
            refused = t.fetch_rtc(uid="abc")
            assert not refused.ok and refused.problem is not None and refused.problem.startswith("status 400")
        finally:
            t.client.close()


# --- any shape: nested token pointers, the uid the server chose, POST bodies ----------------------------------


def test_extract_token_at_a_nested_pointer_with_the_answered_uid() -> None:
    body = json.dumps({"data": {"token": token(uid="1234"), "uid": 1234}}).encode()
    f = extract_token(exchange(200, body), "/data/token", uid_pointer="/data/uid")
    assert f.ok and f.key == "/data/token" and f.answered_uid == "1234"
    missing = extract_token(exchange(200, json.dumps({"token": token()}).encode()), "/data/token")
    assert not missing.ok and "no non-empty string under '/data/token'" in str(missing.problem)
    assert not extract_token(exchange(200, body), "/data/token", status=201).ok  # the profile's success status


async def _json_shape(request: Request) -> Response:
    body = await request.json()
    if not isinstance(body.get("uid"), int):
        return JSONResponse({"error": "uid must be a number"}, status_code=400)
    return JSONResponse({"data": {"token": token(body["channelName"], ""), "uid": 99}}, status_code=201)


def test_fetch_rtc_through_a_json_body_profile(tmp_path: Path) -> None:
    profile = {"operations": {"rtc": {"method": "POST", "path": "/api/token", "status": 201, "token": "/data/token",
                                      "uid": "/data/uid",
                                      "body": {"channelName": "{channel}", "uid": "{uid:number}", "role": "{role}"}}}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile), encoding="utf-8")
    with ThreadedServer(Starlette(routes=[Route("/api/token", _json_shape, methods=["POST"])])) as srv:
        t = Target(RunSettings(url=srv.url, profile=load_profile(str(path))), TokenServerClient(srv.url, timeout=5))
        f = t.fetch_rtc(channel="room", uid="0")
        assert f.ok, f.problem
        assert f.answered_uid == "99" and f.token is not None and f.token.rtc is not None
        assert json.loads(f.exchange.request_body or b"") == {"channelName": "room", "uid": 0, "role": "publisher"}
        assert not t.fetch_rtc(uid="abc").ok  # "abc" reaches the number field as text, and is refused
        t.client.close()


def test_a_raw_token_answer_is_the_whole_body_stripped() -> None:
    raw = token()
    f = extract_token(exchange(200, raw.encode() + b"\n"), "")
    assert f.ok and f.raw == raw and f.key == "the whole body"
    empty = extract_token(exchange(200, b"  \n"), "")
    assert not empty.ok and "an empty body" in str(empty.problem)
    html = extract_token(exchange(200, b"<html>no token</html>"), "")
    assert not html.ok and "does not decode" in str(html.problem)
    refused = extract_token(exchange(400, b'{"error": "bad"}'), "")
    assert not refused.ok and str(refused.problem).startswith("status 400")
