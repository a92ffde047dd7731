"""The pytest plugin, driven as a user drives it: ``pytest --pyargs conformance.suite`` in a subprocess.

Each run is restricted to a case or two (or is --collect-only) and turns off the pytest plugins the suite does
not use, as ``token-conformance check`` does, so a run costs about a second. Servers run in this process on
127.0.0.1: a server without tokens (for deviations) and a leaky one that echoes the certificate.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.contract import REQUIREMENTS
from conformance.reference.threaded import ThreadedServer
from tests.plugin.running import run_suite

CERT = "5cfd2fd1755d40ecb72977518be15d3b"
COLLECTED = re.compile(r"^(test_\w+\.py)::([A-Z]+-\d+)$", re.MULTILINE)


def collected(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [m.group(2) for m in COLLECTED.finditer(result.stdout)]


def closed_port_url() -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def report(tmp_path: Path, folder: str = "reports") -> dict[str, object]:
    return json.loads((tmp_path / folder / "conformance.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def outcomes(doc: dict[str, object]) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in doc["cases"]}  # type: ignore[attr-defined]


# --- collection and selection ----------------------------------------------------


def test_items_are_named_by_requirement_id(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url())
    ids = collected(result)
    assert sorted(ids) == sorted(r.id for r in REQUIREMENTS)
    assert "test_routes.py::ROUTE-1" in result.stdout.splitlines()
    assert "test_security.py::SEC-1" in result.stdout.splitlines()


def test_token_case_selects_exactly_the_listed_ids(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url(),
                       "--token-case", "ROUTE-1,EXPIRY-2")
    assert sorted(collected(result)) == ["EXPIRY-2", "ROUTE-1"]


def test_token_case_globs(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url(),
                       "--token-case", "INPUT-1*")
    assert sorted(collected(result)) == ["INPUT-1", "INPUT-10", "INPUT-11", "INPUT-12"]


def test_token_case_part_that_selects_nothing_is_a_usage_error(tmp_path: Path) -> None:
    """A typo next to a good id is refused (pytest's usage error, exit 4), not run as the smaller selection."""
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url(),
                       "--token-case", "ROUTE-1,Nope")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--token-case 'Nope' selects no case of the contract" in result.stdout + result.stderr


def test_token_case_section_from_the_environment(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url(),
                       env={"TOKEN_CASE": "header"})
    assert sorted(collected(result)) == ["HEADER-1", "HEADER-2", "HEADER-3", "HEADER-4", "HEADER-5"]


# --- where the URL comes from, and a target that does not answer ----------------


