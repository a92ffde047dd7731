"""A small stand-in for the GitHub Actions and GitLab CI runners: run the shell commands of action.yml and of
docs/ci.md's recipes as written, on this machine, against loopback servers.

What a runner does and this does too: each ``run:`` step in ``bash --noprofile --norc -eo pipefail`` (GitHub's
``shell: bash``) with the step's ``env:``; ``${{ ... }}`` expressions replaced by their values before the script
runs (an expression this module has no value for is an error, never an empty string); ``$GITHUB_OUTPUT``,
``$GITHUB_STEP_SUMMARY``, ``$GITHUB_ACTION_PATH`` and ``$RUNNER_TEMP`` as files and folders; ``if:`` conditions
with ``success()``, ``failure()``, ``always()``, ``==``, ``!=``, ``&&``, ``||``; step outcomes and outputs.

What it does not do, and the tests say so where it matters: ``uses:`` steps of other actions (setup-python, cache,
upload-artifact) are not run; each test stands in for the one it meets (the Python on PATH for setup-python, a
folder copy for the cache, a look at the uploaded path for upload-artifact). The action's own repository is a copy
of this checkout, as the runner's download of ``<owner>/token-conformance@<ref>`` would be.

Installing the checkout is the slow part (an isolated build: 20-60 s on this shared 2-core machine), so a test
session installs it once per runner Python (``RunnerKit``): tests/test_action.py proves the action's install step
on a fresh Python; the other runs of the action, on the kit's Python that already holds that same copy, may stand
in for that one step (``run_action(..., installed=True)``), after checking that the copy really is installed there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
#: A bound on every step: nothing here may hang a test run.
STEP_TIMEOUT_S = 300.0


def expand(text: str, context: Mapping[str, str]) -> str:
    """``${{ name }}`` replaced by ``context[name]``, as the runner does before a script runs. A step output that
    was never set is the empty string (the runner's rule); any other unknown name is an error here."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context and re.fullmatch(r"steps\.[\w-]+\.outputs\.[\w-]+", name):
            return ""
        if name not in context:
            raise KeyError(f"no value for ${{{{ {name} }}}} (the emulated runner knows {sorted(context)})")
        return context[name]

    return EXPRESSION.sub(value, text)


def condition(expr: str, context: Mapping[str, str], outcomes: Mapping[str, str], failed: bool) -> bool:
    """An ``if:`` of the forms the action and the recipes use, evaluated as the runner does."""
    text = EXPRESSION.sub(lambda m: m.group(1), str(expr))
    text = re.sub(r"steps\.([\w-]+)\.outcome", lambda m: repr(outcomes.get(m.group(1), "")), text)
    text = re.sub(r"\b(inputs|github|vars)\.[\w.-]+", lambda m: repr(context[m.group(0)]), text)
    text = text.replace("&&", " and ").replace("||", " or ").replace("!=", "\0").replace("!", " not ")
    text = text.replace("\0", " != ")
    names = {"success": lambda: not failed, "failure": lambda: failed, "always": lambda: True,
             "cancelled": lambda: False}
    return bool(eval(text, {"__builtins__": {}}, names))  # only the names above; the text is ours (action.yml)


@dataclass
class Step:
    name: str
    outcome: str  # success, failure, skipped (the runner's words)
    returncode: int | None = None
    output: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Runner:
    """One job's runner: a workspace, a temp folder, the step summary file and the Python on PATH."""

    workspace: Path
    python_bin: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.temp = self.workspace.parent / f"{self.workspace.name}-runner-temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.summary = self.temp / "step_summary.md"
        self.summary.touch()

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_", "GITHUB_", "PIP_REQ"))}
        env.update(self.env)
        # The runner's Python first; no activated virtual environment of the developer's behind it.
        active = os.environ.get("VIRTUAL_ENV")
        path = [p for p in env.get("PATH", "").split(os.pathsep) if not (active and p.startswith(active))]
        env["PATH"] = os.pathsep.join([str(self.python_bin), *path])
        env.update(GITHUB_STEP_SUMMARY=str(self.summary), RUNNER_TEMP=str(self.temp), GITHUB_WORKSPACE=str(self.workspace),
                   CI="true", GITHUB_ACTIONS="true")
        env.pop("VIRTUAL_ENV", None)
        return env

    def shell(self, script: str, env: Mapping[str, str], *, extra_env: Mapping[str, str] = ()) -> tuple[int, str, dict[str, str]]:  # type: ignore[assignment]
        """``shell: bash`` as GitHub runs it: the script from a file, -e and pipefail; its outputs."""
        output_file = self.temp / "github_output"
        output_file.write_text("", encoding="utf-8")
        script_file = self.temp / "step.sh"
        script_file.write_text(script, encoding="utf-8")
        full = {**self.base_env(), **dict(extra_env), **dict(env), "GITHUB_OUTPUT": str(output_file)}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)], cwd=self.workspace,
                              env=full, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False)
        outputs = dict(line.split("=", 1) for line in output_file.read_text(encoding="utf-8").splitlines() if "=" in line)
        return proc.returncode, proc.stdout + proc.stderr, outputs

    def run_action(self, inputs: Mapping[str, str], *, env: Mapping[str, str] = (),  # type: ignore[assignment]
                   action_path: Path, setup_python: Callable[[Mapping[str, Any]], None] | None = None,
                   installed: bool = False) -> ActionRun:
        """``uses: <owner>/token-conformance@<ref>`` with ``with: inputs`` and ``env: env``: every step of
        action.yml in order, with its ``if:``; the ``uses:`` setup-python step is checked, not run (the Python on
        PATH stands in for it).

        ``installed=True``: this runner's Python already holds token-conformance installed from ``action_path``
        (checked here: an error otherwise), so the install step is not run again: it is recorded as a success whose
        output says so, and the steps after it run the copy installed there. Only a test that is not about the
        install step may ask for it (tests/test_action.py proves that step on a fresh Python)."""
        if installed:
            where = installed_from(self.python_bin)
            if where != action_path.resolve():
                raise AssertionError(f"installed=True, but {self.python_bin} holds token-conformance from {where}, "
                                     f"not from {action_path}")
        action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        declared = action["inputs"]
        unknown = set(inputs) - set(declared)
        if unknown:
            raise ValueError(f"action.yml has no input(s) {sorted(unknown)}")  # the runner warns; a test must not pass
        values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        values.update({k: str(v) for k, v in inputs.items()})
        context = {f"inputs.{k}": v for k, v in values.items()} | {"github.action_path": str(action_path)}
        run = ActionRun()
        failed = False
        for raw in action["runs"]["steps"]:
            name = raw.get("name", raw.get("id", "?"))
            # A step without ``if:`` runs only while nothing failed (the runner's implicit success()).
            if not condition(raw.get("if", "success()"), context, {s.name: s.outcome for s in run.by_id.values()},
                             failed):
                step = Step(name, "skipped")
            elif installed and "pip install" in raw.get("run", ""):
                step = Step(name, "success", 0, f"(not run again: {self.python_bin} already holds token-conformance "
                                                 f"installed from {action_path} by this step)")
            elif "uses" in raw:
                assert raw["uses"].startswith("actions/setup-python@"), raw
                if setup_python is not None:
                    setup_python({k: expand(str(v), context) for k, v in raw.get("with", {}).items()})
                step = Step(name, "success")
            else:
                step_env = {k: expand(str(v), context) for k, v in raw.get("env", {}).items()}
                code, output, outputs = self.shell(expand(raw["run"], context), step_env,
                                                   extra_env={**dict(env), "GITHUB_ACTION_PATH": str(action_path)})
                step = Step(name, "success" if code == 0 else "failure", code, output, outputs)
                failed = failed or code != 0
            run.steps.append(step)
            if "id" in raw:
                run.by_id[raw["id"]] = Step(raw["id"], step.outcome, step.returncode, step.output, step.outputs)
                context.update({f"steps.{raw['id']}.outputs.{k}": v for k, v in step.outputs.items()})
        run.outputs = {k: expand(str(spec["value"]), context) for k, spec in action.get("outputs", {}).items()}
        run.failed = failed
        return run


