"""Servers as deployed: behind credentials, behind a rate limiter, slower than the client, not a
token server at all, and each public family for profile detection.

Each server runs in this process on loopback; ``check`` runs in a child (tests/faulty/runner.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from conformance.client import TokenServerClient
from conformance.detect import detect
from conformance.reference.app import create_app
from tests.faulty.asgi import intercept, rewrite_path
from tests.faulty.issuers import Issuer006
from tests.faulty.runner import run_check, serving
from tests.faulty.servers import AUTH_HEADER, CREDENTIAL_CONTROLS, slow_tokens

SECRET = AUTH_HEADER[1]
CREDS = dict([AUTH_HEADER])


def assert_secret_nowhere(run: Any, report_dir: Path | None = None) -> None:
    assert SECRET not in run.output and SECRET.split(" ", 1)[1] not in run.output
    assert SECRET not in json.dumps(run.document)


# --- authentication -----------------------------------------------------------


def test_server_behind_authentication_passes_with_credentials() -> None:
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, headers=CREDS, cases=["ROUTE", "SEC"])
    assert run.exit_code == 0, run.output[-3000:]
    assert run.outcomes["SEC-5"] == run.outcomes["SEC-6"] == "passed"
    assert_secret_nowhere(run)


def test_routes_hidden_behind_404_pass_with_credentials() -> None:
    """RFC 9110 15.5.5: a server may hide a resource from whoever lacks the credentials with 404 (SEC-5, contract
    1.4); without a token and with the same request answered a token with them, that is enforcement."""
    with serving(CREDENTIAL_CONTROLS["auth-hidden-404"]) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, headers=CREDS, cases=["SEC-5", "SEC-6"])
    assert run.outcomes == {"SEC-5": "passed", "SEC-6": "passed"}, run.output[-3000:]
    assert run.exit_code == 0


def test_without_credentials_the_run_says_to_pass_them() -> None:
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, s):
        run = run_check(url, certificate=s.certificate)
    assert run.exit_code == 2
    assert "the server requires authentication; pass it with --header" in run.output
    assert "the server requires authentication" in run.document["summary"]["reason"]
    assert run.document is not None and run.document["summary"]["failed_by_level"]["MUST"] == []
    # One short answer when the run cannot judge: the error with its hint and the verdict, no table of cases that never ran;
    # the reports still list every case, as not run.
    section = run.output.split("token-conformance ===", 1)[1]
    assert " not run  " not in section and "ROUTE-1" not in section, section
    lines = [line for line in section.splitlines() if line.strip()]
    assert len(lines) <= 5, lines  # target, "N not run (listed in the reports)", verdict, pytest's own last line
    assert lines[-2].startswith("verdict: COULD NOT JUDGE (exit 2) - the server requires authentication"), lines
    assert f"cases: {len(run.document['cases'])} not run (listed in the reports)" in section
    assert {c["outcome"] for c in run.document["cases"]} == {"not run"} and len(run.document["cases"]) >= 50


def test_refused_credentials_are_named_not_shown() -> None:
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, s):
        run = run_check(url, certificate=s.certificate, headers={"Authorization": "Bearer not-the-right-one"})
    assert run.exit_code == 2 and "refuses the configured credentials" in run.output
    assert "not-the-right-one" not in run.output


def test_failures_show_a_placeholder_not_the_credential(tmp_path: Path) -> None:
    """auth-echo fails SEC-6 and auth-bypass-rtm SEC-5: neither the output nor any report file holds the secret."""
    from tests.faulty.servers import BY_KEY

    with serving(BY_KEY["auth-echo"].make) as (url, s), serving(BY_KEY["auth-bypass-rtm"].make) as (url2, _):
        env = {"TOKEN_SERVER_HEADERS": f"{AUTH_HEADER[0]}: {SECRET}"}
        for target in (url, url2):
            proc = subprocess.run(
                [sys.executable, "-m", "conformance", "check", target, "--case", "SEC-5,SEC-6,ROUTE-1",
                 "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=120,
                env={**_env(), **env, "TOKEN_SERVER_APP_CERTIFICATE": s.certificate},
            )
            assert proc.returncode == 1, proc.stdout + proc.stderr
            out = proc.stdout + proc.stderr
            for f in tmp_path.iterdir():
                assert SECRET.split(" ", 1)[1] not in f.read_text(encoding="utf-8"), f.name
            assert SECRET.split(" ", 1)[1] not in out
    assert "curl " in out  # the failures carry their curl lines, without the credential


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}


@pytest.mark.parametrize("spec", ["Authorization Bearer x", ": value", "Bad Name: x", "X-Key:"])
def test_bad_header_syntax_is_one_line_exit_2(spec: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "conformance", "check", "http://127.0.0.1:9", "--header", spec],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr


# --- rate limits --------------------------------------------------------------


def _rate_limited(rate: float, retry_after: str) -> Any:
    """The reference app behind a token bucket of ``rate`` requests/s (burst 5): 429 with Retry-After beyond it."""
    lock = threading.Lock()
    bucket = {"tokens": 5.0, "at": time.monotonic()}

    def answer(request: Request) -> Response | None:
        with lock:
            now = time.monotonic()
            bucket["tokens"] = min(5.0, bucket["tokens"] + (now - bucket["at"]) * rate)
            bucket["at"] = now
            if bucket["tokens"] >= 1:
                bucket["tokens"] -= 1
                return None
        return JSONResponse({"error": "too many requests"}, status_code=429, headers={"Retry-After": retry_after})

    return lambda s: intercept(create_app(s), answer)


def test_rate_limited_server_is_judged_and_the_limits_reported() -> None:
    with serving(_rate_limited(40.0, "1")) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, cases=["ROUTE", "INPUT"])
    assert run.exit_code == 0, run.output[-3000:]
    limits = run.document["summary"]["extra"]["rate_limits"]
    assert limits["limited"] > 0 and limits["waited_s"] >= 1
    assert "rate limits: the target limited the run" in run.output
    # What the target did is told before the verdict, which stays the last line of a CI log.
    assert run.output.index("rate limits:") < run.output.rindex("verdict:")


def test_under_xdist_the_workers_answer_times_and_rate_limits_are_merged() -> None:
    # With -n 2 the workers send the requests: the controller's report holds the run's figures, not none.
    with serving(_rate_limited(40.0, "1")) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, cases=["ROUTE", "INPUT"], workers=2)
    assert run.exit_code == 0, run.output[-3000:]
    extra = run.document["summary"]["extra"]
    times, limits = extra["answer_times"], extra["rate_limits"]
    # Every request sent got an answer (none timed out): the merged count is the run's, not one worker's.
    assert times["count"] + limits["limited"] == extra["requests_sent"] > 50, extra
    assert 0 < times["p50_ms"] <= times["p95_ms"] <= times["max_ms"]
    assert limits["limited"] > 0 and limits["waited_s"] >= 1
    assert "answer times:" in run.output and "rate limits: the target limited the run" in run.output


def test_rate_limit_budget_exhausted_cannot_be_judged() -> None:
    with serving(_rate_limited(5.0, "120")) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, cases=["INPUT"])
    assert run.exit_code == 2, run.output[-3000:]
    assert "wait budget" in run.document["summary"]["reason"]


def _always_limited(s: Any) -> Any:
    """Every answer a 429 with ``Retry-After: 0``: no wait ever grows the budget, yet the run must end."""
    return lambda s: intercept(create_app(s), lambda request: JSONResponse(
        {"error": "slow down"}, status_code=429, headers={"Retry-After": "0"}))


def test_a_target_that_always_says_retry_now_ends_the_run() -> None:
    with serving(_always_limited(None)) as (url, s):
        started = time.monotonic()
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, cases=["ROUTE-1"])
        took = time.monotonic() - started
    assert run.exit_code == 2, run.output[-3000:]
    assert "rate-limited" in run.document["summary"]["reason"], run.document["summary"]["reason"]
    assert took < 60, f"{took:.0f} s"


# --- latency ----------------------------------------------------------------


def test_server_slower_than_the_default_client_timeout_fails_latency_in_one_timeout() -> None:
    """11 s per token against the client's 10 s, /ping at once: exit 1 on LATENCY-1, the rest skipped."""
    with serving(slow_tokens(11.0)) as (url, s):
        started = time.monotonic()
        run = run_check(url, certificate=s.certificate, app_id=s.app_id)
        took = time.monotonic() - started
    assert run.exit_code == 1, run.output[-3000:]
    assert run.failed == {"LATENCY-1"}
    assert all(o == "skipped" for c, o in run.outcomes.items() if c != "LATENCY-1")
    assert "within the client's timeout of 10 s" in run.message("LATENCY-1")
    assert took < 40, f"{took:.0f} s: more than one timeout"


