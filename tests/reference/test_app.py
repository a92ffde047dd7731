"""The reference server over real HTTP: every route, every rejection rule, and the tokens it issues.

Tokens are decoded and verified with the project's own codec (``conformance.tokens``),
which is independent of agoraiotools, the library the server builds them with.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from conformance.reference.app import Settings, create_app
from conformance.reference.issuer import TokenIssuer
from conformance.reference.threaded import ThreadedServer
from conformance.tokens import PUBLISHER_PRIVILEGES, SUBSCRIBER_PRIVILEGES, Token, decode, verify

SETTINGS = Settings(app_id=secrets.token_hex(16), certificate=secrets.token_hex(16))
CERT = SETTINGS.certificate


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with ThreadedServer(create_app(SETTINGS)) as server, httpx.Client(base_url=server.url) as c:
        yield c


def assert_common_headers(response: httpx.Response) -> None:
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["expires"] == "0"
    assert response.headers["access-control-allow-origin"] == "*"


def token_from(response: httpx.Response, key: str) -> Token:
    """The verified, decoded token under ``key`` of a 200 JSON response."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert_common_headers(response)
    token = response.json()[key]
    assert token.startswith("007")
    assert verify(token, CERT)
    assert not verify(token, secrets.token_hex(16))
    decoded = decode(token)
    assert decoded.app_id == SETTINGS.app_id
    return decoded


def assert_lifetime(token: Token, expiry: int, before: int, after: int) -> None:
    """Token and every privilege last exactly ``expiry`` seconds from an issue time of now."""
    assert token.lifetime == expiry
    assert before <= (token.issue_ts or 0) <= after
    for service in token.services:
        assert service.privileges
        assert {p.value for p in service.privileges} == {expiry}