@dataclass
class ActionRun:
    steps: list[Step] = field(default_factory=list)
    by_id: dict[str, Step] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    failed: bool = False

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name}: {s.outcome}\n{s.output}" for s in self.steps)


def copy_checkout(dest: Path) -> Path:
    """This checkout as the runner downloads an action at a ref: the repository's files (tracked and new, not the
    ignored ones: no .venv, no build/), so concurrent installs never share a build folder."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def runner_python(dest: Path) -> Path:
    """A fresh virtual environment standing in for the runner's Python (what actions/setup-python or the image
    provides). Its site-packages sees this environment's dependencies (a .pth line) so that ``pip install`` of
    the checkout installs token-conformance itself into it without downloading its dependencies again; the
    package it then runs is the one just installed from the copy, not this checkout's editable install. pip too
    comes through that line (``python -m pip`` installs into the runner's environment, the one running it): a
    venv without its own pip takes 0.2 s to make, with one 10-15 s here."""
    import venv

    venv.EnvBuilder(with_pip=False).create(dest)
    bin_dir = dest / "bin"
    # pip's own console scripts, as a venv with pip has them: a recipe's bare ``pip install`` must reach this
    # Python's pip, never another pip further down PATH (pyenv's, the system's).
    for name in ("pip", "pip3"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{bin_dir / "python"}" -m pip "$@"\n', encoding="utf-8")
        script.chmod(0o755)
    purelib = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "runner-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return bin_dir


def installed_from(python_bin: Path) -> Path | None:
    """The folder token-conformance was installed from into the Python of ``python_bin`` (pip's direct_url.json),
    None when it is not installed there (this checkout's editable install, seen through the .pth line, does not
    count: only a distribution in the runner's own site-packages does)."""
    probe = ("import json, sys, sysconfig\n"
             "from importlib.metadata import distributions\n"
             "site = sysconfig.get_paths()['purelib']\n"
             "found = [d for d in distributions(path=[site]) if d.metadata['Name'] == 'token-conformance']\n"
             "print(found[0].read_text('direct_url.json') if found else 'null')\n")
    out = subprocess.run([str(python_bin / "python"), "-c", probe], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    if doc is None:
        return None
    url = str(doc["url"])
    return Path(url.removeprefix("file://")).resolve()


@dataclass
class RunnerKit:
    """One xdist worker's runner for the whole session: the action's folder (a copy of this checkout) and a runner
    Python, into which ``install()`` installs the copy once (the action's own command), not once per test."""

    action_path: Path
    python_bin: Path

    def install(self) -> Path:
        """The runner's Python bin folder, with token-conformance installed from the copy (once a session)."""
        if installed_from(self.python_bin) != self.action_path.resolve():
            proc = subprocess.run([str(self.python_bin / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                                   "--quiet", str(self.action_path)], capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT_S, check=False)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return self.python_bin
