"""The clone's pytest settings work without the test extra (pytest-timeout) too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_unknown_option_warning_without_pytest_timeout() -> None:
    # -p no:timeout stands for an install without the test extra; the README's plain-pytest command, from the root.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:timeout", "-p", "no:xdist", "--pyargs", "conformance.suite",
         "--collect-only", "-q", "--token-server-url", "http://127.0.0.1:9"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Unknown config option" not in result.stdout + result.stderr
