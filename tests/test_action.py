"""action.yml, the composite GitHub Action: its steps' shell commands run as written (tests/ci_runner.py) against
loopback servers. The install step really installs token-conformance from a copy of this checkout into a fresh
virtual environment; the check step then runs that installed copy. Tests about other steps run on the session's
runner Python, where that copy is already installed (tests/conftest.py): the install step is proved here once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.reference.app import demo_settings
from conformance.reference.threaded import ThreadedServer
from tests.ci_runner import ACTION, Runner, RunnerKit, installed_from, runner_python
from tests.faulty.servers import AUTH_HEADER, CREDENTIAL_CONTROLS

SECRET = AUTH_HEADER[1]


def test_action_yml_declares_what_users_pass() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert {"url", "profile", "app-id", "strict", "baseline", "report-dir", "args", "gate"} <= set(action["inputs"])
    # Secrets come through the environment only: no input may invite one.
    for name in action["inputs"]:
        assert not any(word in name for word in ("certificate", "header", "token", "secret")), name
    text = ACTION.read_text(encoding="utf-8")
    assert "${{ github.action_path }}" in text and "pip install" in text
    # No input is pasted into a script: they reach it through env (an input cannot become shell code).
    for step in action["runs"]["steps"]:
        assert "${{ inputs." not in step.get("run", ""), step["name"]


@pytest.mark.slow
def test_the_action_installs_judges_a_server_behind_credentials_and_writes_the_summary(
        runner_kit: RunnerKit, tmp_path: Path) -> None:
    # A fresh runner Python, nothing of token-conformance in it: the install step must put it there.
    action_path, python_bin = runner_kit.action_path, runner_python(tmp_path / "python")
    assert installed_from(python_bin) is None and not (python_bin / "token-conformance").exists()
    settings = demo_settings()
    seen: dict[str, Any] = {}
    runner = Runner(tmp_path / "work", python_bin)
    with ThreadedServer(CREDENTIAL_CONTROLS["auth-required"](settings)) as server:
        run = runner.run_action(
            {"url": server.url, "app-id": settings.app_id, "baseline": "cache/conformance.json",
             "args": "--case ROUTE-1,TOKEN,SEC-5,SEC-6 --timeout 5"},
            env={"TOKEN_SERVER_HEADERS": f"{AUTH_HEADER[0]}: {SECRET}",
                 "TOKEN_SERVER_APP_CERTIFICATE": settings.certificate},
            action_path=action_path, setup_python=seen.update)
    assert not run.failed, run.log
    assert seen == {"python-version": "3.12"}  # the setup-python step gets the input (the runner's Python stands in)
    assert [s.outcome for s in run.steps] == ["success", "success", "success", "skipped"], run.log
    assert run.outputs == {"exit-code": "0", "verdict": "conforming", "report-dir": "reports"}
    # The installed copy ran, not this checkout: the install step put it into the runner's Python from the copy.
    assert "token-conformance 0.1.0" in run.steps[1].output
    assert installed_from(python_bin) == action_path.resolve() and (python_bin / "token-conformance").is_file()
    # The first run: no baseline in the cache yet, said as a notice, judged plainly.
    assert "::notice::token-conformance: no baseline at cache/conformance.json yet" in run.log
    doc = json.loads((runner.workspace / "reports" / "conformance.json").read_text(encoding="utf-8"))
    outcomes = {c["id"]: c["outcome"] for c in doc["cases"]}
    assert outcomes["SEC-5"] == outcomes["SEC-6"] == outcomes["TOKEN-8"] == "passed"  # credentials and certificate arrived
    summary = runner.summary.read_text(encoding="utf-8")
    assert summary.startswith("## ✅ Token server conformance: conforming"), summary
    for text in (run.log, summary, json.dumps(doc), (runner.workspace / "reports" / "junit.xml").read_text()):
        assert SECRET not in text and settings.certificate not in text


@pytest.mark.slow
def test_a_could_not_judge_run_fails_the_step_with_its_summary(runner_kit: RunnerKit, tmp_path: Path) -> None:
    """No credentials against a server behind a login wall: exit 2, the step fails, the summary says why. (The
    install step is the one proved above: the session's runner Python already holds the copy.)"""
    runner = Runner(tmp_path / "work", runner_kit.install())
    with ThreadedServer(CREDENTIAL_CONTROLS["auth-required"](demo_settings())) as server:
        run = runner.run_action({"url": server.url, "strict": "true", "python-version": ""},
                                action_path=runner_kit.action_path, installed=True,
                                setup_python=lambda _: pytest.fail("python-version '' must skip setup-python"))
    assert run.failed and run.outputs["exit-code"] == "2" and run.outputs["verdict"] == "could not judge"
    assert [s.outcome for s in run.steps] == ["skipped", "success", "failure", "skipped"], run.log
    summary = runner.summary.read_text(encoding="utf-8")
    assert summary.startswith("## ⚠️ Token server conformance: could not judge (exit 2)")
    assert "the server requires authentication" in summary


def test_a_failed_install_still_writes_the_summary(tmp_path: Path) -> None:
    """The check never ran (nothing installable at the action's path): the last step says so on the CI page."""
    empty = tmp_path / "not-a-package"
    empty.mkdir()
    runner = Runner(tmp_path / "work", runner_python(tmp_path / "python"))
    run = runner.run_action({}, action_path=empty)
    assert run.failed
    assert [s.outcome for s in run.steps] == ["success", "failure", "skipped", "success"], run.log
    summary = runner.summary.read_text(encoding="utf-8")
    assert summary.startswith("## ⚠️ Token server conformance: could not judge (exit 2)")
    assert f"could not be installed from {empty}" in summary
