"""``conformance.detect``: what a target that gives no usable token looks like, with advice that fits where it is
printed (findings 4 and 9 of the newcomer trial).

Servers run in this process on loopback (tests/faulty/runner.py ``serving``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from starlette.responses import JSONResponse

from conformance.client import TokenServerClient
from conformance.detect import detect
from tests.faulty.runner import run_check, serving
from tests.faulty.servers import AUTH_HEADER, CREDENTIAL_CONTROLS


def _garbage_token(s: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"rtcToken": "garbage-token"})(scope, receive, send)

    return app


def _json_api(s: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"status": "ok", "version": "2.1"})(scope, receive, send)

    return app


def _detect(url: str, headers: dict[str, str] | None = None) -> Any:
    client = TokenServerClient(url, timeout=5, headers=headers)
    try:
        return detect(client)
    finally:
        client.close()


def test_an_undecodable_token_is_named_as_such_not_as_no_token() -> None:
    with serving(_garbage_token) as (url, _s):
        found = _detect(url)
        proc = subprocess.run([sys.executable, "-m", "conformance", "detect", url], capture_output=True, text=True,
                              timeout=60, check=False)
    assert found.profile is None and found.judged
    assert "None" not in found.reason and "no token" not in found.reason, found.reason
    assert "a value under 'rtcToken' that is not a token" in found.reason and "'garbage-token' does not decode" in found.reason
    assert found.evidence["rtc route"].startswith("rtcToken does not decode"), found.evidence
    assert proc.returncode == 1 and "None" not in proc.stdout and "no token" not in proc.stdout, proc.stdout


def test_detection_never_suggests_profile_auto() -> None:
    with serving(_json_api) as (url, _s):
        found = _detect(url)
    assert "another JSON API" in found.reason and "--profile auto" not in found.reason, found.reason


def test_refused_credentials_are_not_asked_for_again() -> None:
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, _s):
        found = _detect(url, {AUTH_HEADER[0]: "Bearer not-the-right-one"})
        run = run_check(url, headers={AUTH_HEADER[0]: "Bearer not-the-right-one"}, cases=["ROUTE-1"])
    assert not found.judged and "refuses the configured credentials" in found.reason, found.reason
    assert "pass them with --header" not in found.reason
    assert run.exit_code == 2 and "refuses the configured credentials" in run.output
    assert "pass them with --header" not in run.output and "wants credentials" not in run.output, run.output[-2000:]
