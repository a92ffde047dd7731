"""No vacuous passes: a refusal is evidence only when the same request with valid values gets a token.

A server that answers 404 (or, with credentials configured, 401) to everything refuses every bad input too. Its INPUT and SEC cases must
not pass: they report "not judged: no control", name the case that owns the missing control, and the summary
counts them.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.reference.app import Settings
from tests.faulty.runner import run_check, serving

REFUSING_CASES = [f"INPUT-{n}" for n in range(1, 13)] + ["HEADER-2", "HEADER-3", "SEC-1", "SEC-2", "SEC-3"]


def _everything(status: int) -> Callable[[Settings], Starlette]:
    async def refuse(request: Request) -> JSONResponse:
        return JSONResponse({"error": "unauthorized" if status == 401 else "not found"}, status_code=status)

    methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    return lambda s: Starlette(routes=[Route("/{path:path}", refuse, methods=methods)])


def test_a_server_refusing_everything_passes_no_input_or_security_case() -> None:
    # 404 to everything (a 401 login wall ends the run at its first request, asking for credentials).
    with serving(_everything(404)) as (url, settings):
        run = run_check(url, certificate=settings.certificate, cases=["ROUTE-1", *REFUSING_CASES])
    assert run.document is not None, run.output[-3000:]
    assert run.failed == {"ROUTE-1"}
    assert run.having("passed") == set(), {c: run.message(c)[:300] for c in run.having("passed")}
    for case in REFUSING_CASES:
        message = run.message(case)
        assert run.outcomes[case] == "skipped" and message.startswith("not judged: no control"), (case, message)
        # The plain request fails, so ROUTE-1 owns every missing control (and ROUTE-8 the POST one).
        assert "judged by ROUTE-1" in message and "EXPIRY-1" not in message and "status 404" in message, message
    assert sorted(run.document["summary"]["not_judged"]) == sorted(REFUSING_CASES)
    assert f"not judged (no control request got a token): {len(REFUSING_CASES)}" in run.output
    assert run.exit_code == 1


def test_with_a_working_control_the_refusals_are_judged() -> None:
    """The reference server: every control gets a token, nothing is left unjudged."""
    from conformance.reference.app import create_app

    with serving(create_app) as (url, settings):
        run = run_check(url, certificate=settings.certificate, cases=REFUSING_CASES)
    assert run.document is not None, run.output[-3000:]
    assert run.having("passed") == set(REFUSING_CASES)
    assert run.document["summary"]["not_judged"] == []


def test_the_missing_control_is_named_as_the_profile_sends_it() -> None:
    # A JSON-body shape: the control is the profile's POST with its body, not the Go family's GET /rtc/... path.
    from tests.faulty.shapes import PROFILES

    with serving(_everything(404)) as (url, settings):
        run = run_check(url, certificate=settings.certificate, profile=str(PROFILES / "json-shape.json"),
                        cases=["ROUTE-1", "INPUT-1", "INPUT-5"])
    assert run.document is not None, run.output[-3000:]
    for case in ("INPUT-1", "INPUT-5"):
        message = run.message(case)
        assert message.startswith("not judged: no control"), (case, message)
        assert 'POST /api/token {"channelName": "conformance", "uid": 0, "role": "host"' in message, message
        assert "/rtc/" not in message and "?expiry" not in message, message
