"""Configured headers: parsing, sources, placeholders in curl lines, redaction of their values."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.client import Exchange, TokenServerClient, retry_after
from conformance.headers import HeaderError, env_name, parse_line, resolve, secret_parts
from conformance.redact import Redactor


def test_parse_and_sources(tmp_path: Path) -> None:
    assert parse_line("Authorization: Bearer abc:def") == ("Authorization", "Bearer abc:def")
    assert parse_line("X-Api-Key", environ={"TOKEN_HEADER_X_API_KEY": "k3y!"}) == ("X-Api-Key", "k3y!")
    f = tmp_path / "h.txt"
    f.write_text("# comment\nX-Api-Key: from-file\n\nX-Other: o\n", encoding="utf-8")
    env = {"TOKEN_SERVER_HEADERS": "x-api-key: from-env\nX-Env: e"}
    assert resolve(["X-API-KEY: from-argv"], str(f), environ=env) == {
        "X-Env": "e", "X-Other": "o", "X-API-KEY": "from-argv"}
    assert env_name("X-Api-Key") == "TOKEN_HEADER_X_API_KEY"


@pytest.mark.parametrize("spec", ["no colon but spaces", ": s3cretvalue", "Bad Name: s3cretvalue", "X-Key:", "X-Key", "X: a\nb"])
def test_bad_specs_are_refused_without_quoting_the_value(spec: str) -> None:
    with pytest.raises(HeaderError) as err:
        parse_line(spec, environ={})
    assert "\n" not in str(err.value)
    if ":" in spec and spec.split(":", 1)[1].strip():
        assert spec.split(":", 1)[1].strip() not in str(err.value)


def test_curl_shows_the_variable_to_set_never_the_value() -> None:
    ex = Exchange("GET", "http://127.0.0.1:1/rtc/a/", secret_headers={"Authorization": "$TOKEN_HEADER_AUTHORIZATION"})
    assert ex.curl().endswith('-H "Authorization: $TOKEN_HEADER_AUTHORIZATION" http://127.0.0.1:1/rtc/a/')


def test_client_sends_the_headers_and_can_leave_them_out() -> None:
    from conformance.reference.threaded import ThreadedServer

    seen: list[str | None] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(dict(scope["headers"]).get(b"authorization", b"").decode() or None)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with ThreadedServer(app) as server:
        client = TokenServerClient(server.url, headers={"Authorization": "Bearer s3cr3t-value"})
        ex = client.get("/x")
        assert "s3cr3t" not in ex.curl() and "$TOKEN_HEADER_AUTHORIZATION" in ex.curl()
        client.get("/x", credentials=False)
        client.get("/x", headers={"authorization": "Bearer wrong"})
        client.close()
    assert seen == ["Bearer s3cr3t-value", None, "Bearer wrong"]


def test_redactor_hides_the_value_and_the_credential_after_its_scheme() -> None:
    r = Redactor()
    r.add_header_value("Bearer abcdef123")
    assert r.redact("got Bearer abcdef123 and ABCDEF123") == "got [REDACTED] and [REDACTED]"
    assert secret_parts("plainkey") == ["plainkey"]


def test_retry_after_forms() -> None:
    assert retry_after("3") == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_rate_limit_waits_then_budget_runs_out() -> None:
    from conformance.reference.threaded import ThreadedServer

    calls = {"n": 0}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        limited = calls["n"] % 2 == 1
        headers = [(b"retry-after", b"1")] if limited else []
        await send({"type": "http.response.start", "status": 429 if limited else 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    with ThreadedServer(app) as server:
        client = TokenServerClient(server.url, wait_budget=1.5)
        ex = client.get("/x")
        assert ex.status == 200 and ex.limited == 1 and client.stats.waited_s == 1.0
        ex = client.get("/x")  # another 1 s wait would exceed 1.5 s
        assert ex.error and "wait budget" in ex.error and client.exhausted
        client.close()


def test_pacing_spaces_requests() -> None:
    from conformance.reference.threaded import ThreadedServer

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with ThreadedServer(app) as server:
        client = TokenServerClient(server.url, max_rps=10)
        import time

        start = time.monotonic()
        for _ in range(6):
            client.get("/x")
        assert time.monotonic() - start >= 0.45
        assert client.stats.percentiles()["p50_ms"] >= 0
        client.close()


def test_a_503_is_a_rate_limit_only_with_retry_after() -> None:
    from conformance.reference.threaded import ThreadedServer

    calls = {"n": 0}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        path = scope["path"]
        if path == "/plain":
            await send({"type": "http.response.start", "status": 503, "headers": []})
        elif calls["n"] == 2:  # the first /busy: 503 with Retry-After 0, then 200
            await send({"type": "http.response.start", "status": 503, "headers": [(b"retry-after", b"0")]})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with ThreadedServer(app) as server:
        client = TokenServerClient(server.url)
        assert client.get("/plain").status == 503  # the server's answer, judged
        ex = client.get("/busy")
        assert ex.status == 200 and ex.limited == 1
        assert client.stats.limited == 1
        client.close()