def assert_error(response: httpx.Response, status: int, *needles: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert_common_headers(response)
    body = response.json()
    assert set(body) == {"error", "status"}
    assert body["status"] == status
    for needle in needles:
        assert needle in body["error"]
    assert CERT not in response.text.lower()
    assert "traceback" not in response.text.lower()
    return body


# --- GET /rtc ------------------------------------------------------------------

RTC_CASES = [
    # path uid segment, tokentype, role, packed uid, privileges
    ("0", "uid", "publisher", "", PUBLISHER_PRIVILEGES),
    ("12345", "uid", "subscriber", "12345", SUBSCRIBER_PRIVILEGES),
    ("4294967295", "uid", "publisher", "4294967295", PUBLISHER_PRIVILEGES),
    ("007", "uid", "publisher", "7", PUBLISHER_PRIVILEGES),
    ("alice", "userAccount", "publisher", "alice", PUBLISHER_PRIVILEGES),
    ("0", "userAccount", "subscriber", "0", SUBSCRIBER_PRIVILEGES),
    ("élève-李", "userAccount", "subscriber", "élève-李", SUBSCRIBER_PRIVILEGES),
]


@pytest.mark.parametrize(("uid", "tokentype", "role", "packed", "privileges"), RTC_CASES)
def test_rtc_token_fields(
    client: httpx.Client, uid: str, tokentype: str, role: str, packed: str, privileges: frozenset[str]
) -> None:
    before = int(time.time())
    response = client.get(f"/rtc/my-channel/{role}/{tokentype}/{quote(uid, safe='')}/", params={"expiry": 600})
    token = token_from(response, "rtcToken")
    assert list(response.json()) == ["rtcToken"]
    assert [s.name for s in token.services] == ["RTC"]
    assert token.rtc is not None
    assert token.rtc.channel == "my-channel"
    assert token.rtc.uid == packed
    assert token.rtc.privilege_names == privileges
    assert_lifetime(token, 600, before, int(time.time()))


def test_rtc_default_expiry_is_3600(client: httpx.Client) -> None:
    before = int(time.time())
    token = token_from(client.get("/rtc/c/publisher/uid/1/"), "rtcToken")
    assert_lifetime(token, 3600, before, int(time.time()))


@pytest.mark.parametrize("expiry", [1, 86400])
def test_rtc_expiry_bounds_accepted(client: httpx.Client, expiry: int) -> None:
    token = token_from(client.get(f"/rtc/c/publisher/uid/1/?expiry={expiry}"), "rtcToken")
    assert token.lifetime == expiry


@pytest.mark.parametrize("channel", ["x" * 64, "a !#$%&()+-:;<=.>?@[]^_{}|~,Z9"])
def test_rtc_channel_edge_cases_accepted(client: httpx.Client, channel: str) -> None:
    token = token_from(client.get(f"/rtc/{quote(channel, safe='')}/publisher/uid/0/"), "rtcToken")
    assert token.rtc is not None and token.rtc.channel == channel


def test_trailing_slash_is_optional_and_never_redirects(client: httpx.Client) -> None:
    for path in ("/rtc/c/publisher/uid/5", "/rtc/c/publisher/uid/5/", "/rtm/bob", "/rtm/bob/", "/ping", "/ping/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "location" not in response.headers


def test_every_call_gets_a_fresh_salt(client: httpx.Client) -> None:
    tokens = [token_from(client.get("/rtc/c/publisher/uid/5/"), "rtcToken") for _ in range(3)]
    assert len({t.salt for t in tokens}) == 3
    assert all(1 <= t.salt <= 99_999_999 for t in tokens)


RTC_REJECTIONS = [
    ("/rtc/c/admin/uid/0/", "role"),
    ("/rtc/c/Publisher/uid/0/", "role"),
    ("/rtc/c/audience/uid/0/", "role"),
    ("/rtc/c//uid/0/", "role"),
    ("/rtc/c/publisher/UID/0/", "tokentype"),
    ("/rtc/c/publisher/nonsense/0/", "tokentype"),
    ("/rtc/c/publisher/uid/abc/", "uid"),
    ("/rtc/c/publisher/uid/-1/", "uid"),
    ("/rtc/c/publisher/uid/1.5/", "uid"),
    ("/rtc/c/publisher/uid/4294967296/", "uid"),
    ("/rtc/c/publisher/uid/12345678901/", "uid"),
    ("/rtc/c/publisher/uid/%20/", "uid"),
    ("/rtc/c/publisher/uid/%EF%BC%91/", "uid"),
    ("/rtc/c/publisher/uid//", "uid"),
    ("/rtc/c/publisher/uid", "not found"),
    ("/rtc/c/publisher/userAccount//", "uid"),
    ("/rtc/c/publisher/userAccount/" + "a" * 256 + "/", "uid"),
    ("/rtc/c/publisher/userAccount/a%00b/", "uid"),
    ("/rtc/c/publisher/userAccount/%FF/", "uid"),
    ("/rtc//publisher/uid/0/", "channel"),
    ("/rtc/" + "c" * 65 + "/publisher/uid/0/", "channel"),
    ("/rtc/caf%C3%A9/publisher/uid/0/", "channel"),
    ("/rtc/a%22b/publisher/uid/0/", "channel"),
    ("/rtc/a%27b/publisher/uid/0/", "channel"),
    ("/rtc/a*b/publisher/uid/0/", "channel"),
    ("/rtc/a%5Cb/publisher/uid/0/", "channel"),
    ("/rtc/a%09b/publisher/uid/0/", "channel"),
]


@pytest.mark.parametrize(("path", "name"), RTC_REJECTIONS)
def test_rtc_rejections(client: httpx.Client, path: str, name: str) -> None:
    status = 404 if name == "not found" else 400
    assert_error(client.get(path), status, name)


EXPIRY_REJECTIONS = [
    "abc", "1.5", "1e3", "-5", "0", "86401", "12abc", "", "%205", "%2B5", "4294967297", "9" * 25, "5&expiry=6",
]  # fmt: skip


@pytest.mark.parametrize("expiry", EXPIRY_REJECTIONS)
@pytest.mark.parametrize("route", ["/rtc/c/publisher/uid/0/", "/rtm/bob/", "/rte/c/publisher/uid/1/"])
def test_expiry_rejections(client: httpx.Client, route: str, expiry: str) -> None:
    assert_error(client.get(f"{route}?expiry={expiry}"), 400, "expiry", "1 to 86400")


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    token = token_from(client.get("/rtc/c/publisher/uid/0/?expiry=60&cachebuster=123"), "rtcToken")
    assert token.lifetime == 60


def test_first_rejection_names_the_first_bad_path_parameter(client: httpx.Client) -> None:
    body = assert_error(client.get("/rtc//admin/nonsense/x/?expiry=0"), 400)
    assert str(body["error"]).startswith("channel")


# --- GET /rtm ------------------------------------------------------------------


@pytest.mark.parametrize("user", ["alice", "1", "00", "a" * 64, "ünï"])
def test_rtm_token_fields(client: httpx.Client, user: str) -> None:
    before = int(time.time())
    response = client.get(f"/rtm/{quote(user, safe='')}/", params={"expiry": 900})
    token = token_from(response, "rtmToken")
    assert list(response.json()) == ["rtmToken"]
    assert [s.name for s in token.services] == ["RTM"]
    service = token.services[0]
    assert service.user_id == user
    assert service.privilege_names == frozenset({"login"})
    assert_lifetime(token, 900, before, int(time.time()))


@pytest.mark.parametrize("path", ["/rtm/0/", "/rtm//", "/rtm/", "/rtm/" + "a" * 65 + "/", "/rtm/a%0Ab/", "/rtm/%FF/"])
def test_rtm_rejections(client: httpx.Client, path: str) -> None:
    assert_error(client.get(path), 400, "uid", "RTM user id")


# --- GET /rte ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rtc_uid", "rtm_user"),
    [
        ("/rte/c/publisher/uid/2345/", "2345", "2345"),
        ("/rte/c/publisher/uid/2345", "2345", "2345"),
        ("/rte/c/subscriber/uid/0/rtmid/", "", "rtmid"),
        ("/rte/c/subscriber/uid/0/rtmid", "", "rtmid"),
        ("/rte/c/publisher/uid/77/other/", "77", "other"),
        ("/rte/c/publisher/userAccount/alice/", "alice", "alice"),
        ("/rte/c/publisher/userAccount/alice/bob/", "alice", "bob"),
    ],
)
def test_rte_returns_both_tokens(client: httpx.Client, path: str, rtc_uid: str, rtm_user: str) -> None:
    before = int(time.time())
    response = client.get(path, params={"expiry": 120})
    assert set(response.json()) == {"rtcToken", "rtmToken"}
    rtc = token_from(response, "rtcToken")
    rtm = token_from(response, "rtmToken")
    after = int(time.time())
    assert rtc.rtc is not None and rtc.rtc.channel == "c" and rtc.rtc.uid == rtc_uid
    role = path.split("/")[3]
    assert rtc.rtc.privilege_names == (PUBLISHER_PRIVILEGES if role == "publisher" else SUBSCRIBER_PRIVILEGES)
    assert [s.name for s in rtm.services] == ["RTM"]
    assert rtm.services[0].user_id == rtm_user
    assert_lifetime(rtc, 120, before, after)
    assert_lifetime(rtm, 120, before, after)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/rte/c/publisher/uid/0/", "rtmuid"),
        ("/rte/c/publisher/uid/00/", "rtmuid"),
        ("/rte/c/publisher/userAccount/0/", "rtmuid"),
        ("/rte/c/publisher/uid/0/0/", "rtmuid"),
        ("/rte/c/publisher/uid/0//", "rtmuid"),
        ("/rte/c/publisher/uid/1/" + "r" * 65 + "/", "rtmuid"),
        ("/rte/c/publisher/userAccount/" + "a" * 65 + "/", "rtcuid"),
        ("/rte/c/publisher/uid/abc/", "rtcuid"),
        ("/rte/c/publisher/uid/4294967296/x/", "rtcuid"),
        ("/rte/c/writer/uid/1/", "role"),
        ("/rte/c/publisher/account/1/", "tokentype"),
        ("/rte//publisher/uid/1/", "channel"),
    ],
)
def test_rte_rejections(client: httpx.Client, path: str, name: str) -> None:
    assert_error(client.get(path), 400, name)


