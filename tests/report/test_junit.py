"""junit.xml agrees with conformance.json: never green on a run that could not be judged or was interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.contract import REQUIREMENTS
from conformance.report import CaseRecord, report_document, summarize
from conformance.report.junit import NON_GATING, finish_junit

# As pytest writes it: cases in run order (EXPIRY first), its suite name, internal paths in skip texts.
PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="token-conformance" \
errors="0" failures="2" skipped="1" tests="4" time="1.0"><testcase classname="conformance.suite.test_expiry" name="EXPIRY-1" \
time="0.5" /><testcase classname="conformance.suite.test_route" name="ROUTE-1" time="0.000"><failure message="boom">ROUTE-1 \
details</failure></testcase><testcase classname="conformance.suite.test_route" name="ROUTE-2" time="0.001"><skipped \
type="pytest.skip" message="no certificate">conformance/suite/_support.py:32: no certificate</skipped></testcase>\
<testcase classname="conformance.suite.test_route" name="SHOULDCASE" time="0.001"><failure message="meh">details\
</failure></testcase></testsuite></testsuites>"""


def _records(outcomes: dict[str, str], messages: dict[str, str] | None = None) -> list[CaseRecord]:
    records = []
    for req in REQUIREMENTS:
        if req.id in outcomes:
            rec = CaseRecord.for_requirement(req)
            rec.outcome = outcomes[req.id]
            rec.message = (messages or {}).get(req.id, "")
            records.append(rec)
    return records


def _document(records: list[CaseRecord], **kw: object) -> dict[str, object]:
    summary = summarize(records, strict=False, contract_ids=tuple(r.id for r in REQUIREMENTS), **kw)  # type: ignore[arg-type]
    return report_document("http://127.0.0.1:1", {"name": "agora-token-service"}, summary, records)


def _cases(path: Path) -> list[tuple[str, str]]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    out = []
    for tc in suite.findall("testcase"):
        kind = next((child.tag for child in tc if child.tag in ("failure", "error", "skipped")), "passed")
        out.append((tc.get("name", ""), kind))
    return out


def test_unjudged_run_with_no_test_is_an_error_not_green(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="x" '
                    'errors="0" failures="0" skipped="0" tests="0" /></testsuites>', encoding="utf-8")
    doc = _document(_records({r.id: "not run" for r in REQUIREMENTS}), abort_reason="the target refuses: 401")
    finish_junit(path, doc)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert root.get("name") == suite.get("name") == "token-conformance"  # type: ignore[union-attr]
    assert suite.get("errors") == "1" and suite.get("tests") == str(len(REQUIREMENTS) + 1)  # type: ignore[union-attr]
    verdict = suite.find("testcase[@name='verdict']/error")  # type: ignore[union-attr]
    assert verdict is not None and verdict.get("message") == "COULD NOT JUDGE (exit 2): the target refuses: 401"
    assert [name for name, _ in _cases(path)] == [r.id for r in REQUIREMENTS] + ["verdict"]  # contract order
    assert {kind for name, kind in _cases(path) if name != "verdict"} == {"skipped"}


def test_pytest_file_is_reordered_and_non_gating_failures_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    should = next(r.id for r in REQUIREMENTS if r.level.value == "SHOULD" and r.id not in ("ROUTE-1", "ROUTE-2"))
    path.write_text(PYTEST_JUNIT.replace("SHOULDCASE", should), encoding="utf-8")
    records = _records({"ROUTE-1": "failed", "ROUTE-2": "skipped", "EXPIRY-1": "passed", should: "failed"},
                       {should: "SHOULD details\nmore"})
    doc = _document(records)
    finish_junit(path, doc)
    finish_junit(path, doc)  # twice: the same file
    order = [r.id for r in REQUIREMENTS if r.id in {"ROUTE-1", "ROUTE-2", "EXPIRY-1", should}]
    assert _cases(path) == [(i, {"ROUTE-1": "failure", "ROUTE-2": "skipped", "EXPIRY-1": "passed",
                                 should: "skipped"}[i]) for i in order] + [("verdict", "failure")]
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped"), suite.get("tests")) == ("2", "2", "5")
    skipped = suite.find(f"testcase[@name='{should}']/skipped")
    assert skipped is not None and skipped.get("type") == NON_GATING
    assert skipped.get("message") == "SHOULD failure, not gating without --strict: SHOULD details"
    assert suite.find("testcase[@name='ROUTE-2']/skipped").text == "no certificate"  # type: ignore[union-attr]
    assert "_support.py" not in path.read_text(encoding="utf-8")


def test_check_against_an_unreachable_target_writes_a_red_junit(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    result = subprocess.run([sys.executable, "-m", "conformance", "check", "http://127.0.0.1:1", "--report-dir", "D"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    suite = ET.parse(tmp_path / "D" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    error = suite.find("testcase[@name='verdict']/error")
    assert error is not None and error.get("message", "").startswith("COULD NOT JUDGE (exit 2): ")
    assert len(suite.findall("testcase/skipped[@type='not run']")) == len(REQUIREMENTS)


def test_cases_run_ahead_of_their_turn_report_their_own_duration(tmp_path: Path) -> None:
    # Under the default concurrency the ROUTE cases run in background threads; their pytest call only collects
    # the outcome (~0 s). The reports give each case the time it took.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    result = subprocess.run([sys.executable, "-m", "conformance", "check", "--case", "ROUTE", "--report-dir", "D"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    import json

    doc = json.loads((tmp_path / "D" / "conformance.json").read_text(encoding="utf-8"))
    ran = [c for c in doc["cases"] if c["outcome"] == "passed"]
    assert ran and all(c["duration_s"] >= 0.0005 for c in ran), [(c["id"], c["duration_s"]) for c in ran]
    suite = ET.parse(tmp_path / "D" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    times = {tc.get("name"): float(tc.get("time") or 0) for tc in suite.findall("testcase")}
    assert all(times[c["id"]] >= 0.0005 for c in ran), times
