"""docs/ci.md: the recipes parse, use only options the commands accept, and their shell commands run as written
(tests/ci_runner.py stands in for the runner) against loopback servers: the GitHub job with the action, twice, with
the baseline kept between runs; its load step; the GitLab job, twice, with its artifacts API answered on loopback.
They run on the session's runner Python (tests/conftest.py): the action's install step is proved in
tests/test_action.py and stood in for here; the GitLab job's install line runs as written in its first job.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.cli import build_parser
from conformance.reference.app import create_app, demo_settings
from conformance.reference.threaded import ThreadedServer
from tests.ci_runner import ACTION, Runner, RunnerKit, condition, expand, installed_from
from tests.faulty.servers import FAULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"
SETTINGS = demo_settings()
#: An unknown role silently issued a subscriber token: INPUT-1 (SHOULD) fails, everything else passes.
DOWNGRADE = next(f for f in FAULTS if f.key == "role-downgraded")
#: The recipes' checks judge every case; here, the sections the baseline and gate proofs need (INPUT-1 is the
#: regression), as the load step is run shorter: a full check is 2-3 times as long. That the reference passes
#: every case is tests/suite/test_reference_passes.py's; the gate's verdicts on full runs, tests/cli/test_check_baseline.py's.
NARROW = "--case ROUTE,INPUT"


def blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)]


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def options_of(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[attr-defined]
    return {opt for action in sub._actions for opt in action.option_strings}


def test_recipes_parse_and_use_real_options() -> None:
    docs = blocks()
    assert len(docs) == 3  # GitHub workflow, its load step, GitLab job
    used: dict[str, set[str]] = {"check": set(), "load": set()}
    action_script = "\n".join(s.get("run", "") for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"])
    for text in [*(t for d in docs for t in strings(d)), action_script.replace("args=(check)", "token-conformance check")]:
        for command, rest in re.findall(r"token-conformance (check|load)\b(.*)", text, flags=re.S):
            used[command] |= set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest))
    assert {"--baseline", "--report-dir", "--app-id", "--summary-md", "--gate", "--strict", "--profile"} <= used["check"]
    assert "--baseline" in used["load"]
    for command, opts in used.items():
        assert opts <= options_of(command), (command, opts - options_of(command))
    assert not any("pip install token-conformance" in t for d in docs for t in strings(d))  # not on PyPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- GitHub Actions ----------------------------------------------------------------------------------------------

def github_job(runner: Runner, context: dict[str, str], cache: dict[str, Path], action_path: Path) -> dict[str, Any]:
    """The recipe's job, step by step as the runner takes it. The cache steps are a folder copy (restore the newest
    entry whose key starts with a restore key; save under the key), upload-artifact a look at the path. The
    action's install step is not run again: the runner's Python already holds ``action_path`` (tests/test_action.py
    proves that step)."""
    job = blocks()[0]["jobs"]["conformance"]
    failed, outcomes, uploaded, action_run = False, {}, {}, None
    for step in job["steps"]:
        name = step.get("id") or step.get("name") or step.get("uses")
        if not condition(step.get("if", "success()"), context, outcomes, failed):
            outcomes[name] = "skipped"
            continue
        uses, with_ = step.get("uses", ""), {k: expand(str(v), context) for k, v in step.get("with", {}).items()}
        ok = True
        if uses.startswith("actions/cache/restore@"):
            hits = sorted(k for k in cache if k == with_["key"] or k.startswith(with_["restore-keys"]))
            if hits:
                shutil.copytree(cache[hits[-1]], runner.workspace / with_["path"], dirs_exist_ok=True)
        elif uses.startswith("actions/cache/save@"):
            saved = runner.workspace.parent / f"cache-{len(cache)}"
            shutil.copytree(runner.workspace / with_["path"], saved)
            cache[with_["key"]] = saved
        elif uses.startswith("actions/upload-artifact@"):
            uploaded[with_["name"]] = sorted(p.name for p in (runner.workspace / with_["path"]).iterdir())
        elif uses.startswith("<owner>/token-conformance@"):
            env = {k: expand(str(v), context) for k, v in step.get("env", {}).items()}
            assert "args" not in with_, with_  # the recipe passes none: the narrowing below adds, never replaces
            action_run = runner.run_action({**with_, "args": NARROW}, env=env, action_path=action_path, installed=True)
            ok = not action_run.failed
        else:
            assert "run" in step and not uses, step
            code, _output, _ = runner.shell(expand(step["run"], context), {})
            ok = code == 0
        outcomes[name] = "success" if ok else "failure"
        failed = failed or not ok
    return {"failed": failed, "outcomes": outcomes, "uploaded": uploaded, "action": action_run}


@pytest.mark.slow
def test_github_recipe_keeps_a_baseline_and_fails_the_job_on_a_should_regression(
        runner_kit: RunnerKit, tmp_path: Path) -> None:
    action_path, python_bin = runner_kit.action_path, runner_kit.install()
    port, cache = free_port(), {}
    context = {"vars.STAGING_URL": f"http://127.0.0.1:{port}", "vars.AGORA_APP_ID": SETTINGS.app_id,
               "secrets.TOKEN_SERVER_APP_CERTIFICATE": SETTINGS.certificate, "secrets.TOKEN_SERVER_HEADERS": "",
               "github.ref_name": "main"}

    # First deploy: the reference. No baseline yet; the run passes and becomes the baseline.
    first = Runner(tmp_path / "run1", python_bin)
    with ThreadedServer(create_app(SETTINGS), port=port):
        job = github_job(first, {**context, "github.run_id": "1"}, cache, action_path)
    assert not job["failed"], job["action"].log if job["action"] else job
    assert "no baseline at conformance-baseline/conformance.json yet" in job["action"].log
    assert list(cache) == ["conformance-baseline-main-1"]
    assert job["uploaded"] == {"conformance-reports": ["conformance.html", "conformance.json", "junit.xml"]}

    # Second deploy silently downgrades unknown roles: INPUT-1 (SHOULD) regresses; the job fails without --strict.
    second = Runner(tmp_path / "run2", python_bin)
    with ThreadedServer(DOWNGRADE.make(SETTINGS), port=port):
        job = github_job(second, {**context, "github.run_id": "2"}, cache, action_path)
    action = job["action"]
    assert job["failed"] and action.outputs["exit-code"] == "1", action.log
    assert action.outputs["verdict"] == "conforming"  # the run's own verdict: a SHOULD failure does not gate it
    assert "gate: FAIL (exit 1) - 1 gating regression(s): INPUT-1" in action.log
    # The reports are uploaded all the same; the failed run does not become the baseline.
    assert job["outcomes"]["actions/upload-artifact@v4"] == "success" and "conformance-reports" in job["uploaded"]
    assert job["outcomes"]["keep this run as the next baseline"] == "skipped" and list(cache) == ["conformance-baseline-main-1"]
    summary = second.summary.read_text(encoding="utf-8")
    assert "gate on MUST and SHOULD regressions: fail (exit 1)" in summary and "INPUT-1 [SHOULD] passed → failed (gating)" in summary


@pytest.mark.slow
def test_github_load_step_runs_as_written(runner_kit: RunnerKit, tmp_path: Path) -> None:
    """The load step's command, with a shorter run (--run-time 8s --users 5 for 60s / 20: a test stays short); the
    rest as written, first without a baseline, then with the first run's load.json as one. It follows the action
    in the job: the runner's Python holds the checkout's copy."""
    runner = Runner(tmp_path / "job", runner_kit.install())
    script = blocks()[1][0]["run"]
    assert "--users 20 --run-time 60s" in script
    script = script.replace("--users 20 --run-time 60s", "--users 5 --run-time 8s")  # renewals come after ~5 s
    with ThreadedServer(create_app(SETTINGS)) as server:
        context = {"vars.STAGING_URL": server.url}
        code, output, _ = runner.shell(expand(script, context), {"TOKEN_SERVER_APP_CERTIFICATE": SETTINGS.certificate})
        assert code in (0, 1), output  # 1 only if this shared machine breached an SLO: judged either way
        doc = json.loads((runner.workspace / "load" / "load.json").read_text(encoding="utf-8"))
        assert doc["requests"] > 0 and doc["renew"]["requests"] > 0 and "baseline" not in doc
        shutil.copytree(runner.workspace / "load", runner.workspace / "load-baseline")
        code, output, _ = runner.shell(expand(script, context), {"TOKEN_SERVER_APP_CERTIFICATE": SETTINGS.certificate})
    doc = json.loads((runner.workspace / "load" / "load.json").read_text(encoding="utf-8"))
    assert isinstance(doc.get("baseline"), dict), output  # the second run compared itself with the first
    assert code in (0, 1), output


# --- GitLab CI ---------------------------------------------------------------------------------------------------

class ArtifactsApi:
    """GitLab's ``GET /projects/:id/jobs/artifacts/:ref/download?job=NAME`` on loopback: the zip of the last
    successful job's artifact paths, 404 before there is one, 401 without the job token."""

    def __init__(self, token: str) -> None:
        self.token, self.latest = token, None

    def keep(self, workspace: Path, paths: list[str]) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for pattern in paths:
                for f in sorted((workspace / pattern).rglob("*")):
                    if f.is_file():
                        z.write(f, f.relative_to(workspace).as_posix())
        self.latest = buffer.getvalue()

    def app(self) -> Starlette:
        async def download(request: Request) -> Response:
            if request.headers.get("JOB-TOKEN") != self.token:
                return Response(status_code=401)
            if self.latest is None or request.query_params.get("job") != "token-conformance":
                return Response(status_code=404)
            return Response(self.latest, media_type="application/zip")

        return Starlette(routes=[Route("/api/v4/projects/{project}/jobs/artifacts/{ref}/download", download)])