# --- hints and detection ----------------------------------------------------


def _html_site(s: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await HTMLResponse("<!doctype html><html><head><title>Acme Shop</title></head><body>hi</body></html>")(
            scope, receive, send)

    return app


def _json_api(s: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"status": "ok", "version": "2.1", "items": []})(scope, receive, send)

    return app


def _proxy_error(s: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
        await HTMLResponse(body, status_code=502)(scope, receive, send)

    return app


@pytest.mark.parametrize(("factory", "words"), [(_html_site, "an HTML page"), (_json_api, "another JSON API"),
                                                 (_proxy_error, "a proxy error page")])
def test_a_target_that_is_no_token_server_gets_a_hint(factory: Any, words: str) -> None:
    with serving(factory) as (url, _s):
        run = run_check(url, cases=["ROUTE-1"])
    hints = run.document["summary"]["extra"]["hints"]
    assert any(words in h for h in hints), hints
    assert "hint: GET" in run.output


def node_family(s: Any) -> Any:
    """The Node family as the reference app can play it: 006 tokens, 'audience' for subscribers, no POST."""

    def roles(seg: list[str]) -> list[str]:
        if len(seg) > 3 and seg[1] in ("rtc", "rte"):
            seg[3] = {"audience": "subscriber", "subscriber": "nosuchrole"}.get(seg[3], seg[3])
        return seg

    def no_post(request: Request) -> Response | None:
        return JSONResponse({"error": "not found"}, status_code=404) if request.url.path == "/getToken" else None

    return intercept(rewrite_path(create_app(s, Issuer006(s.app_id, s.certificate)), roles), no_post)


@pytest.mark.parametrize(("factory", "profile"), [(lambda s: create_app(s), "agora-token-service"),
                                                  (node_family, "agora-node-tokenserver")])
def test_detect_names_each_public_family(factory: Any, profile: str) -> None:
    with serving(factory) as (url, _s):
        client = TokenServerClient(url, timeout=5)
        found = detect(client)
        client.close()
        assert found.profile == profile and found.confidence == "high", found
        proc = subprocess.run([sys.executable, "-m", "conformance", "detect", url, "--json"], capture_output=True,
                              text=True, timeout=60, env=_env())
    assert proc.returncode == 0 and json.loads(proc.stdout)["profile"] == profile


def test_detect_says_why_nothing_fits() -> None:
    with serving(_html_site) as (url, _s):
        proc = subprocess.run([sys.executable, "-m", "conformance", "detect", url, "--json"], capture_output=True,
                              text=True, timeout=60, env=_env())
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["profile"] is None and "HTML page" in data["reason"]


def test_check_profile_auto_prints_its_choice(tmp_path: Path) -> None:
    with serving(node_family) as (url, s):
        proc = subprocess.run([sys.executable, "-m", "conformance", "check", url, "--profile", "auto", "--case",
                               "ROUTE-1,TOKEN-2", "--report-dir", str(tmp_path)], capture_output=True, text=True,
                              timeout=120, env={**_env(), "TOKEN_SERVER_APP_CERTIFICATE": s.certificate})
    assert "--profile auto chose agora-node-tokenserver" in proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_other_family_gets_a_profile_hint() -> None:
    """A Node-family server judged with the Go profile: ROUTE-1 fails ('subscriber' refused) and the hint names
    the profile that fits."""
    with serving(node_family) as (url, s):
        run = run_check(url, certificate=s.certificate, cases=["ROUTE-1", "TOKEN-2"])
    hints = run.document["summary"]["extra"].get("hints", [])
    assert any("try --profile agora-node-tokenserver" in h for h in hints), (hints, run.output[-2000:])
    assert "hint: the target looks like agora-node-tokenserver" in run.output


def test_detect_without_an_answer_or_behind_a_login_wall_cannot_judge() -> None:
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, _s):
        proc = subprocess.run([sys.executable, "-m", "conformance", "detect", url, "--json"], capture_output=True,
                              text=True, timeout=60, env=_env())
        data = json.loads(proc.stdout)
        assert proc.returncode == 2 and data["profile"] is None and "login wall" in data["reason"]
        proc = subprocess.run([sys.executable, "-m", "conformance", "detect", url, "--json", "--header",
                               f"{AUTH_HEADER[0]}: {SECRET}"], capture_output=True, text=True, timeout=60, env=_env())
        assert proc.returncode == 0 and json.loads(proc.stdout)["profile"] == "agora-token-service"
        assert SECRET.split(" ", 1)[1] not in proc.stdout + proc.stderr
    proc = subprocess.run([sys.executable, "-m", "conformance", "detect", "http://127.0.0.1:9"], capture_output=True,
                          text=True, timeout=60, env=_env())
    assert proc.returncode == 2 and "nothing answers" in proc.stdout


