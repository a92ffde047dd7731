"""The README's Quickstart: two shell commands a newcomer can paste, the second being exactly what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SHELLS = {"sh", "bash", "shell", "console", "zsh"}


def quickstart() -> str:
    assert README.is_file(), "README.md is missing"
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## Quickstart\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, "README.md has no '## Quickstart' section"
    return m.group(1)


def commands() -> list[str]:
    blocks = FENCE.findall(quickstart())
    out = []
    for lang, body in blocks:
        assert lang in SHELLS, f"a Quickstart block is fenced as {lang!r}, not as shell"
        lines = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]
        assert len(lines) == 1, f"one command per block, not {lines}"
        out.append(lines[0].removeprefix("$ "))
    return out


def test_quickstart_has_exactly_two_shell_commands() -> None:
    cmds = commands()
    assert len(cmds) == 2, cmds
    assert all(c for c in cmds)


def test_second_command_is_what_ci_runs() -> None:
    second = commands()[1]
    assert CI.is_file(), ".ci/run is missing"
    ci_lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    assert second in ci_lines, f"{second!r} is not a line of .ci/run"


def test_ci_lints_and_type_checks_after_the_install_and_before_the_tests() -> None:
    """A lint or type error fails CI, and is reported before the long test run."""
    steps = [step.strip() for step in commands()[1].split("&&")]
    ruff = ".venv/bin/ruff check conformance loadtests tests benchmarks tools"
    mypy = ".venv/bin/mypy conformance loadtests"
    assert ruff in steps and mypy in steps, steps
    install = next(i for i, step in enumerate(steps) if "pip install" in step)
    tests = next(i for i, step in enumerate(steps) if step.startswith(".venv/bin/pytest"))
    assert install < steps.index(ruff) < tests and install < steps.index(mypy) < tests, steps
