"""--web-origin, --browser and the profile's web_origins through the CLI, the plugin and watch (HEADER-5).

The Fetch standard's steps are tests/test_cors.py's; the faulty and correct web servers, judged with --browser,
are the proofs' (tests/suite/test_proofs.py, tests/variants/test_variants.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.profiles import ProfileError, load_profile

ORIGIN = "https://app.example.com"


def run_cli(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "conformance", *argv], cwd=tmp_path, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "--web-origin", "https://app.example.com/login"], "leave out the path, query and fragment"),
    (["check", "--web-origin", "app.example.com"], "needs http:// or https://"),
    (["check", "--browser"], "--browser confirms HEADER-5 for each web origin: declare one with --web-origin"),
    (["check", "--web-origin", ORIGIN, "--browser-path", "/nonexistent/chromium"],
     "--browser-path '/nonexistent/chromium': no such executable"),
    (["watch", "http://127.0.0.1:1", "--web-origin", "https://app.example.com/x"], "is not an origin"),
])
def test_bad_web_options_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    line = _one_line_error(capsys, argv)
    assert line.startswith(f"token-conformance {argv[0]}: error: ") and message in line, line


def test_no_browser_on_path_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    line = _one_line_error(capsys, ["check", "--web-origin", ORIGIN, "--browser"])
    assert "--browser: no Chromium found" in line and "--browser-path" in line, line


def _report(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))


def test_without_an_origin_header5_does_not_apply(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "check", "--case", "HEADER-5", "--report-dir", "D")
    case = _report(tmp_path)["cases"][0]
    assert case["outcome"] == "skipped", result.stdout + result.stderr
    assert case["message"].startswith("not applicable: no web origin declared (--web-origin")


def test_without_browser_the_case_says_it_was_judged_by_the_standard_alone(tmp_path: Path) -> None:
    """The embedded server allows '*' and the app sends no credential: a simple request, no preflight."""
    result = run_cli(tmp_path, "check", "--case", "HEADER-5", "--report-dir", "D", env={"TOKEN_WEB_ORIGINS": ORIGIN})
    assert result.returncode == 0, result.stdout + result.stderr
    doc = _report(tmp_path)
    message = doc["cases"][0]["message"]
    assert "a simple request" in message and "browsers send no preflight" in message, message
    assert "judged by the Fetch standard alone" in message, message
    assert doc["summary"]["extra"]["web_origins"] == [{
        "origin": ORIGIN, "request": "GET with no extra header", "preflight": False, "standard": "passed",
        "step": None, "problem": None, "browser": None}]


def test_the_profile_declares_the_apps_origins(tmp_path: Path) -> None:
    profile = tmp_path / "mine.json"
    profile.write_text(json.dumps({"extends": "agora-token-service", "name": "mine",
                                   "web_origins": ["https://App.Example.com/", "http://localhost:5173"]}))
    assert load_profile(str(profile)).web_origins == (ORIGIN, "http://localhost:5173")
    assert load_profile(str(profile)).document()["web_origins"] == [ORIGIN, "http://localhost:5173"]
    result = run_cli(tmp_path, "check", "--case", "HEADER-5", "--report-dir", "D", "--profile", str(profile),
                     "--web-origin", "http://localhost:5173")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["origin"] for r in _report(tmp_path)["summary"]["extra"]["web_origins"]] == [
        ORIGIN, "http://localhost:5173"]


def test_a_profile_origin_with_a_path_is_a_profile_error(tmp_path: Path) -> None:
    profile = tmp_path / "bad.json"
    profile.write_text(json.dumps({"extends": "agora-token-service", "web_origins": ["https://app.example.com/app"]}))
    with pytest.raises(ProfileError) as exc:
        load_profile(str(profile))
    assert "$.web_origins[0]" in str(exc.value) and "leave out the path" in str(exc.value)


def test_watch_hands_the_origins_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """watch only accepts the option (no --browser) and passes the origins to every run's check."""
    import conformance.api
    import conformance.interruption
    import conformance.watch
    from conformance.watch import SAFE_CASES, Watcher, WatchOptions

    assert "HEADER-5" in SAFE_CASES  # a preflight and a token request, as a browser sends them
    seen: list[WatchOptions] = []
    monkeypatch.setattr(conformance.watch.Watcher, "run", lambda self: seen.append(self.opts) or 0)
    assert main(["watch", "http://127.0.0.1:9", "--web-origin", "https://App.example.com", "--runs", "1"]) == 0
    assert seen[0].web_origins == (ORIGIN,)
    handed: list[conformance.api.CheckOptions] = []

    def fake_check(opts: conformance.api.CheckOptions, inputs: object = None) -> conformance.api.CheckResult:
        handed.append(opts)
        return conformance.api.CheckResult(exit_code=2, report_dir=Path("."), document=None)

    monkeypatch.setattr(conformance.api, "check", fake_check)
    # The real check() clears the signals an earlier in-process run received; this fake does not, and a stale
    # SIGINT from another test in the same worker made cycle() raise KeyboardInterrupt and crash the worker.
    monkeypatch.setattr(conformance.interruption, "received", [])
    monkeypatch.setattr(conformance.watch, "send_watch_probe",
                        lambda opts, inputs, redactor: conformance.watch.WatchProbe(up=True))
    Watcher(seen[0]).cycle()
    assert list(handed[0].web_origins) == [ORIGIN] and not handed[0].browser
    help_text = subprocess.run([sys.executable, "-m", "conformance", "watch", "--help"], capture_output=True,
                               text=True, timeout=60, check=False).stdout
    assert "--web-origin" in help_text and "--browser" not in help_text