def gitlab_job(runner: Runner, job: dict[str, Any], env: dict[str, str], repo: Path, *,
               installed: bool = False) -> tuple[int, str]:
    """The job's script as the runner runs it (one shell, stop at the first failing line), the install line with
    the checkout's path for the git+https URL, which cannot be fetched from here, the check narrowed (NARROW). ``installed=True``: the runner's
    Python already holds ``repo``, installed by this same line in an earlier job (checked), which is left out."""
    lines = [line.strip() for line in job["script"]]
    url = re.search(r'"(git\+https://[^"]+)"', lines[0])
    assert url and "@v" in url.group(1), lines[0]  # a tag, not a branch
    lines[0] = lines[0].replace(url.group(1), str(repo))
    assert lines[-1].startswith("token-conformance check "), lines[-1]
    lines[-1] += f" {NARROW}"
    if installed:
        assert "pip install" in lines[0] and installed_from(runner.python_bin) == repo.resolve(), lines[0]
        lines = lines[1:]
    code, output, _ = runner.shell("\n".join(lines) + "\n", {**job["variables"], **env})
    return code, output


@pytest.mark.slow
def test_gitlab_recipe_keeps_a_baseline_through_the_artifacts_api(runner_kit: RunnerKit, tmp_path: Path) -> None:
    repo, python_bin = runner_kit.action_path, runner_kit.python_bin
    job = blocks()[2]["token-conformance"]
    assert job["image"] == "python:3.12"  # git (for git+https) and curl (for the baseline) are in it; -slim has neither
    api = ArtifactsApi(token="job-token-1")
    port = free_port()
    with ThreadedServer(api.app()) as gitlab:
        env = {"CI_JOB_TOKEN": api.token, "CI_API_V4_URL": f"{gitlab.url}/api/v4", "CI_PROJECT_ID": "7",
               "CI_COMMIT_REF_NAME": "main", "STAGING_URL": f"http://127.0.0.1:{port}", "AGORA_APP_ID": SETTINGS.app_id,
               "TOKEN_SERVER_APP_CERTIFICATE": SETTINGS.certificate}
        first = Runner(tmp_path / "job1", python_bin)
        with ThreadedServer(create_app(SETTINGS), port=port):
            code, output = gitlab_job(first, job, env, repo)  # its install line runs as written
        assert code == 0, output
        assert installed_from(python_bin) == repo.resolve()
        assert "no baseline yet: plain verdict" in output
        assert (first.workspace / "reports" / "summary.md").read_text(encoding="utf-8").startswith("## ✅")
        api.keep(first.workspace, job["artifacts"]["paths"])  # a successful job: its artifacts serve as the baseline

        second = Runner(tmp_path / "job2", python_bin)
        with ThreadedServer(DOWNGRADE.make(SETTINGS), port=port):
            code, output = gitlab_job(second, job, env, repo, installed=True)
    assert code == 1, output
    assert (second.workspace / "last" / "reports" / "conformance.json").is_file()
    assert "gate: FAIL (exit 1) - 1 gating regression(s): INPUT-1" in output
    summary = (second.workspace / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "gate on MUST and SHOULD regressions: fail (exit 1)" in summary
    assert (second.workspace / "reports" / "junit.xml").is_file()  # artifacts.reports.junit