def _assert_could_not_judge(tmp_path: Path, result: subprocess.CompletedProcess[str], url: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    said = [line for line in output.splitlines() if line.startswith("token-conformance: ")]
    assert len(said) == 1, output
    assert said[0].startswith(f"token-conformance: the target does not answer: cannot connect to {url}"), output
    assert f"verdict: COULD NOT JUDGE (exit 2) - the target does not answer: cannot connect to {url}" in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    doc = report(tmp_path)
    assert doc["summary"]["exit_code"] == 2  # type: ignore[index]
    assert doc["summary"]["verdict"] == "could not judge"  # type: ignore[index]
    assert set(outcomes(doc).values()) == {"not run"}


def test_url_from_the_environment(tmp_path: Path) -> None:
    env_url = closed_port_url()
    result = run_suite(tmp_path, "--token-case", "ROUTE-1", "--token-report-dir", "reports",
                       env={"TOKEN_SERVER_URL": env_url})
    _assert_could_not_judge(tmp_path, result, env_url)


def test_ini_wins_over_the_environment(tmp_path: Path) -> None:
    env_url, ini_url = closed_port_url(), closed_port_url()
    result = run_suite(tmp_path, "--token-case", "ROUTE-1", "--token-report-dir", "reports",
                       env={"TOKEN_SERVER_URL": env_url}, ini=f"token_server_url = {ini_url}\n")
    _assert_could_not_judge(tmp_path, result, ini_url)


def test_command_line_wins_over_ini_and_environment(tmp_path: Path) -> None:
    env_url, ini_url, cli_url = closed_port_url(), closed_port_url(), closed_port_url()
    result = run_suite(tmp_path, "--token-case", "ROUTE-1", "--token-server-url", cli_url,
                       env={"TOKEN_SERVER_URL": env_url, "TOKEN_REPORT_DIR": "reports"},
                       ini=f"token_server_url = {ini_url}\n")
    _assert_could_not_judge(tmp_path, result, cli_url)


# --- a happy run, deviations ----------------------------------------------------


def test_embedded_server_run_writes_reports(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--token-case", "ROUTE-1", "--token-report-dir", "out",
                       "--junitxml", "junit.xml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: CONFORMING (exit 0)" in result.stdout
    doc = report(tmp_path, "out")
    assert outcomes(doc) == {"ROUTE-1": "passed"}
    assert str(doc["target"]).startswith("embedded reference server http://127.0.0.1:")
    assert (tmp_path / "out" / "conformance.html").is_file()
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert 'name="ROUTE-1"' in junit
    assert 'name="requirement" value="ROUTE-1"' in junit and 'name="level" value="MUST"' in junit


async def _no_tokens(request: Request) -> Response:
    return JSONResponse({"error": "no such route"}, status_code=404)


@pytest.fixture(scope="module")
def tokenless_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", _no_tokens, methods=["GET", "POST"])])
    with ThreadedServer(app) as srv:
        yield srv.url


def test_failing_must_case_fails_the_run(tmp_path: Path, tokenless_url: str) -> None:
    result = run_suite(tmp_path, "--token-server-url", tokenless_url, "--token-case", "ROUTE-1",
                       "--token-report-dir", "reports")
    assert result.returncode == 1, result.stdout + result.stderr
    assert outcomes(report(tmp_path)) == {"ROUTE-1": "failed"}
    assert "ROUTE-1 [MUST] RTC route answers a token" in result.stdout
    assert "Expected: 200 and a JSON object with a non-empty string under 'rtcToken'" in result.stdout
    assert f"Reproduce: curl -sS -i --max-time 10 {tokenless_url}/rtc/" in result.stdout


def test_deviation_turns_a_failure_into_xfailed(tmp_path: Path, tokenless_url: str) -> None:
    deviations = tmp_path / "deviations.json"
    deviations.write_text(json.dumps({"ROUTE-1": "our gateway has no RTC route yet (TICKET-12)"}))
    result = run_suite(tmp_path, "--token-server-url", tokenless_url, "--token-case", "ROUTE-1",
                       "--token-report-dir", "reports", "--token-deviations", str(deviations))
    assert result.returncode == 0, result.stdout + result.stderr
    doc = report(tmp_path)
    assert outcomes(doc) == {"ROUTE-1": "xfailed"}
    assert "TICKET-12" in doc["cases"][0]["message"]  # type: ignore[index]
    assert doc["summary"]["verdict"] == "conforming"  # type: ignore[index]


@pytest.mark.parametrize(("content", "message"), [
    (json.dumps({"ROUTE-1": "ok", "ROUTE-99": "typo"}), "names unknown cases: ROUTE-99"),
    ("{not json", "is not JSON"),
])
def test_bad_deviations_file_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    deviations = tmp_path / "deviations.json"
    deviations.write_text(content)
    result = run_suite(tmp_path, "--collect-only", "-q", "--token-server-url", closed_port_url(),
                       "--token-deviations", str(deviations))
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- the certificate never leaves ------------------------------------------------


async def _leaky(request: Request) -> Response:
    """A misconfigured server that quotes its certificate (in several letter cases) in every answer."""
    body = {"error": f"bad config: APP_CERTIFICATE={CERT.upper()} at {request.url.path}", "debug": CERT}
    return JSONResponse(body, status_code=500, headers={"X-Debug-Certificate": CERT})


@pytest.fixture(scope="module")
def leaky_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", _leaky, methods=["GET", "POST", "OPTIONS"])])
    with ThreadedServer(app) as srv:
        yield srv.url


def _outputs(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in (tmp_path / "junit.xml", tmp_path / "reports" / "conformance.json",
                 tmp_path / "reports" / "conformance.html"):
        texts[path.name] = path.read_text(encoding="utf-8") if path.is_file() else ""
    return texts


def _assert_no_certificate(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        assert CERT not in text.lower(), f"the certificate leaked into {name}"


def test_certificate_never_in_output_or_reports(tmp_path: Path, leaky_url: str) -> None:
    result = run_suite(tmp_path, "--token-server-url", leaky_url, "--token-case", "ROUTE-1,SEC-1,INPUT-1",
                       "--junitxml", "junit.xml", "--token-report-dir", "reports", "-rA", "-v",
                       env={"TOKEN_SERVER_APP_CERTIFICATE": CERT})
    texts = _outputs(tmp_path, result)
    assert result.returncode == 1, texts["stdout"] + texts["stderr"]
    assert all(texts[name] for name in ("junit.xml", "conformance.json", "conformance.html"))
    # INPUT-1 is not judged: its control (ROUTE-1's valid request) got a 500, not a token; its skip reason quotes it.
    assert outcomes(report(tmp_path)) == {"ROUTE-1": "failed", "INPUT-1": "skipped", "SEC-1": "failed"}
    # The server's bodies did reach the messages: redacted, not dropped.
    for name in ("stdout", "junit.xml", "conformance.json", "conformance.html"):
        assert "[REDACTED]" in texts[name], name
    _assert_no_certificate(texts)


def test_certificate_redacted_from_skip_reasons(tmp_path: Path, leaky_url: str) -> None:
    # TOKEN-4 skips (no token to judge), quoting the server's answer in its reason.
    result = run_suite(tmp_path, "--token-server-url", leaky_url, "--token-case", "ROUTE-1,TOKEN-4",
                       "--junitxml", "junit.xml", "--token-report-dir", "reports", "-rA",
                       env={"TOKEN_SERVER_APP_CERTIFICATE": CERT})
    texts = _outputs(tmp_path, result)
    assert "INTERNALERROR" not in texts["stdout"] + texts["stderr"]
    assert result.returncode == 1, texts["stdout"] + texts["stderr"]
    doc = report(tmp_path)
    assert outcomes(doc) == {"ROUTE-1": "failed", "TOKEN-4": "skipped"}
    token4 = next(c for c in doc["cases"] if c["id"] == "TOKEN-4")
    assert "cannot judge without a decoded token" in token4["message"]  # the skip reason reaches the report
    _assert_no_certificate(texts)


# --- import cost -------------------------------------------------------------------


def test_plugin_imports_neither_locust_nor_gevent() -> None:
    code = ("import sys, conformance.plugin; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_an_empty_case_pattern_is_a_usage_error_not_a_full_run(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--token-case", "")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "--token-case needs at least one case id" in result.stderr
