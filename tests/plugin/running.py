"""Running the bundled suite as a user does: ``python -m pytest --pyargs conformance.suite`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Plugins the suite does not use, turned off as ``token-conformance check`` does: a run costs about a second.
UNUSED_PLUGINS = ("schemathesis", "hypothesispytest", "anyio", "benchmark", "locust", "xdist")


def run_suite(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, ini: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest --pyargs conformance.suite ARGS`` in ``tmp_path``, with a clean environment."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider",
           "-W", "ignore::DeprecationWarning"]
    for plugin in UNUSED_PLUGINS:
        cmd += ["-p", f"no:{plugin}"]
    return subprocess.run([*cmd, *args], cwd=tmp_path, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=120, check=False)