def test_plain_pytest_reads_headers_from_the_ini(tmp_path: Path) -> None:
    """The plugin's ini equivalent of --header (token_headers, one per line) and of the rate-limit options."""
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, _s):
        (tmp_path / "pytest.ini").write_text(
            f"[pytest]\ntoken_server_url = {url}\ntoken_headers =\n    {AUTH_HEADER[0]}: {SECRET}\n"
            "token_max_rps = 200\ntoken_rate_limit_budget = 5\n", encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider",
                               "--token-case", "SEC-5,SEC-6", "--token-report-dir", str(tmp_path / "r"), "-c",
                               str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env())
    doc = json.loads((tmp_path / "r" / "conformance.json").read_text(encoding="utf-8"))
    assert {c["id"]: c["outcome"] for c in doc["cases"]} == {"SEC-5": "passed", "SEC-6": "passed"}, proc.stdout[-2000:]
    assert doc["summary"]["extra"]["rate_limits"]["paced_s"] >= 0


def _slow_after(answered: int, seconds: float) -> Any:
    """Token answers (200) are fast for the first ``answered`` requests, then ``seconds`` late; /ping stays fast."""
    count = {"n": 0}

    def wrap(s: Any) -> Any:
        app = create_app(s)

        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and str(scope["path"]).startswith("/rtc/"):
                count["n"] += 1
                if count["n"] > answered:
                    await asyncio.sleep(seconds)
            await app(scope, receive, send)

        return wrapped

    return wrap


def test_a_server_that_becomes_too_slow_mid_run_fails_latency_only() -> None:
    """The breaker trips on a timeout in the middle of the run: the case that met it and those after it skip naming
    LATENCY-1, which fails; exit 1, not 'could not judge'."""
    with serving(_slow_after(6, 2.0)) as (url, s):
        run = run_check(url, certificate=s.certificate, app_id=s.app_id, timeout=1.0, cases=["TOKEN", "LATENCY"])
    assert run.exit_code == 1, run.output[-3000:]
    assert run.failed == {"LATENCY-1"}, {c: run.message(c)[:300] for c in run.failed}
    assert any("judged by LATENCY-1" in run.message(c) for c in run.skipped) or run.skipped
