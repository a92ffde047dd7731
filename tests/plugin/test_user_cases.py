"""Your own tests marked ``must`` / ``should`` / ``may`` / ``requirement(id)`` join the verdict and the reports.

Driven as a user drives it (docs/plugin.md): the bundled suite and a test file of yours in one pytest run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.plugin.running import UNUSED_PLUGINS, run_suite

UNUSED = [p for p in UNUSED_PLUGINS if p != "xdist"]

EXAMPLE = Path(__file__).parents[1] / "examples" / "test_my_server.py"

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
    assert list(cases) == ["ROUTE-1", "MY-1", "MY-2", "MY-3", "MY-4"]  # contract order, then yours in file order
    assert {k: (c["level"], c["outcome"]) for k, c in cases.items()} == {
        "ROUTE-1": ("MUST", "passed"), "MY-1": ("MUST", "passed"), "MY-2": ("SHOULD", "passed"),
        "MY-3": ("MAY", "passed"), "MY-4": ("MUST", "passed"),
    }
    assert cases["MY-1"]["title"] == "Lobby tokens are bound to their channel and uid"
    assert cases["MY-1"]["requirement"] == "A publisher asking for channel 'lobby' and uid 7 gets a token for both."
    assert cases["MY-1"]["section"] == "MY"
    assert "MY-1        MUST   passed   Lobby tokens are bound to their channel and uid" in result.stdout
    assert "your cases" in (tmp_path / "reports" / "conformance.html").read_text(encoding="utf-8")


def test_the_worked_example_catches_a_publisher_token_that_cannot_publish(tmp_path: Path) -> None:
    """MY-4 (``token.rtc.grants("publish_audio")``) against a server whose publisher tokens lack the publish
    privileges: it fails, with the privileges it found, and the server is not conforming."""
    from conformance.reference.app import demo_settings
    from conformance.reference.threaded import ThreadedServer
    from tests.faulty.servers import BY_KEY

    shutil.copy(EXAMPLE, tmp_path / "test_my_server.py")
    with ThreadedServer(BY_KEY["mute-publisher"].make(demo_settings())) as server:
        result = run_suite(tmp_path, "test_my_server.py", "--token-case", "ROUTE-1", "--token-report-dir", "reports",
                           "--token-server-url", server.url, "-k", "ROUTE or publisher")
    assert result.returncode == 1, result.stdout + result.stderr
    cases = {c["id"]: c for c in _doc(tmp_path)["cases"]}  # type: ignore[attr-defined]
    assert cases["MY-4"]["outcome"] == "failed" and cases["ROUTE-1"]["outcome"] == "passed"
    assert "publish_audio_stream among them" in cases["MY-4"]["message"]
    assert "Actual:   ['join_channel']" in cases["MY-4"]["message"]


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


def test_user_cases_under_xdist(tmp_path: Path) -> None:
    # Workers run the cases; the controller builds your cases' records from the reports alone.
    import os
    import subprocess
    import sys

    shutil.copy(EXAMPLE, tmp_path / "test_my_server.py")
    (tmp_path / "test_mine.py").write_text(FAILING, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "test_my_server.py", "test_mine.py",
         "-p", "no:cacheprovider", "-n", "2", "--token-case", "ROUTE-1",
         "--token-report-dir", "reports", *[f"-p no:{p}".split()[i] for p in UNUSED for i in (0, 1)]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    doc = _doc(tmp_path)
    ids = [c["id"] for c in doc["cases"]]  # type: ignore[attr-defined]
    assert ids[0] == "ROUTE-1" and sorted(ids[1:]) == ["MY-1", "MY-2", "MY-3", "MY-4", "MY-9",
                                                       "test_unlabelled_should"]
    assert doc["summary"]["failed_by_level"]["MUST"] == ["MY-9"]  # type: ignore[index]


def test_failure_details_come_in_contract_order() -> None:
    # Cases that wait (EXPIRY-5, PROP-1) run last; pytest prints failure details in run order. The plugin sorts
    # the terminal reporter's lists before it prints them.
    from types import SimpleNamespace

    from conformance.plugin.terminal import contract_order_of_failures

    run_order = ["test_security.py::SEC-2", "test_my.py::test_mine", "test_routes.py::ROUTE-3",
                 "test_expiry.py::EXPIRY-5", "test_property.py::PROP-1", "test_token.py::TOKEN-1"]
    reporter = SimpleNamespace(stats={"failed": [SimpleNamespace(nodeid=n) for n in run_order],
                                      "error": [SimpleNamespace(nodeid="test_property.py::PROP-1"),
                                                SimpleNamespace(nodeid="test_routes.py::ROUTE-1")]})
    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=lambda name: reporter))
    contract_order_of_failures(config)  # type: ignore[arg-type]
    assert [r.nodeid.split("::")[1] for r in reporter.stats["failed"]] == [
        "ROUTE-3", "TOKEN-1", "EXPIRY-5", "SEC-2", "PROP-1", "test_mine"]
    assert [r.nodeid.split("::")[1] for r in reporter.stats["error"]] == ["ROUTE-1", "PROP-1"]


def test_k_selection_is_a_subset_run(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "-k", "ROUTE-1 or ROUTE-2", "--token-report-dir", "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _doc(tmp_path)["summary"]
    assert summary["scope"] == "subset"  # type: ignore[index]
    assert summary["selected"] == ["ROUTE-1", "ROUTE-2"]  # type: ignore[index]
    assert summary["selection"] == "-k 'ROUTE-1 or ROUTE-2'"  # type: ignore[index]
    assert "subset run: 2 case(s) selected by -k 'ROUTE-1 or ROUTE-2', not a full verdict" in result.stdout


def test_a_bad_deviations_file_is_the_reason_not_no_case_ran(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text('{"NOPE-1": "x"}', encoding="utf-8")
    result = run_suite(tmp_path, "--token-case", "ROUTE-1", "--token-deviations", "dev.json",
                       "--token-report-dir", "reports")
    assert result.returncode != 0
    assert "names unknown cases: NOPE-1" in result.stdout + result.stderr
    summary = _doc(tmp_path)["summary"]
    assert summary["verdict"] == "could not judge"  # type: ignore[index]
    assert "names unknown cases: NOPE-1" in summary["reason"]  # type: ignore[index]
