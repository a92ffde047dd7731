"""``token-conformance check``: a verdict, three reports and an exit code; one line and exit 2 for mistakes.

Runs that start the suite go through ``python -m conformance`` in a subprocess (a fresh pytest, as a user gets);
option mistakes are caught before pytest starts, so those run in-process through ``conformance.cli.main``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.contract import REQUIREMENTS


def run_cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "conformance", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_check_embedded_server_one_case(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--case", "ROUTE-1", "--report-dir", "D")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("conformance.json", "junit.xml", "conformance.html"):
        assert (tmp_path / "D" / name).is_file(), name
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert doc["summary"]["verdict"] == "conforming"
    assert [(c["id"], c["outcome"]) for c in doc["cases"]] == [("ROUTE-1", "passed")]
    assert "verdict: CONFORMING (exit 0)" in result.stdout
    assert "reports: D/conformance.json" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_check_unreachable_target(tmp_path: Path) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()  # nothing listens there now
    result = run_cli(tmp_path, "check", url, "--case", "ROUTE-1", "--report-dir", "D")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the target does not answer: cannot connect to {url}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert doc["summary"]["exit_code"] == 2


def test_check_with_a_skipped_case(tmp_path: Path) -> None:
    # The Node profile has no POST /getToken: ROUTE-8 is skipped, ROUTE-9 passes.
    result = run_cli(tmp_path, "check", "--profile", "agora-node-tokenserver", "--case", "ROUTE-8,ROUTE-9",
                     "--report-dir", "D")
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert {c["id"]: c["outcome"] for c in doc["cases"]} == {"ROUTE-8": "skipped", "ROUTE-9": "passed"}


def test_list_cases(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--list")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = re.findall(r"^test_\w+\.py::([A-Z]+-\d+)$", result.stdout, re.MULTILINE)
    assert sorted(listed) == sorted(r.id for r in REQUIREMENTS)
    assert not (tmp_path / "reports" / "conformance.json").exists()  # listing judges nothing


def test_list_writes_no_report(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--list", "--case", "ROUTE-1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_usage_error_from_the_command_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "ftp://tokens.example.com")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "token-conformance check: error: the URL must start with http:// or https://, not 'ftp://tokens.example.com'"
    ]


@pytest.mark.parametrize(("argv", "message"), [
    (["tokens.example.com"], "the URL must start with http:// or https://"),
    (["--profile", "agora-go-server"], "unknown profile 'agora-go-server'"),
    (["--timeout", "-1"], "--timeout must be positive"),
    (["--timeout", "0"], "--timeout must be positive"),
    (["--max-skew", "-5"], "--max-skew must be positive"),
    (["--workers", "0"], "--workers must be at least 1"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("token-conformance check: error: ")
    assert message in lines[0]


def test_bad_profile_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"roles": {}, "routes": {}}')
    assert main(["check", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "is not a valid profile" in err


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--timeout", "soon"])
    assert info.value.code == 2
    assert "invalid float value: 'soon'" in capsys.readouterr().err