# --- POST /getToken ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "service", "expected"),
    [
        ({"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": "0", "expire": 60}, "RTC", ("c", "", 60)),
        ({"tokenType": "rtc", "channel": "c", "role": "subscriber", "uid": "42"}, "RTC", ("c", "42", 3600)),
        ({"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": "alice"}, "RTC", ("c", "alice", 3600)),
        ({"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": "李"}, "RTC", ("c", "李", 3600)),
        ({"tokenType": "rtm", "uid": "bob", "expire": 86400}, "RTM", (None, "bob", 86400)),
        ({"tokenType": "rtm", "uid": "7"}, "RTM", (None, "7", 3600)),
    ],
)
def test_post_get_token(client: httpx.Client, body: dict[str, object], service: str, expected: tuple) -> None:
    before = int(time.time())
    response = client.post("/getToken", json=body)
    token = token_from(response, "token")
    assert list(response.json()) == ["token"]
    assert [s.name for s in token.services] == [service]
    channel, uid, expiry = expected
    if service == "RTC":
        assert token.rtc is not None and (token.rtc.channel, token.rtc.uid) == (channel, uid)
        wanted = PUBLISHER_PRIVILEGES if body["role"] == "publisher" else SUBSCRIBER_PRIVILEGES
        assert token.rtc.privilege_names == wanted
    else:
        assert token.services[0].user_id == uid
    assert_lifetime(token, expiry, before, int(time.time()))


