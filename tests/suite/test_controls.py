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

REFUSING_CASES = [f"INPUT-{n}" for n in range(1, 13)] + ["HEADER-2", "HEADER-3", "HEADER-4", "SEC-1", "SEC-2", "SEC-3"]


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
    # The root causes, as the terminal starts with them, are in conformance.json too.
    causes = run.document["summary"]["root_causes"]
    assert [c["id"] for c in causes] == ["ROUTE-1"] and "404" in causes[0]["cause"], causes
    assert causes[0]["level"] == "MUST" and causes[0]["title"], causes
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


def _post_route_broken(settings: Settings) -> Callable[..., object]:
    """The reference server whose POST /getToken answers 404: the GET controls work, the POST one does not."""
    from conformance.reference.app import create_app

    app = create_app(settings)
    gone = JSONResponse({"error": "not found"}, status_code=404)

    async def serve(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == "/getToken":
            await gone(scope, receive, send)
            return
        await app(scope, receive, send)

    return serve


PARTIAL_CASES = ["INPUT-1", "INPUT-11", "SEC-2"]


def test_rows_of_a_failing_control_are_named_not_dropped_silently() -> None:
    """Only the POST control fails: its rows are not judged, and the passing cases say so and name ROUTE-8."""
    with serving(_post_route_broken) as (url, settings):
        run = run_check(url, certificate=settings.certificate, cases=["ROUTE-8", *PARTIAL_CASES])
    assert run.document is not None, run.output[-3000:]
    assert run.failed == {"ROUTE-8"}
    summary = run.document["summary"]
    assert summary["not_judged"] == []
    assert summary["partly_judged"] == PARTIAL_CASES
    for case in PARTIAL_CASES:
        message = run.message(case)
        assert run.outcomes[case] == "passed", (case, message)
        assert message.startswith("partly judged:") and "got no token (status 404" in message, message
        assert "(judged by ROUTE-8)" in message and "POST /getToken with" in message, message
    assert "partly judged (some rows' control request got no token): 3 - INPUT-1, INPUT-11, SEC-2" in run.output
    # The root cause is in conformance.json, as on the terminal.
    assert [c["id"] for c in summary["root_causes"]] == ["ROUTE-8"]
    assert "404" in summary["root_causes"][0]["cause"], summary["root_causes"]
