"""conformance.cors: the Fetch standard's CORS check for the web app's token request (HEADER-5), step by step."""

from __future__ import annotations

import httpx
import pytest

from conformance.cors import (
    OriginError,
    check_answer,
    check_preflight,
    needs_preflight,
    parse_origin,
    parse_origins,
    unsafe_header_names,
)

APP = "https://app.example.com"
OK = {"access-control-allow-origin": APP, "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "Authorization, Content-Type"}


@pytest.mark.parametrize(("text", "origin"), [
    ("https://app.example.com", APP),
    ("https://App.Example.COM/", APP),
    ("https://app.example.com:443", APP),
    ("http://localhost:5173", "http://localhost:5173"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_origins_are_serialized_as_browsers_send_them(text: str, origin: str) -> None:
    assert parse_origin(text) == origin


@pytest.mark.parametrize(("text", "says"), [
    ("https://app.example.com/login", "leave out the path"),
    ("https://app.example.com?x=1", "leave out the path, query"),
    ("app.example.com", "needs http:// or https://"),
    ("ftp://app.example.com", "needs http:// or https://"),
    ("https://user@app.example.com", "no user name"),
    ("https://app.example.com:99999", "is not an origin"),
])
def test_a_url_that_is_not_an_origin_is_refused_in_one_line(text: str, says: str) -> None:
    with pytest.raises(OriginError) as exc:
        parse_origin(text)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_duplicate_origins_count_once() -> None:
    assert parse_origins([APP, "https://APP.example.com/", "http://localhost:3000"]) == (APP, "http://localhost:3000")


def test_which_requests_are_preflighted() -> None:
    assert not needs_preflight("GET", {})
    assert not needs_preflight("POST", {"Content-Type": "application/x-www-form-urlencoded"})
    assert needs_preflight("POST", {"Content-Type": "application/json"})
    assert needs_preflight("GET", {"Authorization": "Bearer x"})
    assert needs_preflight("PUT", {})
    assert unsafe_header_names({"X-Api-Key": "k", "Authorization": "b", "Content-Type": "application/json",
                                "Accept": "application/json"}) == ["authorization", "content-type", "x-api-key"]


def _pre(status: int = 204, headers: dict[str, str] | None = None, *, unsafe: tuple[str, ...] = ("authorization",),
         method: str = "GET", credentials: bool = True) -> str | None:
    refusal = check_preflight(APP, method, list(unsafe), status, httpx.Headers(OK if headers is None else headers),
                              credentials=credentials)
    return None if refusal is None else refusal.problem


def test_a_right_preflight_passes() -> None:
    assert _pre() is None
    assert _pre(200, {**OK, "access-control-allow-origin": "*"}) is None  # no cookies: '*' is an acceptable origin
    assert _pre(headers={**OK, "access-control-allow-headers": "authorization"}) is None  # names: any case
    assert _pre(headers={**OK, "access-control-allow-methods": "*"}, method="PUT") is None
    assert _pre(headers={k: v for k, v in OK.items() if k != "access-control-allow-methods"}) is None  # GET: safelisted


def test_each_broken_step_is_named_in_a_web_developers_words() -> None:
    assert _pre(401) == ("the preflight was refused with 401: browsers never send Authorization on a preflight; "
                         "exempt OPTIONS from authentication")
    assert "does not answer OPTIONS" in str(_pre(405))
    assert "redirected (301)" in str(_pre(301))
    assert "does not allow https://app.example.com" in str(_pre(403, credentials=False))
    assert "has no Access-Control-Allow-Origin" in str(_pre(headers={**OK, "access-control-allow-origin": ""}))
    no_acao = {k: v for k, v in OK.items() if k != "access-control-allow-origin"}
    assert str(_pre(headers=no_acao)).startswith("the preflight's answer has no Access-Control-Allow-Origin")
    other = _pre(headers={**OK, "access-control-allow-origin": "https://www.app.example.com"})
    assert other is not None and "allows the origin https://www.app.example.com, not https://app.example.com" in other
    several = _pre(headers={**OK, "access-control-allow-origin": f"{APP}, https://staging.example.com"})
    assert several is not None and "exactly one origin" in several
    missing = _pre(headers={**OK, "access-control-allow-headers": "Content-Type"})
    assert missing == ("the preflight does not allow the header Authorization (Access-Control-Allow-Headers: "
                       "Content-Type); add Authorization to Access-Control-Allow-Headers")
    method = _pre(headers=OK, method="PUT")
    assert method is not None and "does not allow the method PUT" in method


def test_the_wildcard_never_covers_authorization_but_covers_other_headers() -> None:
    star = {**OK, "access-control-allow-headers": "*"}
    refusal = check_preflight(APP, "GET", ["authorization"], 204, httpx.Headers(star), credentials=True)
    assert refusal is not None and refusal.wildcard and "never lets cover Authorization" in refusal.problem
    assert check_preflight(APP, "GET", ["x-api-key"], 204, httpx.Headers(star), credentials=True) is None


def test_the_answer_must_allow_the_origin() -> None:
    assert check_answer(APP, httpx.Headers({"access-control-allow-origin": "*"})) is None
    assert check_answer(APP, httpx.Headers({"access-control-allow-origin": APP})) is None
    missing = check_answer(APP, httpx.Headers({}))
    assert missing is not None and missing.step == "answer"
    assert "not only on the preflight" in missing.problem
    simple = check_answer(APP, httpx.Headers({}), preflighted=False)
    assert simple is not None and "preflight" not in simple.problem