RTC_BODY = {"tokenType": "rtc", "channel": "c", "role": "publisher", "uid": "1"}

POST_REJECTIONS = [
    (b"", "empty"),
    (b"   ", "empty"),
    (b"not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b'"rtc"', "not an object"),
    (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ({}, "tokenType"),
    ({"tokenType": "chat"}, "tokenType"),
    ({"tokenType": "RTC"}, "tokenType"),
    ({"tokenType": None}, "tokenType"),
    ({"tokenType": ["rtc"], "uid": "a"}, "tokenType"),  # unhashable: once a 500
    ({"tokenType": {"rtc": 1}}, "tokenType"),
    ({**RTC_BODY, "channel": None}, "channel"),
    ({k: v for k, v in RTC_BODY.items() if k != "channel"}, "channel"),
    ({**RTC_BODY, "channel": ""}, "channel"),
    ({**RTC_BODY, "channel": "a/b"}, "channel"),
    ({k: v for k, v in RTC_BODY.items() if k != "role"}, "role"),
    ({**RTC_BODY, "role": "audience"}, "role"),
    ({k: v for k, v in RTC_BODY.items() if k != "uid"}, "uid"),
    ({**RTC_BODY, "uid": 123}, "uid"),
    ({**RTC_BODY, "uid": ""}, "uid"),
    ({**RTC_BODY, "uid": "4294967296"}, "uid"),
    ({**RTC_BODY, "uid": "a" * 256}, "uid"),
    ({**RTC_BODY, "expire": 0}, "expire"),
    ({**RTC_BODY, "expire": -1}, "expire"),
    ({**RTC_BODY, "expire": 86401}, "expire"),
    ({**RTC_BODY, "expire": "600"}, "expire"),
    ({**RTC_BODY, "expire": 60.5}, "expire"),
    ({**RTC_BODY, "expire": True}, "expire"),
    ({**RTC_BODY, "expire": None}, "expire"),
    ({**RTC_BODY, "extra": 1}, "extra"),
    ({"tokenType": "rtm", "uid": "0"}, "uid"),
    ({"tokenType": "rtm"}, "uid"),
    ({"tokenType": "rtm", "uid": "bob", "channel": "c"}, "channel"),
    (b'{"tokenType": "rtm", "uid": "a\\udc80"}', "surrogate"),
]


@pytest.mark.parametrize(("body", "needle"), POST_REJECTIONS)
def test_post_rejections(client: httpx.Client, body: bytes | dict[str, object], needle: str) -> None:
    if isinstance(body, bytes):
        response = client.post("/getToken", content=body, headers={"content-type": "application/json"})
    else:
        response = client.post("/getToken", json=body)
    assert_error(response, 400, needle)


def test_post_body_size_is_capped(client: httpx.Client) -> None:
    body = b'{"tokenType": "rtm", "uid": "bob", "pad": "' + b"x" * 20_000 + b'"}'
    assert_error(client.post("/getToken", content=body), 413, "16384 bytes")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap must hold while streaming
        for _ in range(40):
            yield b" " * 1024

    assert_error(client.post("/getToken", content=chunks()), 413, "16384 bytes")


# --- /ping, unknown routes, methods, CORS -------------------------------------


def test_ping(client: httpx.Client) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"message": "pong"}
    assert_common_headers(response)
    assert client.head("/ping").status_code == 200


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/token/rtc/c/0/", "/chat/app/", "/rtc/c/publisher/uid/0/x/y/", "/rtm/a/b/", "/rtc/a%2Fb/publisher/uid/0/"]
)
def test_unknown_routes_are_json_404(client: httpx.Client, path: str) -> None:
    body = assert_error(client.get(path), 404)
    assert body == {"error": "not found", "status": 404}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/rtc/c/publisher/uid/0/", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/rtm/bob/", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/rte/c/publisher/uid/1/", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/getToken", {"POST", "OPTIONS"}),
        ("POST", "/ping", {"GET", "HEAD"}),
    ],
)
def test_wrong_method_is_json_405_with_allow(client: httpx.Client, method: str, path: str, allowed: set[str]) -> None:
    response = client.request(method, path)
    assert_error(response, 405, method)
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


