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
    assert result.stderr == ""  # no PytestAssertRewriteWarning, no collection noise
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["case", "level", "title"]
    rows = [line.split(None, 2) for line in lines[1:-1]]
    # The contract's table, in contract order.
    assert [(i, lvl, t) for i, lvl, t in rows] == [(r.id, r.level.value, r.title) for r in REQUIREMENTS]
    assert lines[-1] == f"{len(REQUIREMENTS)} case(s)"
    assert not (tmp_path / "reports" / "conformance.json").exists()  # listing judges nothing


def test_list_is_contract_only(tmp_path: Path) -> None:
    # Fast because it never starts pytest nor imports the suite's heavy dependencies.
    code = ("import sys; from conformance.cli import main; rc = main(['check', '--list']); "
            "heavy = sorted(m for m in ('pytest', 'httpx', 'schemathesis', 'hypothesis', 'locust', 'starlette') "
            "if m in sys.modules); print('HEAVY', heavy); sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_list_with_a_profile_names_the_skips(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--list", "--profile", "agora-node-tokenserver", "--case", "ROUTE-8,ROUTE-9")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^ROUTE-8 .*\(skipped: profile 'agora-node-tokenserver' has no post_get_token route\)$",
                     result.stdout, re.MULTILINE), result.stdout
    assert result.stdout.splitlines()[-1] == "2 case(s)"


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


@pytest.mark.parametrize(("argv", "message"), [
    (["--app-id", "xyz"], "--app-id must be 32 hexadecimal characters, not 'xyz'"),
    (["--report-dir", "/proc/nope"], "cannot create the report folder '/proc/nope'"),
    (["--case", "NOPE-1"], "--case 'NOPE-1' selects no case of the contract"),
    (["--case", "ROUTE-1,NOPE"], "--case 'NOPE' selects no case of the contract (see check --list)"),
    (["--case", "route-1, nope ,INPUT-1*,bad"], "--case 'nope', 'bad' select no case of the contract"),
    (["--list", "--case", "ROUTE-1,NOPE"], "--case 'NOPE' selects no case of the contract"),
    (["--case", ""], "--case needs at least one case id, glob or section"),
    (["--case", " , "], "--case needs at least one case id, glob or section"),
    (["--certificate-file", "/nonexistent/cert"], "cannot read the certificate file '/nonexistent/cert'"),
])
def test_more_usage_errors_are_one_line(tmp_path: Path, argv: list[str], message: str) -> None:
    result = run_cli(tmp_path, "check", *argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"token-conformance check: error: {message}"), result.stderr
    assert not (tmp_path / "reports" / "conformance.json").exists()


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read the deviations file"),
    ("{not json", "is not JSON"),
    ('{"NOPE-9": "why"}', "names unknown cases: NOPE-9"),
    ('["ROUTE-1"]', "must be a JSON object"),
])
def test_bad_deviations_file_is_a_usage_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "dev.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_cli(tmp_path, "check", "--deviations", str(path), "--case", "ROUTE-1", "--report-dir", "D")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "no case ran" not in result.stdout + result.stderr
    assert not (tmp_path / "D" / "conformance.json").exists()  # nothing judged, nothing reported


def test_mistyped_option_gets_the_subcommand_usage_and_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "http://127.0.0.1:1", "--strcit"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: token-conformance check ")
    assert "unrecognized arguments: --strcit; --strcit: did you mean --strict?" in err


def test_check_subset_run_says_so(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--case", "ROUTE-1,ROUTE-2", "--report-dir", "D")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    summary = doc["summary"]
    assert summary["scope"] == "subset"
    assert summary["selected"] == ["ROUTE-1", "ROUTE-2"]
    assert summary["selection"] == "--case 'ROUTE-1,ROUTE-2'"
    assert re.search(r"^verdict: CONFORMING \(exit 0\) - subset run: 2 case\(s\) selected by --case "
                     r"'ROUTE-1,ROUTE-2', not a full verdict$", result.stdout, re.MULTILINE), result.stdout
    html = (tmp_path / "D" / "conformance.html").read_text(encoding="utf-8")
    assert "subset run: 2 case(s) selected" in html
    # When and by what: a report read a month later says which tool and contract judged.
    from conformance import __version__
    from conformance.contract import CONTRACT_VERSION

    assert doc["tool"] == {"name": "token-conformance", "version": __version__}
    assert doc["contract_version"] == CONTRACT_VERSION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["generated_at"])


def test_skip_reasons_reach_the_terminal(tmp_path: Path) -> None:
    # A server of our own whose certificate the harness does not know: TOKEN-8 cannot be judged.
    from conformance.reference.server import ReferenceServer

    with ReferenceServer() as server:
        result = run_cli(tmp_path, "check", server.url, "--app-id", server.settings.app_id, "--strict",
                         "--case", "ROUTE-1,TOKEN-8", "--report-dir", "D")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^TOKEN-8 +MUST +skipped .*\n +skipped: no app certificate: ", out, re.MULTILINE), out
    # The reason wraps to the terminal's width, never cut: whole once its lines are joined.
    unwrapped = re.sub(r"\n {28,}", " ", out)
    assert re.search(r"skipped: no app certificate: .*--certificate-file \(token-conformance check\) or "
                     r"--token-app-certificate-file \(pytest\)$", unwrapped, re.MULTILINE), out
    assert all(len(line) <= 80 for line in out.splitlines() if line.startswith(" " * 28)), out
    assert "note: 1 MUST case(s) skipped, not judged: TOKEN-8 (no app certificate" in out
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert doc["summary"]["notes"] and doc["summary"]["notes"][0].startswith("1 MUST case(s) skipped")


def test_a_bad_invocation_removes_the_previous_reports(tmp_path: Path) -> None:
    # A green conformance.json from the last run must not stay for CI to pick up after `check --case NOPE`.
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in ("conformance.json", "conformance.html", "junit.xml"):
        (folder / name).write_text("from the previous run", encoding="utf-8")
    (folder / "mine.txt").write_text("not a report", encoding="utf-8")
    result = run_cli(tmp_path, "check", "--case", "NOPE")
    assert result.returncode == 2, result.stdout + result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]


def test_profile_auto_that_cannot_detect_writes_could_not_judge_reports(tmp_path: Path, closed_port: int) -> None:
    # As a plain check of the same target does: the reports say "could not judge", junit.xml is red.
    result = run_cli(tmp_path, "check", f"http://127.0.0.1:{closed_port}", "--profile", "auto", "--report-dir", "D")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("token-conformance check: error: --profile auto: cannot detect")
    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    assert (doc["summary"]["verdict"], doc["summary"]["exit_code"]) == ("could not judge", 2)
    assert doc["summary"]["reason"].startswith("--profile auto: cannot detect")
    junit = (tmp_path / "D" / "junit.xml").read_text(encoding="utf-8")
    assert 'name="verdict"' in junit and "<error " in junit


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
