"""docs/plugin.md's fixture examples run: every ```python block of its "Fixtures" section, as one test file of a
user's, in a plain pytest run against the embedded reference server (as a user runs their own file)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin.md"
FIXTURES = ("token_target", "token_client", "token_server_url", "token_profile", "token_decoder")


def test_every_fixture_example_of_the_docs_runs(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Fixtures", 1)[1].split("## Your own cases", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    code = "\n\n".join(blocks)
    for fixture in FIXTURES:  # each fixture has an example of its own
        assert re.search(rf"def test_{fixture}\(", code), fixture
    assert ".rtc.grants(" in code
    (tmp_path / "test_from_docs.py").write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_from_docs.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(FIXTURES) + 1} passed" in proc.stdout, proc.stdout
