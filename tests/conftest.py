"""Fixtures shared by test modules: the emulated CI runner's kit (tests/ci_runner.py), made once per session."""

from __future__ import annotations

import pytest

from tests.ci_runner import RunnerKit, copy_checkout, runner_python


@pytest.fixture(scope="session")
def runner_kit(tmp_path_factory: pytest.TempPathFactory) -> RunnerKit:
    """A copy of this checkout and a runner Python, shared by tests/test_action.py and tests/test_ci_recipes.py
    (one per xdist worker: a worker runs its tests one at a time, so installs into it never overlap)."""
    root = tmp_path_factory.mktemp("runner-kit")
    return RunnerKit(copy_checkout(root / "token-conformance"), runner_python(root / "python"))
