"""Section ROUTE: the routes and the JSON a client parses."""

from __future__ import annotations

from ..cases import case
from ..target import Fetched, Target
from ..verdict import Findings

JSON_TYPES = ("application/json",)


def _expect_token(f: Findings, fetched: Fetched, what: str) -> None:
    f.check(fetched.raw is not None, what, f"200 and a JSON object with a non-empty string under {fetched.key!r}",
            fetched.problem or "", fetched.exchange)


@case("ROUTE-1")
def test_rtc_route_answers_a_token(token_target: Target) -> None:
    f = Findings()
    for role in ("publisher", "subscriber"):
        fetched = token_target.fetch_rtc(channel="conformance-route", role=role, uid="4242")
        _expect_token(f, fetched, f"RTC token for role {token_target.profile.roles[role]!r}")
    f.conclude()


@case("ROUTE-2")
def test_json_content_type(token_target: Target) -> None:
    f = Findings()
    exchanges = [token_target.fetch_rtc().exchange]
    if token_target.profile.has("rtm"):
        exchanges.append(token_target.fetch_rtm().exchange)
    for ex in exchanges:
        if ex.status != 200:
            continue  # ROUTE-1 / ROUTE-6 judge the status
        ctype = ex.content_type.split(";")[0].strip().lower()
        f.check(ctype in JSON_TYPES, f"Content-Type of {ex.url}", "application/json (charset optional)",
                ex.content_type or "no Content-Type header", ex)
    f.conclude()


@case("ROUTE-3")
def test_success_bodies_match_schemas(token_target: Target) -> None:
    from ..schemas import validate

    t = token_target
    f = Findings()
    checks = [("rtc-token", t.client.get(t.rtc_path(channel="conformance-schema")))]
    checks.append(("rtc-token", t.client.get(t.rtc_path(channel="conformance-schema", tokentype="userAccount", uid="alice"))))
    if t.profile.has("rtm"):
        checks.append(("rtm-token", t.client.get(t.profile.rtm_path("conformance-user"))))
    if t.profile.has("rte"):
        checks.append(("rte-token", t.client.get(t.profile.rte_path("conformance-schema", "publisher", "uid", "77"))))
    if t.profile.has("post_get_token"):
        body = {"tokenType": "rtc", "channel": "conformance-schema", "role": "publisher", "uid": "77", "expire": 600}
        checks.append(("get-token", t.client.request("POST", t.profile.routes["post_get_token"], json_body=body)))
    for schema, ex in checks:
        if ex.status != 200:
            continue  # the route's own case judges a missing answer
        body = ex.json_or_none()
        errors = validate(schema, body) if body is not None else ["body is not JSON"]
        f.check(not errors, f"body of {ex.method} {ex.url}", f"valid against schemas/{schema}.json",
                "; ".join(errors)[:300] + f" in {ex.summary()}", ex)
    f.conclude()


@case("ROUTE-4")
def test_trailing_slash_optional(token_target: Target) -> None:
    t = token_target
    f = Findings()
    fetched = t.fetch_rtc(channel="conformance-slash", slash=False)
    _expect_token(f, fetched, "RTC route without the trailing slash (redirects on the same host followed)")
    f.conclude()


@case("ROUTE-5")
def test_ping(token_target: Target) -> None:
    ex = token_target.client.get(token_target.profile.routes["ping"])
    f = Findings()
    body = ex.json_or_none()
    f.check(ex.status == 200 and body == {"message": "pong"}, "GET /ping", '200 {"message": "pong"}', ex.summary(), ex)
    f.conclude()


@case("ROUTE-6")
def test_rtm_route(token_target: Target) -> None:
    f = Findings()
    _expect_token(f, token_target.fetch_rtm("conformance-user"), "RTM token")
    f.conclude()


@case("ROUTE-7")
def test_rte_route(token_target: Target) -> None:
    f = Findings()
    rtc, rtm = token_target.fetch_rte("conformance-rte", "publisher", "uid", "77")
    _expect_token(f, rtc, "rtcToken of the RTE route")
    _expect_token(f, rtm, "rtmToken of the RTE route")
    f.conclude()


@case("ROUTE-8")
def test_post_get_token(token_target: Target) -> None:
    f = Findings()
    body = {"tokenType": "rtc", "channel": "conformance-post", "role": "publisher", "uid": "77", "expire": 600}
    fetched = token_target.post_get_token(body)
    _expect_token(f, fetched, "POST /getToken for an RTC token")
    f.conclude()


@case("ROUTE-9")
def test_user_account_route(token_target: Target) -> None:
    f = Findings()
    fetched = token_target.fetch_rtc(channel="conformance-account", tokentype="userAccount", uid="alice")
    _expect_token(f, fetched, "RTC token for user account 'alice'")
    f.conclude()