@pytest.mark.parametrize("path", ["/rtc/c/publisher/uid/0/", "/rtm/bob", "/rte/c/publisher/uid/1/x/", "/getToken"])
def test_cors_preflight_on_token_routes(client: httpx.Client, path: str) -> None:
    response = client.options(
        path,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST" if path == "/getToken" else "GET",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    assert_common_headers(response)
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "Content-Type"


def test_any_origin_gets_a_token(client: httpx.Client) -> None:
    """Unlike the current Go server (403 for an unlisted Origin), the reference answers every origin."""
    response = client.get("/rtc/c/publisher/uid/0/", headers={"Origin": "https://elsewhere.example"})
    token_from(response, "rtcToken")


# --- faults: the issuer hook and the catch-all 500 ------------------------------


class _WrongChannel(TokenIssuer):
    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        return super().rtc(channel + "-x", role, tokentype, uid, expiry)


class _Exploding(TokenIssuer):
    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        raise RuntimeError(f"boom with {CERT}")

    def rtm(self, user_id: str, expiry: int) -> str:
        raise KeyError(CERT.upper())


def test_a_subclassed_issuer_is_the_only_token_path() -> None:
    issuer = _WrongChannel(SETTINGS.app_id, CERT)
    with ThreadedServer(create_app(SETTINGS, issuer)) as server, httpx.Client(base_url=server.url) as c:
        for response, key in (
            (c.get("/rtc/c/publisher/uid/0/"), "rtcToken"),
            (c.get("/rte/c/publisher/uid/5/"), "rtcToken"),
            (c.post("/getToken", json=RTC_BODY), "token"),
        ):
            token = token_from(response, key)
            assert token.rtc is not None and token.rtc.channel == "c-x"


def test_unexpected_errors_are_a_generic_500_logged_without_the_certificate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = _Exploding(SETTINGS.app_id, CERT)
    caplog.set_level(logging.ERROR, logger="conformance.reference")
    with ThreadedServer(create_app(SETTINGS, issuer)) as server, httpx.Client(base_url=server.url) as c:
        responses = [
            c.get("/rtc/c/publisher/uid/0/"),
            c.get("/rtm/bob/"),
            c.get("/rte/c/publisher/uid/5/"),
            c.post("/getToken", json={"tokenType": "rtm", "uid": "bob"}),
        ]
    for response in responses:
        body = assert_error(response, 500)
        assert body == {"error": "internal error", "status": 500}
    logged = [r.getMessage() for r in caplog.records if r.name == "conformance.reference"]
    assert len(logged) == 4
    assert any("RuntimeError" in m and "/rtc/c/publisher/uid/0/" in m for m in logged)
    assert all("<certificate>" in m for m in logged)
    assert not any(CERT in m.lower() for m in logged)


def test_reprs_hold_no_certificate() -> None:
    assert CERT not in repr(SETTINGS)
    assert CERT not in repr(TokenIssuer(SETTINGS.app_id, CERT))
