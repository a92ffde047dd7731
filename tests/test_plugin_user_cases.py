"""Your own tests marked ``must`` / ``should`` / ``may`` / ``requirement(id)`` join the verdict and the reports.

Driven as a user drives it (docs/plugin.md): the bundled suite and a test file of yours in one pytest run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_plugin import run_suite

EXAMPLE = Path(__file__).parent / "examples" / "test_my_server.py"

FAILING = '''
import pytest


@pytest.mark.must
@pytest.mark.requirement("MY-9", sentence="The lobby is closed on Sundays.")
def test_lobby_closed(token_target):
    """Lobby closed on Sundays"""
    fetched = token_target.fetch_rtc(channel="lobby")
    assert fetched.token is None, "a token was issued for the lobby"


@pytest.mark.should
def test_unlabelled_should():
    """A SHOULD of ours that fails"""
    assert False, "nope"
'''


def _doc(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "reports" / "conformance.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_worked_example_joins_the_verdict(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "test_my_server.py")
    result = run_suite(tmp_path, "test_my_server.py", "--token-case", "ROUTE-1", "--token-report-dir", "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = _doc(tmp_path)
    cases = {c["id"]: c for c in doc["cases"]}  # type: ignore[attr-defined]
    assert list(cases) == ["ROUTE-1", "MY-1", "MY-2", "MY-3"]  # contract order, then yours in file order
    assert {k: (c["level"], c["outcome"]) for k, c in cases.items()} == {
        "ROUTE-1": ("MUST", "passed"), "MY-1": ("MUST", "passed"), "MY-2": ("SHOULD", "passed"),
        "MY-3": ("MAY", "passed"),
    }
    assert cases["MY-1"]["title"] == "Lobby tokens are bound to their channel and uid"
    assert cases["MY-1"]["requirement"] == "A publisher asking for channel 'lobby' and uid 7 gets a token for both."
    assert cases["MY-1"]["section"] == "MY"
    assert "MY-1        MUST   passed   Lobby tokens are bound to their channel and uid" in result.stdout
    assert "your cases" in (tmp_path / "reports" / "conformance.html").read_text(encoding="utf-8")


def test_a_failing_must_of_yours_makes_the_server_not_conforming(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(FAILING, encoding="utf-8")
    result = run_suite(tmp_path, "test_mine.py", "--token-case", "ROUTE-1", "--token-report-dir", "reports")
    assert result.returncode == 1, result.stdout + result.stderr
    doc = _doc(tmp_path)
    summary = doc["summary"]
    assert summary["verdict"] == "not conforming"  # type: ignore[index]
    assert summary["failed_by_level"]["MUST"] == ["MY-9"]  # type: ignore[index]
    # Unmarked with requirement(): the test's name is its id; a SHOULD does not gate without --strict.
    assert summary["failed_by_level"]["SHOULD"] == ["test_unlabelled_should"]  # type: ignore[index]
    assert "verdict: NOT CONFORMING (exit 1) - 1 gating failure(s): MY-9" in result.stdout
    failed = next(c for c in doc["cases"] if c["id"] == "MY-9")  # type: ignore[attr-defined]
    assert "a token was issued for the lobby" in failed["message"]


def test_marked_tests_alone_stay_plain_pytest(tmp_path: Path) -> None:
    # No bundled case in the run: the plugin stays inert, no verdict, no report, pytest's own exit code.
    (tmp_path / "test_mine.py").write_text(FAILING, encoding="utf-8")
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_mine.py",
                             "--token-report-dir", "reports"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict:" not in result.stdout
    assert not (tmp_path / "reports").exists()


def test_every_fixture_of_the_plugin_is_documented(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    section = result.stdout.split("fixtures defined from conformance.plugin", 1)[1].split("\n---", 1)[0]
    names = [line.split()[0] for line in section.splitlines() if line and not line.startswith((" ", "-"))]
    assert {"token_target", "token_client", "token_server_url", "token_profile", "token_decoder"} <= set(names)
    assert "no docstring" not in section, section
